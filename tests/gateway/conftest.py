"""Gateway fixtures: a real SQLite store, a fake engine, a fake Twilio REST API and the gateway under test."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp.plugin import AiohttpClient, AiohttpServer
from sqlalchemy import inspect, select, text

from bot.answers.billing import card_data_warning
from bot.answers.question import Question
from bot.catalogue.loader import load_catalogue
from bot.gateway.app import create_app
from bot.gateway.keys import PIPELINE
from bot.gateway.pipeline import Pipeline
from bot.settings import Settings
from bot.store.catalogue_repo import save_catalogue
from bot.store.db import make_engine, make_sessionmaker
from bot.store.demo import seed_demo
from bot.store.migrate import upgrade
from bot.store.models import InboundMessage
from testkit.fake_twilio import FakeTwilio
from testkit.signing import twilio_signature

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-twilio-auth-token-0123456789"
WHATSAPP_FROM = "whatsapp:+14155238886"
PUBLIC_URL = "https://bot.example.com"
JWT_SECRET = "test-jwt-secret-" + "0123456789abcdef" * 4
ENGINE_TIMEOUT = 0.5
WHATSAPP_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"

ANA_PHONE = "+5215510000001"  # user 1, admin of account 1, verified
UNVERIFIED_PHONE = "+5215520000004"  # user 4, phone not verified
UNKNOWN_PHONE = "+5215599999999"


# --- the store ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite store with the catalogue and the demo accounts, built once."""
    path = tmp_path_factory.mktemp("gateway-store") / "seeded.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        save_catalogue(session, load_catalogue())
        seed_demo(session)
    with engine.connect() as connection:  # fold the WAL into the file, so one file is the whole store
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def database_url(seeded_store: Path, tmp_path: Path) -> str:
    """A fresh copy of the seeded store for one test."""
    path = tmp_path / "gateway.db"
    shutil.copyfile(seeded_store, path)
    return f"sqlite:///{path}"


def rows(database_url: str, table: str) -> list[dict[str, Any]]:
    """Every row of a table, as dicts."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def inbound(database_url: str) -> list[InboundMessage]:
    """The stored inbound messages, oldest first."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
    finally:
        engine.dispose()


def every_stored_value(database_url: str) -> list[str]:
    """Every non-null value of every column of every table, as text (where a leak would be found)."""
    engine = make_engine(database_url)
    values: list[str] = []
    try:
        tables = inspect(engine).get_table_names()
        assert {"inbound_messages", "outbound_messages", "delivery_statuses"} <= set(tables)
        with engine.connect() as connection:
            for table in tables:
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    values += [str(v) for v in row if v is not None]
    finally:
        engine.dispose()
    return values


# --- the fake engine ------------------------------------------------------------------------------------
Answer = Callable[[dict[str, Any]], list[dict[str, Any]]]


def echo(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The default answer: one text echoing the message."""
    return [{"recipient_id": payload["sender"], "text": f"eco: {payload['message']}"}]


BUTTONS = [
    {"title": "Básico", "payload": '/elegir_plan{"plan": "basico"}'},
    {"title": "Profesional", "payload": '/elegir_plan{"plan": "profesional"}'},
    {"title": "Enterprise", "payload": '/elegir_plan{"plan": "enterprise"}'},
]
TABLE = {"table": {"columns": ["Plan", "Precio"], "rows": [["Básico", "10"], ["Profesional", "20"]]}}


def with_buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A text with three buttons, then a table (a custom message)."""
    sender = payload["sender"]
    return [
        {"recipient_id": sender, "text": "¿Qué plan te interesa?", "buttons": BUTTONS},
        {"recipient_id": sender, "custom": TABLE},
    ]


@dataclass
class FakeEngine:
    """The engine's REST channel: records what it receives and answers as told."""

    url: str = ""
    mode: str = "ok"  # ok | down | slow | buttons
    answer: Answer = echo
    slow_seconds: float = 3.0
    # Extra delay before answering a given message text (to prove ordering).
    delays: dict[str, float] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    max_active: int = 0  # most messages of one sender at the engine at once
    peak: int = 0  # most messages at the engine at once, all senders
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def messages(self) -> list[str]:
        """The texts received, in order."""
        return [p["message"] for p in self.received]

    async def webhook(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.received.append(payload)
        sender = payload["sender"]
        self.active[sender] = self.active.get(sender, 0) + 1
        self.max_active = max(self.max_active, self.active[sender])
        self.peak = max(self.peak, sum(self.active.values()))
        try:
            if self.mode == "down":
                return web.Response(status=500, text="engine failure")
            delay = self.slow_seconds if self.mode == "slow" else self.delays.get(payload["message"], 0.0)
            if delay:
                # Released at teardown, so a slow answer never holds the test server open.
                with _suppress_timeout():
                    await asyncio.wait_for(self.release.wait(), delay)
            answer = with_buttons if self.mode == "buttons" else self.answer
            return web.json_response(answer(payload))
        finally:
            self.active[sender] -= 1


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is TimeoutError


@pytest.fixture
async def engine(aiohttp_server: AiohttpServer) -> AsyncIterator[FakeEngine]:
    """The fake engine on loopback."""
    fake = FakeEngine()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    server: TestServer = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    fake.release.set()


# --- the fake Twilio REST API ---------------------------------------------------------------------------
@pytest.fixture
async def twilio(aiohttp_server: AiohttpServer) -> FakeTwilio:
    """The fake Twilio REST API (testkit/fake_twilio.py) on loopback, in the test's own loop."""
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    server: TestServer = await aiohttp_server(fake.app())
    assert server.port is not None
    fake.host, fake.port = server.host, server.port
    return fake


# --- the gateway under test -----------------------------------------------------------------------------
def make_settings(
    database_url: str, engine_url: str, twilio_api_base: str | None, **overrides: Any
) -> Settings:
    """Settings for the tests; every value the tests rely on is explicit (no `.env`, no environment)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "engine_url": engine_url,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_whatsapp_from": WHATSAPP_FROM,
        "twilio_api_base": twilio_api_base,
        "public_url": PUBLIC_URL,
        "jwt_secret": JWT_SECRET,
        "jwt_issuer": None,
        "dev_mode": False,
        "dev_token_minutes": 60,
        "max_message_chars": 2000,
        "max_body_bytes": 64 * 1024,
        "engine_timeout_seconds": ENGINE_TIMEOUT,
        # The background retry loop stays out of the way: tests call retry_pending() themselves.
        "retry_interval_seconds": 3600.0,
        "rate_limit_per_second": 0.001,
        "rate_limit_burst": 50,
        "catalogue_cache_seconds": 30.0,
        # Off unless a test asks for them on a port of its own (several gateways run in one process).
        "metrics_port": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def token_settings(**overrides: Any) -> Settings:
    """Settings with the gateway's token secret (for minting and reading tokens outside a gateway)."""
    values: dict[str, Any] = {"jwt_secret": JWT_SECRET, "jwt_issuer": None, **overrides}
    return Settings(_env_file=None, **values)


@dataclass
class Gateway:
    """The gateway under test, with helpers for both channels."""

    client: TestClient[web.Request, web.Application]
    settings: Settings

    @property
    def app(self) -> web.Application:
        return self.client.app

    @property
    def pipeline(self) -> Pipeline:
        return self.app[PIPELINE]

    async def chat(
        self,
        body: Any,
        *,
        token: str | None = None,
        cookie: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        """POST /api/chat with a JSON body (or raw bytes/str), a bearer token and a conversation cookie."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            sent["Cookie"] = f"zcc_conversation={cookie}"
        if isinstance(body, bytes | str):
            sent.setdefault("Content-Type", "application/json")
            return await self.client.post("/api/chat", data=body, headers=sent)
        return await self.client.post("/api/chat", json=body, headers=sent)

    async def webhook(
        self, params: dict[str, str], *, path: str = WHATSAPP_PATH, signature: str | None = ""
    ) -> aiohttp.ClientResponse:
        """POST a Twilio webhook; signed for our public URL unless a signature (or None: none) is given."""
        headers = {}
        if signature == "":
            signature = sign(path, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(path, data=params, headers=headers)

    async def settle(self) -> None:
        """Wait for the background answers to finish."""
        await self.pipeline.drain()


def card_notice() -> str:
    """The card-data warning the gateway puts first when a message carried card data."""
    return card_data_warning(load_catalogue(), Question("share_card_data")).messages[0].text


def sign(path: str, params: dict[str, str], *, base: str = PUBLIC_URL, token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio computes for these form params posted to base + path."""
    return twilio_signature(token, base + path, params)


def incoming(body: str = "hola", phone: str = ANA_PHONE, **extra: str) -> dict[str, str]:
    """The form params of an incoming WhatsApp message as Twilio posts them."""
    return {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "SmsMessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "To": WHATSAPP_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": "Cliente",
        "WaId": phone.removeprefix("+"),
        "ApiVersion": "2010-04-01",
        **extra,
    }


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
def start_gateway(
    aiohttp_client: AiohttpClient, database_url: str, engine: FakeEngine, twilio: FakeTwilio
) -> StartGateway:
    """Start a gateway against the fakes; keyword arguments override settings."""

    async def start(**overrides: Any) -> Gateway:
        settings = make_settings(database_url, engine.url, twilio.base_url, **overrides)
        # No cookie jar: the tests send the conversation cookie themselves, explicitly.
        client = await aiohttp_client(create_app(settings), cookie_jar=aiohttp.DummyCookieJar())
        return Gateway(client, settings)

    return start


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> Gateway:
    """The gateway with the default test settings (WhatsApp enabled, development mode off)."""
    return await start_gateway()
