"""Outbound WhatsApp messages through Twilio's REST API (twilio 9, async client): free text, options to tap
(Content API, created once per distinct set and kept in the store), the template that reopens a closed
window, and files."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from twilio.base import values
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from bot.gateway.channels.whatsapp.errors import CONTENT_UNKNOWN, WINDOW_CLOSED
from bot.gateway.outbound import REOPEN, OutboundText, Refused
from bot.settings import Settings
from bot.store.db import in_store
from bot.store.models import ContentTemplate

log = logging.getLogger("bot.gateway.whatsapp")

# Recent messages to one recipient read when checking an uncertain send (newest first).
RECENT = 50
# WhatsApp's customer-service window: free-form messages reach a customer this long after their last one.
WINDOW = timedelta(hours=24)
# A content Twilio refused as unknown even just after it was created again (credentials that cannot use
# content, say) goes out as numbered text for this long before it is tried again, instead of costing
# every message with options four requests and an orphan content.
CONTENT_REFUSED_SECONDS = 600.0


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
        # It also form-encodes a JSON body it labels application/json (the Content API's create), which
        # Twilio refuses with a 400 (twilio/twilio-python#932): send it as the JSON it says it is.
        headers = kwargs.get("headers") or {}
        data = kwargs.get("data")
        if isinstance(data, dict) and "json" in str(headers.get("Content-Type", "")).lower():
            kwargs["data"] = json.dumps(_without_nulls(data), ensure_ascii=False)
        return await super().request(method, url, *args, **kwargs)


def _without_nulls(value: Any) -> Any:
    """The SDK fills every content type it knows with null; send only the ones given."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _refusal(error: TwilioRestException) -> Refused | None:
    """A 4xx answer (other than 429) is a refusal: Twilio did not accept the message. Anything else (None)
    leaves it unknown."""
    if 400 <= error.status < 500 and error.status != 429:
        code = None if error.code is None else str(error.code)
        return Refused(f"Twilio {error.status} {code}: {error.msg}", code, code in WINDOW_CLOSED)
    return None


def content_key(definition: dict[str, Any]) -> str:
    """The store's key of a content definition (the same options always map to the same content)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ContentTemplates:
    """Content API items for options to tap, created on first use and kept by the hash of their
    definition (in memory, and in the store so that replicas and restarts reuse them)."""

    def __init__(self, client: Client, sessions: sessionmaker[Session]) -> None:
        self._client = client
        self._sessions = sessions
        self._known: dict[str, str] = {}
        # Definitions refused even when new (monotonic time of the refusal): numbered text for a while.
        self._refused: dict[str, float] = {}

    def refused_lately(self, definition: dict[str, Any]) -> bool:
        """Whether Twilio refused this definition's content even just after creating it, lately."""
        if not self._refused:  # the usual case: no hashing of the definition on every send
            return False
        at = self._refused.get(content_key(definition))
        return at is not None and time.monotonic() - at < CONTENT_REFUSED_SECONDS

    def refused(self, definition: dict[str, Any]) -> None:
        """Twilio refused this definition's content just after creating it: see `refused_lately`."""
        self._refused[content_key(definition)] = time.monotonic()

    async def sid(self, definition: dict[str, Any]) -> str:
        """The Content SID of this definition, created now if it is new."""
        key = content_key(definition)
        known = self._known.get(key) or await in_store(self._sessions, self._stored, key)
        if known is None:
            request = ContentList.ContentCreateRequest(
                {"friendly_name": f"asistente_{key[:32]}", "language": "es", **definition}
            )
            created = await self._client.content.v1.contents.create_async(request)
            known = await in_store(self._sessions, self._keep, key, str(created.sid))
        self._known[key] = known
        return known

    async def forget(self, definition: dict[str, Any], sid: str) -> None:
        """Twilio no longer knows `sid` (deleted in its console, or another account's): drop it, so that the
        next `sid()` creates the content again. Only this SID: another replica may have made a newer one."""
        key = content_key(definition)
        if self._known.get(key) == sid:
            del self._known[key]
        await in_store(self._sessions, self._drop, key, sid)

    def _drop(self, key: str, sid: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                delete(ContentTemplate).where(ContentTemplate.key == key, ContentTemplate.content_sid == sid)
            )

    def _stored(self, key: str) -> str | None:
        with self._sessions() as session:
            row = session.get(ContentTemplate, key)
            return None if row is None else row.content_sid

    def _keep(self, key: str, sid: str) -> str:
        """Keep the new SID; another replica may have created the same content meanwhile: use the first."""
        try:
            with self._sessions.begin() as session:
                session.add(ContentTemplate(key=key, content_sid=sid, created_at=datetime.now(UTC)))
            return sid
        except IntegrityError:
            return self._stored(key) or sid


class TwilioProvider:
    """Sends WhatsApp messages (asking for status callbacks) and looks up what Twilio already accepted."""

    window: timedelta | None = WINDOW

    def __init__(
        self, settings: Settings, http_client: RedirectingHttpClient, sessions: sessionmaker[Session]
    ) -> None:
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        self._from = settings.twilio_whatsapp_from
        self._service = settings.twilio_messaging_service_sid
        self._callback = f"{settings.public_url.rstrip('/')}/webhooks/twilio/status"
        self._contents = ContentTemplates(self._client, sessions)
        self._reopen: dict[str, Any] | None = None
        if settings.whatsapp_reopen_template_sid:
            variables = settings.whatsapp_reopen_template_variables
            self._reopen = {"sid": settings.whatsapp_reopen_template_sid, "variables": variables}

    def reopener(self) -> dict[str, Any] | None:
        """The approved template that invites the customer to write again (None when not configured)."""
        return self._reopen

    def window_closed(self, code: str | None) -> bool:
        """Whether a delivery failure's error code means the 24-hour window had closed."""
        return code in WINDOW_CLOSED

    async def send(self, text: OutboundText) -> str:
        """Create the message: a template, options to tap (falling back to their plain text when Twilio
        refuses the rich form for any reason but the window), or free text with an optional file."""
        if text.purpose == REOPEN and text.content:
            variables = json.dumps(text.content.get("variables") or {}, ensure_ascii=False)
            return await self._create(
                text.to, content_sid=str(text.content["sid"]), content_variables=variables
            )
        if text.content and not self._contents.refused_lately(text.content):
            try:
                return await self._send_options(text.to, text.content)
            except Refused as refusal:
                if refusal.window_closed:
                    raise
                log.warning("options to tap refused (%s): sending them as numbered text", refusal)
            except TwilioRestException as error:
                if _refusal(error) is None:
                    raise
                log.warning("options to tap could not be created (%s): sending numbered text", error.msg)
        media = [text.media_url] if text.media_url else values.unset
        return await self._create(text.to, body=text.body, media_url=media)

    async def _send_options(self, to: str, definition: dict[str, Any]) -> str:
        """Options to tap; a kept content Twilio no longer knows is forgotten and created again, once."""
        content_sid = await self._contents.sid(definition)
        try:
            return await self._create(to, content_sid=content_sid)
        except Refused as refusal:
            if refusal.code != CONTENT_UNKNOWN:
                raise
            log.warning("content %s unknown to Twilio: creating it again", content_sid)
            await self._contents.forget(definition, content_sid)
            try:
                return await self._create(to, content_sid=await self._contents.sid(definition))
            except Refused as again:
                if again.code == CONTENT_UNKNOWN:
                    self._contents.refused(definition)
                raise

    async def _create(self, to: str, **fields: Any) -> str:
        sender = {"messaging_service_sid": self._service} if self._service else {"from_": self._from}
        try:
            message = await self._client.messages.create_async(
                to=to, status_callback=self._callback, **sender, **fields
            )
        except TwilioRestException as error:
            refusal = _refusal(error)
            if refusal is None:
                raise
            raise refusal from error
        return str(message.sid)

    async def find(self, text: OutboundText, since: datetime, exclude: set[str]) -> str | None:
        """Twilio's newest messages to the recipient: one with this text created since `since`, if any (a
        rich or template message shows its content's body rather than our plain fallback)."""
        bodies = {text.body, *_content_bodies(text.content)}
        sender = values.unset if self._service else self._from
        messages = await self._client.messages.list_async(to=text.to, from_=sender, limit=RECENT)
        for message in messages:
            created = message.date_created
            if message.sid in exclude or message.body not in bodies:
                continue
            if created is None or created >= since:
                return str(message.sid)
        return None


def _content_bodies(content: dict[str, Any] | None) -> list[str]:
    types = (content or {}).get("types") or {}
    return [str(kind["body"]) for kind in types.values() if isinstance(kind, dict) and kind.get("body")]
