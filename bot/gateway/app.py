"""The gateway application: the only public door; the engine and the action server stay on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import sqlalchemy.exc
from aiohttp import web

from bot.gateway import agent, webchat, whatsapp
from bot.gateway.engine import EngineClient
from bot.gateway.handoffs import Handoffs
from bot.gateway.inbox import Inbox
from bot.gateway.keys import CONVERSATIONS, HANDOFFS, SETTINGS
from bot.gateway.outbound import Send
from bot.gateway.outbox import Outbox
from bot.gateway.service import Conversations
from bot.gateway.twilio_out import RedirectingHttpClient, TwilioProvider
from bot.handoff.events import Broker
from bot.handoff.queue import HandoffQueue
from bot.handoff.redis_events import RedisBroker
from bot.settings import Settings, get_settings
from bot.store import migrate
from bot.store.catalogue_cache import CatalogueCache
from bot.store.db import make_engine, make_sessionmaker

log = logging.getLogger("bot.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal is a clear 4xx; an unexpected failure is logged and answered without details."""
    try:
        return await handler(request)
    except web.HTTPException as failure:
        if failure.status < 400 or not request.path.startswith("/api/"):
            raise
        if failure.status == 413:
            body = {"error": "request_too_large", "message": "La solicitud es demasiado grande."}
        else:
            body = {"error": failure.reason.lower().replace(" ", "_"), "message": "Solicitud no válida."}
        return web.json_response(body, status=failure.status)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, web.RequestPayloadError):
        # A body that cannot be read as sent (invalid UTF-8, an undecodable encoding): the client's fault.
        return web.json_response(
            {"error": "malformed_request", "message": "La solicitud no es válida."}, status=400
        )


# The store unreachable (network, restart, failover) or its pool exhausted: a moment's outage, not a bug.
STORE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


@web.middleware
async def store_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While the store is unreachable: 503 with a Spanish message (Twilio and the page retry), never a 500."""
    try:
        return await handler(request)
    except STORE_DOWN as failure:
        log.warning("store unavailable on %s: %s", request.path, type(failure).__name__)
        body = {
            "error": "store_unavailable",
            "message": "El asistente no está disponible en este momento. Inténtalo en unos segundos.",
        }
        return web.json_response(body, status=503, headers={"Retry-After": "5"})


async def resources(app: web.Application) -> AsyncIterator[None]:
    """Open the store, the engine client, Twilio and the retry loop; close them on shutdown."""
    settings = app[SETTINGS]
    store = make_engine(settings.database_url)
    migrate.require_current(store)
    sessions = make_sessionmaker(store)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    twilio_http: RedirectingHttpClient | None = None
    send: Send | None = None
    outbox: Outbox | None = None
    if settings.twilio_enabled:
        twilio_http = RedirectingHttpClient(settings.twilio_api_base)
        # Texts are stored first and delivered by the outbox, so a Twilio outage loses nothing.
        outbox = Outbox(
            sessions,
            TwilioProvider(settings, twilio_http),
            f"{socket.gethostname()}:{os.getpid()}",
            concurrency=settings.outbox_concurrency,
        )
        send = outbox.send
    else:
        log.warning("WhatsApp disabled: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM")
    inbox = Inbox(sessions) if outbox is None else Inbox(sessions, outbox.queue)
    engine = EngineClient(
        http,
        settings.engine_url,
        settings.engine_timeout_seconds,
        settings.engine_token,
        actions_url=settings.action_server_url,
    )
    conversations = Conversations(
        settings, inbox, engine, CatalogueCache(sessions, settings.catalogue_cache_seconds), send
    )
    broker = (
        Broker() if settings.events_url is None else RedisBroker(settings.events_url, settings.events_channel)
    )
    if isinstance(broker, RedisBroker):
        await broker.start()
        if not broker.listening:
            log.warning("live events: Redis at EVENTS_URL is not answering yet; retrying in the background")
    handoffs = Handoffs(
        HandoffQueue(sessions),
        inbox,
        engine,
        broker,
        send,
        timedelta(seconds=settings.agent_timeout_seconds),
    )
    conversations.handoffs = handoffs
    app[CONVERSATIONS] = conversations
    app[HANDOFFS] = handoffs
    workers = [asyncio.create_task(conversations.retry_forever())]
    if outbox is not None:
        conversations.flush = outbox.deliver_due
        conversations.deliver_to = outbox.deliver
        workers.append(asyncio.create_task(outbox.run_forever()))
    yield
    for worker in workers:
        worker.cancel()
    await conversations.drain()
    await http.close()
    if isinstance(broker, RedisBroker):
        await broker.close()
    if twilio_http is not None:
        await twilio_http.close()
    store.dispose()


def create_app(settings: Settings | None = None) -> web.Application:
    """The gateway application (factory used by `python -m bot.gateway` and by the tests)."""
    settings = settings or get_settings()
    app = web.Application(
        middlewares=[json_errors, store_unavailable], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(resources)
    webchat.add_routes(app)
    agent.add_routes(app)
    if settings.twilio_enabled:
        whatsapp.add_routes(app)
    return app
