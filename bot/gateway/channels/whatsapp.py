"""WhatsApp through Twilio: signed incoming webhooks (acknowledged at once), delivery status callbacks, and
answers rendered as plain numbered text of at most 1,600 characters a part, sent by Twilio's REST API."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http import HttpProcessingError
from twilio.request_validator import RequestValidator

from bot.gateway.channels import Incoming, Rendered
from bot.gateway.keys import DELIVERY_STATUSES, PIPELINE
from bot.gateway.pipeline.intake import Accepted
from bot.gateway.render import for_text_channel
from bot.gateway.twilio_out import RedirectingHttpClient, TwilioProvider
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.gateway.outbound import Provider

log = logging.getLogger("bot.gateway.whatsapp")

WHATSAPP = "whatsapp"
WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_WHATSAPP_ADDRESS = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


class WhatsAppChannel:
    """WhatsApp: answers are delivered later through the outbox by Twilio's Messages API."""

    name = WHATSAPP
    answers_in_response = False

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._http: RedirectingHttpClient | None = None
        self._provider: TwilioProvider | None = None

    def render(self, replies: list[dict[str, Any]]) -> Rendered:
        """Plain text parts; buttons become numbered options (a typed number picks one), tables their text."""
        return Rendered(for_text_channel(replies).texts)

    def provider(self) -> Provider | None:
        """Twilio's Messages API (set once the channel is open)."""
        return self._provider

    async def open(self) -> None:
        """Twilio's async HTTP client (aimed at TWILIO_API_BASE when set: a local fake in tests)."""
        self._http = RedirectingHttpClient(self._settings.twilio_api_base)
        self._provider = TwilioProvider(self._settings, self._http)

    async def close(self) -> None:
        """Close Twilio's HTTP client."""
        if self._http is not None:
            await self._http.close()
        self._http = self._provider = None

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
        try:
            media = max(0, int(fields.get("NumMedia", "0") or 0))
        except ValueError:
            media = 0
        body = fields.get("Body", "")
        location = "Latitude" in fields and "Longitude" in fields
        kind = "text" if body.strip() else ("location" if location else ("media" if media else "empty"))
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
        )
        received = await request.app[PIPELINE].receive(self, incoming)
        if isinstance(received, Accepted) and not received.new:
            log.info("whatsapp replay ignored: %s", sid)
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    async def status(self, request: web.Request) -> web.Response:
        """POST /webhooks/twilio/status: record the delivery status of a message we sent."""
        fields = await self._signed_form(request)
        sid, state = fields.get("MessageSid", ""), fields.get("MessageStatus", "")
        if not _SID.match(sid) or not state or len(state) > 24:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
        await request.app[DELIVERY_STATUSES].record(sid, state, fields.get("ErrorCode") or None)
        return web.Response(status=204)
