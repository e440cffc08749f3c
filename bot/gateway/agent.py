"""The agent console: its page, its API and its live updates."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from aiohttp import BodyPartReader, web
from pydantic import BaseModel, Field, ValidationError

from bot.gateway import live
from bot.gateway.attachments import MB, AttachmentRefused, check
from bot.gateway.attachments import PATH as ATTACHMENT_PATH
from bot.gateway.channels import MediaRefused, MediaSource
from bot.gateway.channels.webchat import STATIC
from bot.gateway.channels.whatsapp.errors import WINDOW_CODE, explain
from bot.gateway.console import customer_json, handoff_json, media_json
from bot.gateway.contacts import masked
from bot.gateway.deliveries import DeliveryView
from bot.gateway.errors import ApiError
from bot.gateway.keys import ATTACHMENTS, CHANNELS, CONTACTS, DELIVERIES, HANDOFFS, PIPELINE, SETTINGS
from bot.gateway.outbox import WINDOW_REASON
from bot.gateway.profiles import require_profile
from bot.gateway.tokens import WebUser
from bot.handoff.events import AGENTS
from bot.handoff.queue import HandoffView, now

AGENT = "agent"
NOT_AGENT = "Necesitas iniciar sesión con un perfil de agente."
NOT_ASSIGNED = "Esta conversación no está asignada a ti."
REOPEN_SENT = (
    "Se envió la plantilla para retomar la conversación: lo que escribas llegará cuando el cliente responda."
)
# Failures without a provider's code: the outbox gave up after its retries (Twilio never answered).
GAVE_UP = "No se pudo enviar: Twilio no respondió tras varios intentos. Vuelve a escribirlo más tarde."
ATTACHMENT_ID = re.compile(r"[0-9a-f]{32}")
# Files are served as they are, never interpreted by the browser as a page of ours.
FILE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


class ReplyRequest(BaseModel):
    """The body of an agent's reply."""

    text: str = Field(min_length=1, max_length=4000)


async def _agent(request: web.Request) -> WebUser:
    """The verified agent making the request; 401/403 otherwise."""
    return await require_profile(request, AGENT, "not_an_agent", NOT_AGENT)


def _handoff_id(request: web.Request) -> int:
    try:
        handoff_id = int(request.match_info["handoff_id"])
    except ValueError as failure:
        raise web.HTTPNotFound() from failure
    if not 0 < handoff_id < 2**63:  # no such row, and the database refuses integers past 64 bits
        raise web.HTTPNotFound()
    return handoff_id


async def page(request: web.Request) -> web.FileResponse:
    """GET /agent: the console."""
    return web.FileResponse(STATIC / "agent.html")


async def queue(request: web.Request) -> web.Response:
    """GET /api/agent/queue."""
    await _agent(request)
    handoffs = request.app[HANDOFFS]
    return web.json_response({"handoffs": await handoffs.queue_json(), "failed": await handoffs.failed()})


async def detail(request: web.Request) -> web.Response:
    """GET /api/agent/handoffs/{id}: transcript (each line's files and delivery), what the agent may see of
    the customer, and on WhatsApp who writes and their 24-hour window."""
    await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is None:
        raise ApiError(404, "not_found", "No existe esa conversación.")
    names = await handoffs.queue.names({i for i in (handoff.user_id, handoff.agent_id) if i is not None})
    messages = await handoffs.queue.messages(handoff.id)
    deliveries = await request.app[DELIVERIES].of_messages([m["id"] for m in messages if m["role"] != "user"])
    for message in messages:
        if message["id"] in deliveries:
            message["delivery"] = delivery_json(deliveries[message["id"]])
        if message.get("media"):
            message["media"] = media_json(message["id"], message["media"])
    last_answer = None
    if handoff.reply_to is not None:
        last_answer = await request.app[DELIVERIES].last_answer(handoff.channel, handoff.reply_to)
    return web.json_response(
        {
            "handoff": handoff_json(handoff, now(), handoffs.stale_after, names),
            "messages": messages,
            "context": customer_json(await handoffs.queue.customer_context(handoff.user_id)),
            "contact": await _contact(request, handoff),
            "last_answer": None if last_answer is None else delivery_json(last_answer),
        }
    )


async def _contact(request: web.Request, handoff: HandoffView) -> dict[str, Any] | None:
    """Who writes and, where the channel has one, their window: when it closes, how long is left, and
    whether a template can reopen it."""
    if handoff.reply_to is None:
        return None
    contact = await request.app[CONTACTS].get(handoff.channel, handoff.reply_to)
    channel = request.app[CHANNELS].get(handoff.channel)
    provider = None if channel is None else channel.provider()
    window = None if provider is None else provider.window
    closes_at = None if contact is None else contact.window_closes_at(window)
    at = now()
    data: dict[str, Any] = {
        "number": masked(handoff.reply_to),
        "profile_name": None if contact is None else contact.profile_name,
        "opted_out": contact is not None and contact.opted_out_at is not None,
        "window": None,
        "template": provider is not None and provider.reopener() is not None,
        "template_sent_at": None,
    }
    if closes_at is not None:
        data["window"] = {
            "closes_at": closes_at.isoformat(),
            "seconds_left": max(0, int((closes_at - at).total_seconds())),
            "open": closes_at > at,
        }
    sent_at = None if contact is None else contact.reopen_queued_at
    if sent_at is not None and (
        contact is None or contact.last_inbound_at is None or sent_at > contact.last_inbound_at
    ):
        data["template_sent_at"] = sent_at.isoformat()
    return data


def delivery_json(view: DeliveryView) -> dict[str, Any]:
    """A delivery as the console shows it, with what went wrong in the agent's words."""
    data: dict[str, Any] = dict(view.as_json())
    data["error_text"] = None
    if view.error_code:
        data["error_text"] = explain(view.error_code, view.error)
    elif view.state == "held" or (view.state == "failed" and view.error == WINDOW_REASON):
        data["error_text"] = explain(WINDOW_CODE)
    elif view.state == "failed":
        data["error_text"] = GAVE_UP
    return data


async def take(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/take: only one agent wins."""
    agent = await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.take(_handoff_id(request), agent.user_id, agent.name or "Una persona")
    if handoff is None:
        raise ApiError(409, "already_taken", "Otro agente ya tomó esta conversación.")
    return web.json_response({"handoff": handoff_json(handoff, now(), handoffs.stale_after, {})})


async def reply(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/reply: reaches the customer's channel (WhatsApp included)."""
    agent = await _agent(request)
    try:
        body = ReplyRequest.model_validate_json(await request.read())
    except ValidationError as failure:
        raise ApiError(
            400, "malformed_request", "Escribe una respuesta (máximo 4.000 caracteres)."
        ) from failure
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is None or handoff.status != "assigned" or handoff.agent_id != agent.user_id:
        raise ApiError(409, "not_assigned", NOT_ASSIGNED)
    return web.json_response({"message": await handoffs.reply(handoff, body.text.strip())})


async def _assigned(request: web.Request, agent: WebUser) -> HandoffView:
    handoff = await request.app[HANDOFFS].queue.get(_handoff_id(request))
    if handoff is None or handoff.status != "assigned" or handoff.agent_id != agent.user_id:
        raise ApiError(409, "not_assigned", NOT_ASSIGNED)
    return handoff


async def attach(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/attachments (multipart: `file`, optional `text` as its caption): a file
    in the agent's reply, within WhatsApp's types and sizes."""
    agent = await _agent(request)
    handoff = await _assigned(request, agent)
    limit = request.app[SETTINGS].media_max_bytes
    name, content_type, data, text = "", "", b"", ""
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                name, content_type = part.filename or "archivo", part.headers.get("Content-Type", "")
                data = await _read_capped(part, limit)
            elif part.name == "text":
                text = (await part.text())[:4000].strip()
    except (ValueError, AssertionError, LookupError) as failure:
        raise ApiError(400, "malformed_request", "Adjunta un archivo (campo «file»).") from failure
    try:
        check(content_type, data, limit)
    except AttachmentRefused as refused:
        raise ApiError(415, "attachment_refused", str(refused)) from refused
    attachment = await request.app[ATTACHMENTS].save(handoff.id, name, content_type, data)
    message = await request.app[HANDOFFS].reply(handoff, text, attachment)
    return web.json_response({"message": message})


async def _read_capped(part: BodyPartReader, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "request_too_large", f"El archivo supera el máximo de {limit // MB} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


async def reopen(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/reopen: the approved template that invites a customer whose 24-hour
    window closed to write again (what the agent writes meanwhile waits for them)."""
    agent = await _agent(request)
    handoff = await _assigned(request, agent)
    contact = await _contact(request, handoff)
    if contact is None or not contact["template"]:
        raise ApiError(409, "no_template", "No hay una plantilla configurada para reabrir la conversación.")
    if contact["opted_out"]:
        raise ApiError(409, "opted_out", "El cliente pidió no recibir mensajes.")
    if contact["window"] is not None and contact["window"]["open"]:
        raise ApiError(409, "window_open", "La ventana de 24 horas sigue abierta: escribe tu mensaje.")
    handoffs = request.app[HANDOFFS]
    line = await handoffs.queue.add_message(handoff.id, "system", REOPEN_SENT)
    assert handoff.reply_to is not None
    sent = await request.app[PIPELINE].outbox.reopen(handoff.channel, handoff.reply_to, line["id"])
    if sent is None:
        raise ApiError(409, "template_sent", "Ya se envió la plantilla: espera a que el cliente responda.")
    handoffs.broker.publish(AGENTS, "message", {"handoff_id": handoff.id, "message": line})
    return web.json_response({"message": line})


async def media(request: web.Request) -> web.Response:
    """GET /api/agent/media/{message_id}/{index}: a file a customer sent, fetched from their channel's
    provider with its credentials (agents only; never cached by the browser or a proxy)."""
    await _agent(request)
    try:
        message_id, index = int(request.match_info["message_id"]), int(request.match_info["index"])
    except ValueError as failure:
        raise web.HTTPNotFound() from failure
    if not (0 < message_id < 2**63 and 0 <= index < 100):
        raise web.HTTPNotFound()
    found = await request.app[HANDOFFS].queue.message(message_id)
    items = [] if found is None else found[1].get("media") or []
    if index >= len(items) or not items[index].get("inbound_id"):
        raise ApiError(404, "not_found", "No existe ese archivo.")
    inbound = await request.app[PIPELINE].inbound(int(items[index]["inbound_id"]))
    files = [] if inbound is None else inbound.meta.get("media") or []
    source = None if inbound is None else request.app[CHANNELS].get(inbound.channel)
    if inbound is None or index >= len(files) or not isinstance(source, MediaSource):
        raise ApiError(404, "not_found", "No existe ese archivo.")
    try:
        content_type, data = await source.fetch_media(str(files[index].get("url", "")))
    except MediaRefused as refused:
        raise ApiError(502, "media_unavailable", str(refused)) from refused
    except (aiohttp.ClientError, TimeoutError) as failure:
        raise ApiError(
            502, "media_unavailable", "No se pudo descargar el archivo del proveedor."
        ) from failure
    return web.Response(body=data, content_type=content_type, headers=FILE_HEADERS)


async def attachment(request: web.Request) -> web.Response:
    """GET /media/{id}: a file an agent attached, for the provider to fetch and deliver (and the webchat to
    show); its id is unguessable."""
    attachment_id = request.match_info["attachment_id"]
    if not ATTACHMENT_ID.fullmatch(attachment_id):
        raise web.HTTPNotFound()
    found = await request.app[ATTACHMENTS].get(attachment_id)
    if found is None:
        raise web.HTTPNotFound()
    view, data = found
    headers = {**FILE_HEADERS, "Content-Disposition": f'inline; filename="{view.name}"'}
    return web.Response(body=data, content_type=view.content_type, headers=headers)


async def resolve(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/resolve: back to the assistant. The customer's messages wait (as while
    the assistant answers one): between the hand-off closing and the engine resuming, a message would reach
    a paused engine and never be answered."""
    agent = await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is not None:
        async with request.app[PIPELINE].scheduler.locks.hold(handoff.sender_id):
            handoff = await handoffs.resolve(handoff.id, agent.user_id)
    if handoff is None:
        raise ApiError(409, "not_assigned", NOT_ASSIGNED)
    return web.json_response({"handoff": handoff_json(handoff, now(), handoffs.stale_after, {})})


async def events(request: web.Request) -> web.StreamResponse:
    """GET /api/agent/events: the queue and new customer messages, live; keeps the agent's claims alive."""
    agent = await _agent(request)
    handoffs = request.app[HANDOFFS]
    await handoffs.queue.seen(agent.user_id)
    first = [("queue", {"handoffs": await handoffs.queue_json(), "failed": await handoffs.failed()})]
    return await live.stream(
        request, handoffs.broker, AGENTS, first, lambda: handoffs.queue.seen(agent.user_id)
    )


def add_routes(app: web.Application) -> None:
    """Routes of the agent console."""
    app.router.add_get("/agent", page)
    app.router.add_get("/api/agent/queue", queue)
    app.router.add_get("/api/agent/handoffs/{handoff_id}", detail)
    app.router.add_post("/api/agent/handoffs/{handoff_id}/take", take)
    app.router.add_post("/api/agent/handoffs/{handoff_id}/reply", reply)
    app.router.add_post("/api/agent/handoffs/{handoff_id}/resolve", resolve)
    app.router.add_post("/api/agent/handoffs/{handoff_id}/attachments", attach)
    app.router.add_post("/api/agent/handoffs/{handoff_id}/reopen", reopen)
    app.router.add_get("/api/agent/media/{message_id}/{index}", media)
    app.router.add_get(ATTACHMENT_PATH + "{attachment_id}", attachment)
    app.router.add_get("/api/agent/events", events)
