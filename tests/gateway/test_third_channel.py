"""A new channel is one module plus its registration: a fake SMS channel, written here against the
`Channel` interface alone, runs conversations through the real pipeline (intake, scheduling, answering,
delivery through the outbox) beside the webchat, without a line of the gateway changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from bot.answers import csat, notices
from bot.gateway import tokens
from bot.gateway.app import create_app
from bot.gateway.channels import Incoming, Rendered
from bot.gateway.channels.webchat import WebchatChannel
from bot.gateway.keys import PIPELINE
from bot.gateway.outbound import OutboundText
from bot.gateway.render import split_text
from tests.gateway.conftest import FakeEngine, inbound, make_settings, rows

SMS_LIMIT = 160


@dataclass
class SmsProvider:
    """The SMS operator's API: records what it was asked to send."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    window: timedelta | None = None  # SMS may write at any time

    async def send(self, text: OutboundText) -> str:
        self.sent.append((text.to, text.body))
        return f"sms-{len(self.sent)}"

    async def find(self, text: OutboundText, since: datetime, exclude: set[str]) -> str | None:
        return None

    def reopener(self) -> dict[str, Any] | None:
        return None

    def window_closed(self, code: str | None) -> bool:
        return False


class SmsWebhook(BaseModel):
    """What the operator posts for an incoming SMS."""

    id: str
    phone: str
    text: str


class SmsChannel:
    """SMS: answered later, plain text in parts of at most 160 characters, buttons as numbered options."""

    name = "sms"
    answers_in_response = False

    def __init__(self) -> None:
        self.operator = SmsProvider()

    def render(self, replies: list[dict[str, Any]]) -> Rendered:
        texts: list[str] = []
        for reply in replies:
            text = str(reply.get("text") or "")
            titles = [b["title"] for b in reply.get("buttons") or []]
            if titles:
                text += "".join(f"\n{i}. {t}" for i, t in enumerate(titles, start=1))
            texts += split_text(text, SMS_LIMIT)
        return Rendered(tuple(texts))

    def provider(self) -> SmsProvider:
        return self.operator

    async def open(self, store: sessionmaker[Session]) -> None:
        return None

    async def close(self) -> None:
        return None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/webhooks/sms", self.incoming)

    async def incoming(self, request: web.Request) -> web.Response:
        body = SmsWebhook.model_validate_json(await request.read())
        message = Incoming(self.name, body.id, f"sms:{body.phone}", body.text, reply_to=body.phone)
        await request.app[PIPELINE].receive(self, message)
        return web.Response(status=204)


async def test_a_third_channel_converses_through_the_real_pipeline(
    aiohttp_client: Any, database_url: str, engine: FakeEngine
) -> None:
    sms = SmsChannel()
    settings = make_settings(database_url, engine.url, None)
    app = create_app(settings, channels=[WebchatChannel(settings), sms])
    client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    pipeline = app[PIPELINE]

    async def text(message_id: str, body: str, phone: str = "+5215512345678") -> None:
        response = await client.post("/webhooks/sms", json={"id": message_id, "phone": phone, "text": body})
        assert response.status == 204

    engine.delays["primero"] = 0.2  # answered in order even when the first takes longer
    await text("m1", "primero")
    await text("m2", "segundo")
    await text("m2", "segundo")  # a replay of the same id: answered once
    await pipeline.drain()
    assert engine.messages == ["primero", "segundo"]
    assert sms.operator.sent == [("+5215512345678", "eco: primero"), ("+5215512345678", "eco: segundo")]
    assert {m.channel for m in inbound(database_url)} == {"sms"}
    assert [(r["channel"], r["status"]) for r in rows(database_url, "outbound_messages")] == [
        ("sms", "sent")
    ] * 2

    # Rendering is the channel's: a long answer with buttons, split for SMS.
    engine.mode = "buttons"
    await text("m3", "planes")
    await pipeline.drain()
    parts = [body for _, body in sms.operator.sent[2:]]
    assert all(len(p) <= SMS_LIMIT for p in parts) and "1. Básico" in "\n".join(parts)

    # Card data is masked before anything is stored or sent to the engine, as on every channel.
    engine.mode = "ok"
    await text("m4", "mi tarjeta 4111 1111 1111 1111")
    await pipeline.drain()
    assert "4111 1111" not in engine.messages[-1]

    # The engine down: the user is told once, the message is kept and answered when it is back.
    engine.mode = "down"
    await text("m5", "sigues ahí?", phone="+5215599990000")
    await pipeline.drain()
    assert sms.operator.sent[-1] == ("+5215599990000", notices.APOLOGY)
    engine.mode = "ok"
    assert await pipeline.retry_pending() == 1
    await pipeline.drain()
    assert sms.operator.sent[-1] == ("+5215599990000", "eco: sigues ahí?")

    # The webchat, served beside it, is untouched.
    response = await client.post("/api/chat", json={"message": "hola"})
    assert response.status == 200 and (await response.json())[0]["text"] == "eco: hola"


async def test_a_third_channel_gets_the_satisfaction_question_as_numbered_options(
    aiohttp_client: Any, database_url: str, engine: FakeEngine
) -> None:
    """Nothing of the survey is channel-specific: a text-only channel shows the options numbered, and a typed
    number (option n is rating n) is the rating."""
    sms = SmsChannel()
    settings = make_settings(database_url, engine.url, None)
    app = create_app(settings, channels=[WebchatChannel(settings), sms])
    client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    pipeline = app[PIPELINE]
    phone = "+5215512340000"

    async def text(message_id: str, body: str) -> None:
        response = await client.post("/webhooks/sms", json={"id": message_id, "phone": phone, "text": body})
        assert response.status == 204
        await pipeline.drain()

    engine.answer = lambda payload: [
        {"text": "Te comunico con una persona."},
        {"custom": {"type": "handoff", "reason": "requested"}},
    ]
    await text("h1", "quiero hablar con una persona")
    [handoff] = rows(database_url, "handoffs")
    carla = {"Authorization": f"Bearer {tokens.mint(7, 4, 'agent', 'Carla Soporte', settings, 10)}"}
    assert (await client.post(f"/api/agent/handoffs/{handoff['id']}/take", headers=carla)).status == 200
    assert (await client.post(f"/api/agent/handoffs/{handoff['id']}/resolve", headers=carla)).status == 200
    await pipeline.drain()
    shown = "\n".join(body for to, body in sms.operator.sent if to == phone)
    assert "¿cómo calificarías la atención" in shown
    assert all(f"{n}. {title}" in shown for n, (title, _) in enumerate(csat.OPTIONS, start=1))

    engine.answer = lambda payload: [{"text": f"eco: {payload['message']}"}]
    asked = len(engine.messages)
    await text("h2", "5")
    assert sms.operator.sent[-1] == (phone, csat.THANKS)
    assert len(engine.messages) == asked  # the assistant never heard it
    [handoff] = rows(database_url, "handoffs")
    assert handoff["csat_rating"] == 5
