"""What the outside attack run found, as attacks: dodging the rate limit (dropping or forging the cookie,
spoofing X-Forwarded-For, fresh tokens, a WhatsApp number flooding), answers without security headers,
forged log lines, cross-origin reads and a forged `X-Conversation` header."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from bot import logs
from bot.gateway.__main__ import PathOnlyAccessLogger
from bot.gateway.app import create_app
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ANA_PHONE,
    FakeEngine,
    Gateway,
    StartGateway,
    incoming,
    make_settings,
)
from tests.security.conftest import ANA, tampered, token_for, unsigned_token

BURST = 4
SLOW = {"rate_limit_burst": BURST, "rate_limit_per_second": 0.01}
SITE = "https://www.cliente.example"


async def statuses(requests: list[Any]) -> list[int]:
    return sorted(response.status for response in await asyncio.gather(*requests))


# --- dodging the per-client limit -------------------------------------------------------------------------
async def test_dropping_or_forging_the_cookie_buys_no_requests(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(**SLOW)
    first = await gateway.chat({"message": "hola"})
    real = first.cookies["zcc_conversation"].value
    cookies = [None, "", "basura", unsigned_token({"cid": "x", "typ": "anon-conversation"})]
    cookies += [tampered(real, cid=uuid.uuid4().hex) for _ in range(4)]
    sent = [gateway.chat({"message": f"hola {n}"}, cookie=cookie) for n, cookie in enumerate(cookies)]
    assert await statuses(sent) == [200] * (BURST - 1) + [429] * (len(cookies) - BURST + 1)
    assert len(engine.received) == BURST


async def test_a_spoofed_forwarded_for_is_not_believed_without_trusted_proxies(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(**SLOW)  # no proxy in front: X-Forwarded-For is the client's word
    sent = [
        gateway.chat({"message": "hola"}, headers={"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(10)
    ]
    assert await statuses(sent) == [200] * BURST + [429] * (10 - BURST)
    assert len(engine.received) == BURST


async def test_entries_prepended_to_the_proxys_forwarded_for_are_not_believed(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(**SLOW, trusted_proxy_hops=1)
    # The client writes whatever it likes; the trusted proxy appends the address it saw, last.
    sent = [
        gateway.chat({"message": "hola"}, headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.9"})
        for n in range(10)
    ]
    assert await statuses(sent) == [200] * BURST + [429] * (10 - BURST)


async def test_fresh_tokens_from_many_addresses_are_one_user(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(**SLOW, trusted_proxy_hops=1)
    sent = [
        gateway.chat(
            {"message": "hola"},
            token=token_for(ANA, minutes=10 + n),  # a different token each time
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        for n in range(10)
    ]
    assert await statuses(sent) == [200] * BURST + [429] * (10 - BURST)


async def test_a_flooding_whatsapp_number_reaches_the_engine_only_up_to_its_limit(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    gateway = await start_gateway(**SLOW)
    responses = await asyncio.gather(*(gateway.webhook(incoming(f"hola {n}")) for n in range(10)))
    # Twilio always hears 200 (a refusal would only make it retry); the flood is held back behind it.
    assert [r.status for r in responses] == [200] * 10
    await gateway.settle()
    assert len(engine.received) == BURST
    notices = [body for body in twilio.bodies if "muchos mensajes" in body.lower()]
    assert len(notices) <= 1  # told once, not once per message
    assert all(m["To"] == f"whatsapp:{ANA_PHONE}" for m in twilio.sent)


# --- security headers on every answer, errors included ---------------------------------------------------
async def refusals(gateway: Gateway) -> dict[str, aiohttp.ClientResponse]:
    return {
        "404": await gateway.client.get("/nada-aqui"),
        "405": await gateway.client.delete("/api/chat"),
        "400": await gateway.chat(b"{no es json"),
        "401": await gateway.client.get("/api/agent/queue", headers={"Authorization": "Bearer x.y.z"}),
        "403 forged webhook": await gateway.webhook(incoming(), signature="falsa"),
        "413": await gateway.chat({"message": "x" * 100_000}),
        "429": [await gateway.chat({"message": "hola"}) for _ in range(BURST + 1)][-1],
        "the widget": await gateway.client.get("/widget.js"),
        "the embedding settings": await gateway.client.get("/api/embed"),
    }


async def test_every_refusal_carries_the_security_headers(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(**SLOW)
    for what, response in (await refusals(gateway)).items():
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", what
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), what
        assert "unsafe-inline" not in headers["Content-Security-Policy"], what
        assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", what
        assert headers.get("Server") == "asistente", what
        assert not re.search(r"python|aiohttp|\d+\.\d+", headers.get("Server", ""), re.IGNORECASE), what
        if what[0].isdigit():
            assert response.status == int(what[:3]), (what, response.status)


# --- cross-origin -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",  # a sandboxed frame or a file:// page
        "http://www.cliente.example",  # the allowed site over plain HTTP
        "https://www.cliente.example.evil.example",
        "https://evil.example/https://www.cliente.example",
        "https://WWW.CLIENTE.EXAMPLE.",
    ],
)
async def test_no_other_origin_may_read_the_chat_with_credentials(
    start_gateway: StartGateway, origin: str
) -> None:
    gateway = await start_gateway(embed_origins=[SITE])
    asked = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    preflight = await gateway.client.options("/api/chat", headers=asked)
    answer = await gateway.chat({"message": "hola"}, token=token_for(ANA), headers={"Origin": origin})
    history = await gateway.client.get(
        "/api/chat/history", headers={"Origin": origin, "Authorization": f"Bearer {token_for(ANA)}"}
    )
    for response in (preflight, answer, history):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
    frame = (await gateway.client.get("/")).headers["Content-Security-Policy"]
    assert f"frame-ancestors {SITE};" in frame + ";" and "*" not in frame


# --- the X-Conversation header of framed pages ----------------------------------------------------------
async def test_a_forged_conversation_header_never_joins_another_conversation(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(embed_origins=[SITE])
    first = await gateway.chat({"message": "quiero el plan Specialist"})
    header = first.headers["X-Conversation"]
    victim = engine.received[0]["sender"]
    conversation = victim.removeprefix("web:a:")
    for forged in (
        conversation,  # the bare id
        jwt.encode({"cid": conversation, "typ": "anon-conversation"}, "x" * 32, algorithm="HS256"),
        unsigned_token({"cid": conversation, "typ": "anon-conversation"}),
        tampered(header, cid=conversation + "x"),
        token_for(ANA),
    ):
        response = await gateway.chat({"message": "hola"}, headers={"X-Conversation": forged})
        assert response.status == 200
        assert engine.received[-1]["sender"] not in (victim, "web:u:1")
        assert engine.received[-1].get("metadata", {}).get("identity") is None
        history = await gateway.client.get("/api/chat/history", headers={"X-Conversation": forged})
        assert "Specialist" not in await history.text()
    own = await gateway.client.get("/api/chat/history", headers={"X-Conversation": header})
    assert "Specialist" in await own.text()  # the check above can fail


# --- forged log lines -------------------------------------------------------------------------------------
@pytest.fixture
def production_logs() -> Iterator[io.StringIO]:
    """The process's logging as `bot serve` sets it up (text format), written to a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("text")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ ")
HOSTILE = "\r\n2026-12-04 10:00:00,000 CRITICAL bot.gateway admin password reset\x00\x1b[2J"


async def test_no_request_can_write_a_log_line_of_its_own(
    aiohttp_client: Any,
    database_url: str,
    engine: FakeEngine,
    twilio: FakeTwilio,
    production_logs: io.StringIO,
) -> None:
    settings = make_settings(database_url, engine.url, twilio.base_url)
    server = TestServer(create_app(settings))
    await server.start_server(access_log_class=PathOnlyAccessLogger)  # as `bot serve` runs it
    client = await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())
    encoded = "".join(f"%{ord(c):02X}" if not c.isalnum() else c for c in HOSTILE)
    await client.get(f"/static/x{encoded}")
    await client.get(f"/api/{encoded}")
    await client.post("/api/chat", json={"message": "hola" + HOSTILE, "id": "id" + HOSTILE})
    gateway = Gateway(client, settings)
    await gateway.webhook(incoming("hola" + HOSTILE))
    await gateway.webhook(incoming("hola", ProfileName="Ana" + HOSTILE))
    await gateway.settle()
    written = production_logs.getvalue()
    lines = [line for line in written.split("\n") if line]
    assert any("/static/x" in line for line in lines)  # the access log did write them
    forged = [line for line in lines if not LINE.match(line) and not line.startswith(("Traceback", " "))]
    assert forged == [], written[:3000]
    assert "\x00" not in written and "\x1b" not in written and "\r" not in written
    assert sum("CRITICAL bot.gateway admin" in line[:60] for line in lines) == 0
