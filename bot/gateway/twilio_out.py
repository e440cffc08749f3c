"""Outbound WhatsApp messages through Twilio's REST API (twilio 9, async client)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.gateway.outbound import Refused
from bot.settings import Settings

# Recent messages to one recipient read when checking an uncertain send (newest first).
RECENT = 50


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


class TwilioProvider:
    """Sends WhatsApp texts (asking for status callbacks) and looks up what Twilio already accepted."""

    def __init__(self, settings: Settings, http_client: RedirectingHttpClient) -> None:
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        self._from = settings.twilio_whatsapp_from
        self._callback = f"{settings.public_url.rstrip('/')}/webhooks/twilio/status"

    async def send(self, to: str, body: str) -> str:
        """Create the message; a 4xx answer (other than 429) is a refusal: Twilio did not accept it."""
        try:
            message = await self._client.messages.create_async(
                to=to, from_=self._from, body=body, status_callback=self._callback
            )
        except TwilioRestException as error:
            if 400 <= error.status < 500 and error.status != 429:
                raise Refused(f"Twilio {error.status} {error.code}: {error.msg}") from error
            raise
        return str(message.sid)

    async def find(self, to: str, body: str, since: datetime, exclude: set[str]) -> str | None:
        """Twilio's newest messages to the recipient: one with this body created since `since`, if any."""
        messages = await self._client.messages.list_async(to=to, from_=self._from, limit=RECENT)
        for message in messages:
            created = message.date_created
            if message.sid in exclude or message.body != body:
                continue
            if created is None or created >= since:
                return str(message.sid)
        return None
