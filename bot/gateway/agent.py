"""The agent console: its page, its API and its live updates."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from bot.gateway import live, tokens
from bot.gateway.channels.webchat import STATIC, bearer
from bot.gateway.console import customer_json, handoff_json
from bot.gateway.errors import ApiError
from bot.gateway.keys import HANDOFFS, PIPELINE, SETTINGS, USERS
from bot.gateway.tokens import TokenError, WebUser
from bot.handoff.events import AGENTS
from bot.handoff.queue import now

AGENT = "agent"
NOT_AGENT = "Necesitas iniciar sesión con un perfil de agente."
NOT_ASSIGNED = "Esta conversación no está asignada a ti."


class ReplyRequest(BaseModel):
    """The body of an agent's reply."""

    text: str = Field(min_length=1, max_length=4000)


async def _agent(request: web.Request) -> WebUser:
    """The verified agent making the request; 401/403 otherwise."""
    token = bearer(request)
    if token is None:
        raise ApiError(401, "not_signed_in", NOT_AGENT)
    try:
        user = tokens.verify(token, request.app[SETTINGS])
    except TokenError as failure:
        raise ApiError(401, failure.code, failure.message) from failure
    stored = await request.app[USERS].by_id(user.user_id)
    if stored is None or stored.profile != AGENT or user.profile != AGENT:
        raise ApiError(403, "not_an_agent", NOT_AGENT)
    return WebUser(stored.id, stored.account_id, stored.profile, stored.name)


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
    return web.json_response({"handoffs": await request.app[HANDOFFS].queue_json()})


async def detail(request: web.Request) -> web.Response:
    """GET /api/agent/handoffs/{id}: transcript and what the agent may see of the customer."""
    await _agent(request)
    handoffs = request.app[HANDOFFS]
    handoff = await handoffs.queue.get(_handoff_id(request))
    if handoff is None:
        raise ApiError(404, "not_found", "No existe esa conversación.")
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
    first = [("queue", {"handoffs": await handoffs.queue_json()})]
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
    app.router.add_get("/api/agent/events", events)
