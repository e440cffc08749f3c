"""Twilio's WhatsApp webhooks: signed incoming messages and delivery status callbacks."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.http import HttpProcessingError
from twilio.request_validator import RequestValidator

from bot.gateway.keys import CONVERSATIONS, SETTINGS
from bot.gateway.service import KeyedLocks

log = logging.getLogger("bot.gateway.whatsapp")
# Per-sender intake, held from the moment a webhook is read until its answer is queued: the store calls
# in between run in threads and may finish in any order, and a sender's messages must reach the engine
# in the order they arrived.
ARRIVALS = web.AppKey("whatsapp_arrivals", KeyedLocks)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_WHATSAPP_ADDRESS = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


async def _signed_form(request: web.Request) -> dict[str, str]:
    """The form fields, if X-Twilio-Signature matches them for our configured public URL; 403 otherwise."""
    settings = request.app[SETTINGS]
    try:
        form = await request.post()
    except (LookupError, HttpProcessingError) as failure:  # an unknown charset, a malformed multipart body
        raise web.HTTPBadRequest(text="unreadable form") from failure
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    # Behind a proxy the request's own URL is not what Twilio signed: always use the configured one.
    url = settings.public_url.rstrip("/") + request.path_qs
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(settings.twilio_auth_token).validate(url, fields, signature):
        log.warning("refused a webhook with a bad signature on %s", request.path)
        raise web.HTTPForbidden(text="invalid signature")
    return fields


async def incoming(request: web.Request) -> web.Response:
    """POST /webhooks/twilio/whatsapp: acknowledge at once, answer through the REST API in the background."""
    fields = await _signed_form(request)
    sid, sender = fields.get("MessageSid", ""), fields.get("From", "")
    if not _SID.match(sid) or not _WHATSAPP_ADDRESS.match(sender):
        raise web.HTTPBadRequest(text="MessageSid and a WhatsApp From are required")
    try:
        media = max(0, int(fields.get("NumMedia", "0") or 0))
    except ValueError:
        media = 0
    location = "Latitude" in fields and "Longitude" in fields
    conversations = request.app[CONVERSATIONS]
    async with request.app[ARRIVALS].hold(sender):
        await conversations.whatsapp(sid, sender, fields.get("Body", ""), media, location)
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    """POST /webhooks/twilio/status: record the delivery status of a message we sent."""
    fields = await _signed_form(request)
    sid, state = fields.get("MessageSid", ""), fields.get("MessageStatus", "")
    if not _SID.match(sid) or not state or len(state) > 24:
        raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
    await request.app[CONVERSATIONS].inbox.delivery(sid, state, fields.get("ErrorCode") or None)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    """Routes of the Twilio webhooks."""
    app[ARRIVALS] = KeyedLocks()
    app.router.add_post("/webhooks/twilio/whatsapp", incoming)
    app.router.add_post("/webhooks/twilio/status", status)
