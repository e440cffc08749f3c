"""Messages kept while the engine was down are answered as soon as it is back, not a retry interval later:
the retry loop checks the engine's health a few times a second while a backlog waits, then answers the
backlog oldest first, each sender's messages in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp.plugin import AiohttpClient, AiohttpServer

from bot.gateway.app import create_app
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import Gateway, incoming, make_settings, rows

PHONES = ("+5215599990001", "+5215599990002", "+5215599990003")


@dataclass
class Engine:
    """An engine that is down or up, answering its root URL (the health check) and its REST channel."""

    url: str = ""
    up: bool = False
    received: list[tuple[str, str]] = field(default_factory=list)

    async def root(self, _request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa") if self.up else web.Response(status=503)

    async def webhook(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = await request.json()
        if not self.up:
            return web.Response(status=500, text="engine failure")
        self.received.append((payload["sender"], payload["message"]))
        return web.json_response([{"recipient_id": payload["sender"], "text": f"eco: {payload['message']}"}])


@pytest.fixture
async def switchable(aiohttp_server: AiohttpServer) -> AsyncIterator[Engine]:
    engine = Engine()
    app = web.Application()
    app.router.add_get("/", engine.root)
    app.router.add_post("/webhooks/rest/webhook", engine.webhook)
    server: TestServer = await aiohttp_server(app)
    engine.url = str(server.make_url("")).rstrip("/")
    yield engine


async def test_a_backlog_is_answered_once_the_engine_is_back_oldest_first_and_in_order(
    aiohttp_client: AiohttpClient, switchable: Engine, twilio: FakeTwilio, database_url: str
) -> None:
    # A retry interval far longer than the test: only the health checks can start the drain in time.
    settings = make_settings(database_url, switchable.url, twilio.base_url, retry_interval_seconds=120.0)
    client = await aiohttp_client(create_app(settings), cookie_jar=aiohttp.DummyCookieJar())
    gateway = Gateway(client, settings)
    sent: list[tuple[str, str]] = []
    for turn in range(3):
        for phone in PHONES:
            text = f"mensaje {turn} de {phone[-1]}"
            response = await gateway.webhook(incoming(text, phone=phone))
            assert response.status == 200
            sent.append((f"wa:{phone}", text))
    await gateway.settle()  # each was tried once and kept (the engine is down)
    assert switchable.received == []
    kept = rows(database_url, "inbound_messages")
    assert [r["status"] for r in kept] == ["pending"] * len(sent)

    switchable.up = True
    for _ in range(200):  # 20 s at most, against the 120 s retry interval
        if len(switchable.received) == len(sent):
            break
        await asyncio.sleep(0.1)
    assert sorted(switchable.received) == sorted(sent), switchable.received
    # The oldest first, and each sender's messages in the order they arrived.
    assert switchable.received[0] == sent[0]
    for phone in PHONES:
        mine = [text for sender, text in switchable.received if sender == f"wa:{phone}"]
        assert mine == [text for sender, text in sent if sender == f"wa:{phone}"]
    await gateway.settle()
    assert {r["status"] for r in rows(database_url, "inbound_messages")} == {"answered"}
