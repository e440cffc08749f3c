"""Outbound WhatsApp messages through Twilio's REST API (twilio 9, async client)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.gateway.outbound import Send
from bot.settings import Settings


class RedirectingHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's async HTTP client, optionally aimed at another base URL (a local fake in tests)."""

    def __init__(self, base_url: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Send the SDK's request, to the configured base when there is one, within the timeout."""
        if self.base_url:
            parts = urlsplit(url)
            url = f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        # The SDK's async client ignores its own timeout (aiohttp then waits forever on a hung API, holding
        # the recipient's queue and the outbox's slot): give it to every request.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return await super().request(method, url, *args, **kwargs)


def twilio_sender(settings: Settings, http_client: RedirectingHttpClient) -> Send:
    """A coroutine function that sends one WhatsApp text and asks for status callbacks."""
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)
    callback = f"{settings.public_url.rstrip('/')}/webhooks/twilio/status"

    async def send(to: str, body: str) -> None:
        await client.messages.create_async(
            to=to, from_=settings.twilio_whatsapp_from, body=body, status_callback=callback
        )

    return send
