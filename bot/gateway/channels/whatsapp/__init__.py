"""WhatsApp through Twilio: signed incoming webhooks (acknowledged at once) — text, taps on options, files
and the sender's profile name —, delivery status callbacks put on the texts they belong to, and answers sent
by Twilio's REST API: options to tap, numbered text as the fallback, parts of at most 1,600 characters."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http import HttpProcessingError
from twilio.request_validator import RequestValidator

from bot.gateway.channels import Incoming, Rendered
from bot.gateway.channels.whatsapp.media import MediaFetcher, media_path
from bot.gateway.channels.whatsapp.provider import RedirectingHttpClient, TwilioProvider
from bot.gateway.channels.whatsapp.render import render
from bot.gateway.keys import HANDOFFS, PIPELINE
from bot.gateway.pipeline.intake import Accepted
from bot.handoff.events import AGENTS
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.gateway.outbound import Provider

log = logging.getLogger("bot.gateway.whatsapp")

WHATSAPP = "whatsapp"
WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_WHATSAPP_ADDRESS = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
# Files one message may bring (Twilio sends up to 10).
MAX_MEDIA = 10


def tapped(fields: dict[str, str]) -> str | None:
    """What a tap on our options sends back: a quick reply's `ButtonPayload` or a list item's `ListId` (the
    option's payload, or its number); None for a typed message."""
    for field in ("ButtonPayload", "ListId"):
        value = fields.get(field, "").strip()
        if value:
            return value
    return None


def media_count(fields: dict[str, str]) -> int:
    """How many files the message says it brought."""
    try:
        return min(MAX_MEDIA, max(0, int(fields.get("NumMedia", "0") or 0)))
    except ValueError:
        return 0


def media_of(fields: dict[str, str], account_sid: str) -> tuple[dict[str, str], ...]:
    """The files a message brought that are our account's media on Twilio (others are ignored: the gateway
    never fetches a URL a request names unless it is one of ours)."""
    found = []
    for index in range(media_count(fields)):
        url = fields.get(f"MediaUrl{index}", "")
        if media_path(url, account_sid) is not None:
            kind = fields.get(f"MediaContentType{index}", "")[:64]
            found.append({"url": url, "content_type": kind})
    return tuple(found)


class WhatsAppChannel:
    """WhatsApp: answers are delivered later through the outbox by Twilio's Messages API."""

    name = WHATSAPP
    answers_in_response = False

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._http: RedirectingHttpClient | None = None
        self._provider: TwilioProvider | None = None
        self._media = MediaFetcher(
            settings.twilio_account_sid or "",
            settings.twilio_auth_token or "",
            settings.twilio_api_base,
            settings.media_max_bytes,
        )

    def render(self, replies: list[dict[str, Any]]) -> Rendered:
        """Text parts; options to tap on a reply's part (numbered text as its fallback), tables as text."""
        return render(replies)

    def provider(self) -> Provider | None:
        """Twilio's Messages API (set once the channel is open)."""
        return self._provider

    async def open(self, store: sessionmaker[Session]) -> None:
        """Twilio's async HTTP client (aimed at TWILIO_API_BASE when set: a local fake in tests)."""
        self._http = RedirectingHttpClient(self._settings.twilio_api_base)
        self._provider = TwilioProvider(self._settings, self._http, store)
        await self._media.open()

    async def close(self) -> None:
        """Close Twilio's HTTP clients."""
        if self._http is not None:
            await self._http.close()
        await self._media.close()
        self._http = self._provider = None

    async def fetch_media(self, url: str) -> tuple[str, bytes]:
        """A customer's file, fetched from Twilio with the account's credentials."""
        return await self._media.fetch(url)

    def add_routes(self, app: web.Application) -> None:
        """Twilio's webhooks: incoming messages and delivery statuses."""
        app.router.add_post(WEBHOOK_PATH, self.incoming)
        app.router.add_post(STATUS_PATH, self.status)

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        """The form fields, if X-Twilio-Signature matches them for our public URL; 403 otherwise."""
        try:
            form = await request.post()
        except (
            LookupError,
            HttpProcessingError,
        ) as failure:  # an unknown charset, a malformed multipart body
            raise web.HTTPBadRequest(text="unreadable form") from failure
        fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        # Behind a proxy the request's own URL is not what Twilio signed: always use the configured one.
        url = self._settings.public_url.rstrip("/") + request.path_qs
        signature = request.headers.get("X-Twilio-Signature", "")
        validator = RequestValidator(self._settings.twilio_auth_token)
        if not signature or not validator.validate(url, fields, signature):
            log.warning("refused a webhook with a bad signature on %s", request.path)
            raise web.HTTPForbidden(text="invalid signature")
        return fields

    async def incoming(self, request: web.Request) -> web.Response:
        """POST /webhooks/twilio/whatsapp: acknowledge at once; the answer goes out through the REST API."""
        fields = await self._signed_form(request)
        sid, sender = fields.get("MessageSid", ""), fields.get("From", "")
        if not _SID.match(sid) or not _WHATSAPP_ADDRESS.match(sender):
            raise web.HTTPBadRequest(text="MessageSid and a WhatsApp From are required")
        media = media_of(fields, self._settings.twilio_account_sid or "")
        body = tapped(fields) or fields.get("Body", "")
        location = "Latitude" in fields and "Longitude" in fields
        kind = (
            "text"
            if body.strip()
            else "location"
            if location
            else "media"
            if media_count(fields)
            else "empty"
        )
        number = sender.removeprefix("whatsapp:")
        # The sender is identified by their verified number, in the same trip that stores the message.
        incoming = Incoming(
            WHATSAPP,
            sid,
            f"wa:{number}",
            body,
            reply_to=sender,
            kind=kind,
            phone=number,
            client=f"wa:{number}",
            profile_name=fields.get("ProfileName") or None,
            media=media,
        )
        received = await request.app[PIPELINE].receive(self, incoming)
        if isinstance(received, Accepted) and not received.new:
            log.info("whatsapp replay ignored: %s", sid)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def status(self, request: web.Request) -> web.Response:
        """POST /webhooks/twilio/status: the delivery status of a message we sent, kept on its text; the
        console hears of it."""
        fields = await self._signed_form(request)
        sid, state = fields.get("MessageSid", ""), fields.get("MessageStatus", "")
        if not _SID.match(sid) or not state or len(state) > 24:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
        code = (fields.get("ErrorCode") or "")[:16] or None
        reported = await request.app[PIPELINE].outbox.reported(sid, state.lower(), code)
        if reported is not None:
            request.app[HANDOFFS].broker.publish(AGENTS, "delivery", reported)
        return web.Response(status=204)
