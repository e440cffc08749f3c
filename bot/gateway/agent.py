"""The agent console: its page, its API, and live updates (server-sent events) for agents and customers."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from bot.gateway import tokens
from bot.gateway.console import customer_json, handoff_json
from bot.gateway.keys import CONVERSATIONS, HANDOFFS, SETTINGS
from bot.gateway.tokens import TokenError, WebUser
from bot.gateway.webchat import COOKIE, STATIC, error, set_conversation_cookie
from bot.handoff.events import AGENTS, conversation_topic
from bot.handoff.queue import now

AGENT = "agent"
HEARTBEAT_SECONDS = 15.0
NOT_AGENT = "Necesitas iniciar sesión con un perfil de agente."
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    # EventSource cannot send headers: the event streams take the token as a query parameter.
    return request.query.get("access_token") or None


class _Refused(Exception):
    """Ends a request with this JSON error (an HTTPException's body would be replaced by the gateway's
    generic one in the json_errors middleware)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _refusable(handler: Handler) -> Handler:
    """The handler, answering a refusal with its own JSON error."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Refused as refused:
            return refused.response

    return run


async def _agent(request: web.Request) -> WebUser:
    """The verified agent making the request; 401/403 JSON otherwise."""
    token = _token(request)
    if token is None:
        raise _Refused(error(401, "not_signed_in", NOT_AGENT))
    try:
        user = tokens.verify(token, request.app[SETTINGS])
    except TokenError as failure:
        raise _Refused(error(401, failure.code, failure.message)) from failure
    stored = await request.app[CONVERSATIONS].inbox.user(user.user_id)
    if stored is None or stored.profile != AGENT or user.profile != AGENT:
        raise _Refused(error(403, "not_an_agent", NOT_AGENT))
    return WebUser(stored.id, stored.account_id, stored.profile, stored.name)


async def page(request: web.Request) -> web.FileResponse:
    """GET /agent: the console."""
    return web.FileResponse(STATIC / "agent.html")


async def queue(request: web.Request) -> web.Response:
    """GET /api/agent/queue."""
    await _agent(request)
    return web.json_response({"handoffs": await request.app[HANDOFFS].queue_json()})


def _handoff_id(request: web.Request) -> int:
    try:
        handoff_id = int(request.match_info["handoff_id"])
    except ValueError as failure:
        raise web.HTTPNotFound() from failure
    if not 0 < handoff_id < 2**63:  # no such row, and the database refuses integers past 64 bits
        raise web.HTTPNotFound()
    return handoff_id


async def detail(request: web.Request) -> web.Response:
    """GET /api/agent/handoffs/{id}: transcript and what the agent may see of the customer."""
    await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is None:
        return error(404, "not_found", "No existe esa conversación.")
    names = await handoffs.queue.names({i for i in (handoff.user_id, handoff.agent_id) if i is not None})
    return web.json_response(
        {
            "handoff": handoff_json(handoff, now(), handoffs.stale_after, names),
            "messages": await handoffs.queue.messages(handoff.id),
            "context": customer_json(await handoffs.queue.customer_context(handoff.user_id)),
        }
    )


async def take(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/take: only one agent wins."""
    agent = await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.take(_handoff_id(request), agent.user_id, agent.name or "Una persona")
    if handoff is None:
        return error(409, "already_taken", "Otro agente ya tomó esta conversación.")
    return web.json_response({"handoff": handoff_json(handoff, now(), handoffs.stale_after, {})})


class ReplyRequest(BaseModel):
    """The body of an agent's reply."""

    text: str = Field(min_length=1, max_length=4000)


async def reply(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/reply: reaches the customer's channel (WhatsApp included)."""
    agent = await _agent(request)
    try:
        body = ReplyRequest.model_validate_json(await request.read())
    except ValidationError:
        return error(400, "malformed_request", "Escribe una respuesta (máximo 4.000 caracteres).")
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is None or handoff.status != "assigned" or handoff.agent_id != agent.user_id:
        return error(409, "not_assigned", "Esta conversación no está asignada a ti.")
    message = await handoffs.reply(handoff, body.text.strip())
    return web.json_response({"message": message})


async def resolve(request: web.Request) -> web.Response:
    """POST /api/agent/handoffs/{id}/resolve: back to the assistant."""
    agent = await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is not None:
        # The customer's messages wait (as while the assistant answers one): between the hand-off closing
        # and the engine resuming, a message would reach a paused engine and never be answered.
        async with request.app[CONVERSATIONS].locks.hold(handoff.sender_id):
            handoff = await handoffs.resolve(handoff.id, agent.user_id)
    if handoff is None:
        return error(409, "not_assigned", "Esta conversación no está asignada a ti.")
    return web.json_response({"handoff": handoff_json(handoff, now(), handoffs.stale_after, {})})


async def _stream(
    request: web.Request,
    topic: str,
    first: list[tuple[str, dict[str, Any]]],
    tick: Callable[[], Awaitable[None]] | None = None,
    cookie: str | None = None,
) -> web.StreamResponse:
    """A server-sent events stream of a broker topic, with heartbeats."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    if cookie is not None:
        set_conversation_cookie(response, cookie, request.app[SETTINGS])
    await response.prepare(request)
    broker = request.app[HANDOFFS].broker
    async with broker.subscribe(topic) as events:
        try:
            for event, data in first:
                await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            while True:
                try:
                    event, data = await asyncio.wait_for(events.get(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    if tick is not None:
                        await tick()
                    continue
                await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        except (ConnectionResetError, ConnectionError):
            pass
    return response


async def agent_events(request: web.Request) -> web.StreamResponse:
    """GET /api/agent/events: the queue and new customer messages, live; keeps the agent's claims alive."""
    agent = await _agent(request)
    handoffs = request.app[HANDOFFS]
    await handoffs.queue.seen(agent.user_id)
    first = [("queue", {"handoffs": await handoffs.queue_json()})]
    return await _stream(request, AGENTS, first, lambda: handoffs.queue.seen(agent.user_id))


async def customer_events(request: web.Request) -> web.StreamResponse:
    """GET /api/chat/events: agent messages and hand-off status for this webchat conversation."""
    settings = request.app[SETTINGS]
    token = _token(request)
    if token is not None:
        try:
            sender = f"web:u:{tokens.verify(token, settings).user_id}"
        except TokenError as failure:
            return error(401, failure.code, failure.message)
    new_cookie = None
    if token is None:
        conversation = tokens.read_conversation(request.cookies.get(COOKIE), settings)
        if conversation is None:
            # A first visit opens the stream before chatting: start the conversation here.
            conversation, new_cookie = tokens.new_conversation(settings)
        sender = f"web:a:{conversation}"
    first: list[tuple[str, dict[str, Any]]] = []
    handoff = await request.app[HANDOFFS].queue.active_for(sender)
    if handoff is not None:
        first.append(("handoff", {"status": handoff.status, "position": None}))
    return await _stream(request, conversation_topic(sender), first, cookie=new_cookie)


def add_routes(app: web.Application) -> None:
    """Routes of the agent console and of the live event streams."""
    app.router.add_get("/agent", page)
    app.router.add_get("/api/agent/queue", _refusable(queue))
    app.router.add_get("/api/agent/handoffs/{handoff_id}", _refusable(detail))
    app.router.add_post("/api/agent/handoffs/{handoff_id}/take", _refusable(take))
    app.router.add_post("/api/agent/handoffs/{handoff_id}/reply", _refusable(reply))
    app.router.add_post("/api/agent/handoffs/{handoff_id}/resolve", _refusable(resolve))
    app.router.add_get("/api/agent/events", _refusable(agent_events))
    app.router.add_get("/api/chat/events", customer_events)
