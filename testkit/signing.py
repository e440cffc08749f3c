"""X-Twilio-Signature, computed as Twilio computes it for a webhook (the one signer the tests, bench and
soak use)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends with these form params posted to `url` (the full public URL,
    query string included), signed with the account's auth token."""
    return str(RequestValidator(auth_token).compute_signature(url, params))
