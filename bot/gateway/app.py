"""The gateway application: the only public door; the engine and the action server stay on loopback.

`resources` is the one place where the gateway's parts are built, each with every dependency it needs
passed to its constructor: store -> channels and their providers -> outbox -> inbox -> delivery ->
hand-offs -> answering -> scheduling -> intake -> the pipeline the channels' routes hand messages to.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

import aiohttp
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import agent, insights, review
from bot.gateway.attachments import Attachments
from bot.gateway.channels import Channel, Channels
from bot.gateway.channels.registry import default_channels
from bot.gateway.contacts import Contacts
from bot.gateway.deliveries import Deliveries
from bot.gateway.engine import EngineClient
from bot.gateway.errors import api_errors
from bot.gateway.handoffs import Handoffs
from bot.gateway.inbox import Inbox
from bot.gateway.insights_reader import InsightsReader
from bot.gateway.keys import (
    ATTACHMENTS,
    CHANNELS,
    CONTACTS,
    DELIVERIES,
    HANDOFFS,
    INSIGHTS,
    METRICS_SERVER,
    PIPELINE,
    REVIEW,
    SETTINGS,
    USERS,
)
from bot.gateway.limits import ClientLimits
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.metrics_server import MetricsServer
from bot.gateway.outbox import Outbox
from bot.gateway.pipeline import Pipeline
from bot.gateway.pipeline.answering import Answerer
from bot.gateway.pipeline.delivery import Delivery
from bot.gateway.pipeline.intake import Intake
from bot.gateway.pipeline.scheduling import Scheduler
from bot.gateway.review_desk import ReviewDesk
from bot.gateway.security import cors_preflight, security_headers
from bot.gateway.users import Users
from bot.handoff.events import Broker
from bot.handoff.queue import HandoffQueue
from bot.handoff.redis_events import RedisBroker
from bot.settings import Settings, get_settings
from bot.store import migrate
from bot.store.catalogue_cache import CatalogueCache
from bot.store.db import make_engine, make_sessionmaker

log = logging.getLogger("bot.gateway")


def _broker(settings: Settings) -> Broker:
    return (
        Broker() if settings.events_url is None else RedisBroker(settings.events_url, settings.events_channel)
    )


def assemble(
    settings: Settings,
    sessions: sessionmaker[Session],
    http: aiohttp.ClientSession,
    channels: Channels,
    broker: Broker,
    metrics: GatewayMetrics,
) -> Pipeline:
    """Build the pipeline and its parts, each given every dependency it needs."""
    outbox = Outbox(
        sessions,
        channels.providers(),
        f"{socket.gethostname()}:{os.getpid()}",
        concurrency=settings.outbox_concurrency,
        max_attempts=settings.outbox_max_attempts,
        metrics=metrics,
    )
    inbox = Inbox(sessions, outbox.queue, outbox.wake)
    delivery = Delivery(inbox, outbox, channels, metrics)
    engine = EngineClient(
        http,
        settings.engine_url,
        settings.engine_timeout_seconds,
        settings.engine_token,
        actions_url=settings.action_server_url,
        metrics=metrics,
    )
    stale_after = timedelta(seconds=settings.agent_timeout_seconds)
    handoffs = Handoffs(
        HandoffQueue(sessions),
        inbox,
        engine,
        broker,
        delivery,
        stale_after,
        settings.public_url,
        Deliveries(sessions),
    )
    catalogue = CatalogueCache(sessions, settings.catalogue_cache_seconds)
    answerer = Answerer(settings, engine, handoffs, catalogue)
    scheduler = Scheduler(settings, inbox, answerer, delivery, channels)
    intake = Intake(settings, inbox, ClientLimits(settings), metrics)
    return Pipeline(intake, scheduler, outbox, handoffs, inbox)


def resources(channels: Channels) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context: open the store, the channels, the live events and the background loops; close
    them on shutdown."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        store = make_engine(settings.database_url)
        migrate.require_current(store)
        sessions = make_sessionmaker(store)
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        for channel in channels:
            await channel.open(sessions)
        broker = _broker(settings)
        if isinstance(broker, RedisBroker):
            await broker.start()
            if not broker.listening:
                log.warning(
                    "live events: Redis at EVENTS_URL is not answering yet; retrying in the background"
                )
        metrics = GatewayMetrics()
        pipeline = assemble(settings, sessions, http, channels, broker, metrics)
        app[PIPELINE] = pipeline
        app[HANDOFFS] = pipeline.handoffs
        app[USERS] = Users(sessions)
        app[CONTACTS] = Contacts(sessions)
        app[DELIVERIES] = Deliveries(sessions)
        app[ATTACHMENTS] = Attachments(sessions)
        app[INSIGHTS] = InsightsReader(sessions)
        app[REVIEW] = ReviewDesk(sessions)
        metrics_server = None
        if settings.metrics_port:
            metrics_server = MetricsServer(metrics, sessions, settings.metrics_host, settings.metrics_port)
            await metrics_server.start()
        app[METRICS_SERVER] = metrics_server
        workers = [
            asyncio.create_task(pipeline.scheduler.retry_forever()),
            asyncio.create_task(pipeline.outbox.run_forever()),
        ]
        yield
        if metrics_server is not None:
            await metrics_server.stop()
        for worker in workers:
            worker.cancel()
        await pipeline.drain()
        await http.close()
        if isinstance(broker, RedisBroker):
            await broker.close()
        for channel in channels:
            await channel.close()
        store.dispose()

    return run


def create_app(
    settings: Settings | None = None, channels: Sequence[Channel] | None = None
) -> web.Application:
    """The gateway application (factory used by `python -m bot.gateway` and by the tests); `channels`
    replaces the standard ones (the webchat, and WhatsApp when Twilio is configured)."""
    settings = settings or get_settings()
    app = web.Application(
        middlewares=[cors_preflight(settings), api_errors], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app.on_response_prepare.append(security_headers(settings))  # type: ignore[arg-type]
    served = Channels(default_channels(settings) if channels is None else channels)
    app[CHANNELS] = served
    for channel in served:
        channel.add_routes(app)
    agent.add_routes(app)
    insights.add_routes(app)
    review.add_routes(app)
    if not any(not c.answers_in_response for c in served):
        log.warning("WhatsApp disabled: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM")
    app.cleanup_ctx.append(resources(served))
    return app
