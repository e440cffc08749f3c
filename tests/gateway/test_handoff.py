"""Hand-off to a person, through the gateway: webchat and WhatsApp loops, queue positions, concurrency.

The engine is a fake that also serves the tracker events API (pause / resume) and behaves like Rasa
with a paused conversation (it answers nothing). The store is a real SQLite copy of the seeded demo
data, Twilio's REST API is the fake from conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp.plugin import AiohttpClient, AiohttpServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.answers import csat
from bot.answers.notices import RESOLVED, position_text
from bot.dialogue.report import take_report
from bot.gateway import tokens
from bot.gateway.app import create_app
from bot.gateway.channels.webchat import COOKIE
from bot.gateway.contacts import masked
from bot.gateway.handoffs import Handoffs
from bot.gateway.keys import HANDOFFS, PIPELINE
from bot.gateway.pipeline import Pipeline
from bot.handoff.events import conversation_topic
from bot.handoff.triggers import REASONS
from bot.settings import Settings
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import User
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ANA_PHONE,
    WHATSAPP_PATH,
    incoming,
    make_settings,
    rows,
    sign,
)

ENGINE_TOKEN = "engine-api-token-for-tests"
TRIGGER = "quiero hablar con una persona"
LEAD = "Te comunico con una persona del equipo de soporte. Te escribirá por este mismo chat."
CARLA = (7, "Carla Soporte")
DIEGO = (90, "Diego Soporte")  # a second agent, added to the test's store (8 is the demo supervisor)
ANA = (1, "Ana Torres")  # admin of account 1
LUIS = (2, "Luis Gómez")  # member of account 1
ANA_WHATSAPP = f"whatsapp:{ANA_PHONE}"
# A Luhn-valid card number nobody else uses in these tests.
CARD = "4929 4205 7395 4518"
WAIT = 5.0


# --- the fake engine ------------------------------------------------------------------------------------
@dataclass
class HandoffEngine:
    """Rasa's REST channel and tracker events API, as far as hand-offs need them.

    A message mentioning "persona" gets the lead text and the hand-off payload action_handoff emits;
    anything else gets an echo. A paused conversation gets no answer at all, as Rasa does.
    """

    url: str = ""
    lead: list[dict[str, Any]] = field(default_factory=lambda: [{"text": LEAD}])
    reason: str = "requested"
    delays: dict[str, float] = field(default_factory=dict)
    # Delay before the tracker events API applies an event (the moment between "resolved" and "resumed").
    event_delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str, str | None]] = field(default_factory=list)
    paused: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    # Replies to give any message instead of the echo (options to offer, say).
    scripted: list[dict[str, Any]] | None = None

    def messages(self, sender: str | None = None) -> list[str]:
        """The texts received (from one sender), in order."""
        return [p["message"] for p in self.received if sender is None or p["sender"] == sender]

    def events_of(self, sender: str) -> list[tuple[str, str | None]]:
        """The tracker events appended to a conversation, with the token they came with."""
        return [(event, token) for who, event, token in self.events if who == sender]

    async def webhook(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.received.append(payload)
        sender, message = payload["sender"], payload["message"]
        delay = self.delays.get(message, 0.0)
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), delay)
        if sender in self.paused:
            return web.json_response([])
        if "persona" in message:
            custom = {"type": "handoff", "reason": self.reason}
            answer = [*self.lead, {"custom": custom}]
            return web.json_response([{"recipient_id": sender, **m} for m in answer])
        if self.scripted is not None:
            return web.json_response([{"recipient_id": sender, **m} for m in self.scripted])
        return web.json_response([{"recipient_id": sender, "text": f"eco: {message}"}])

    async def tracker_events(self, request: web.Request) -> web.Response:
        # Rasa (Sanic) takes the conversation id from the path exactly as sent, without percent-decoding
        # it: "wa:%2B52..." names another conversation than "wa:+52...".
        sender = request.raw_path.split("?")[0].split("/")[2]
        event = (await request.json()).get("event")
        token = request.query.get("token")
        self.events.append((sender, str(event), token))
        if self.event_delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.event_delay)
        if token != ENGINE_TOKEN:
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        if event == "pause":
            self.paused.add(sender)
        elif event == "resume":
            self.paused.discard(sender)
        return web.json_response({"sender_id": sender, "events": [], "paused": sender in self.paused})


async def start_engine(aiohttp_server: AiohttpServer) -> HandoffEngine:
    """The fake engine on loopback."""
    fake = HandoffEngine()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    app.router.add_post("/conversations/{sender}/tracker/events", fake.tracker_events)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


# --- server-sent events ---------------------------------------------------------------------------------
class Stream:
    """A server-sent events response, read event by event."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def next(self, timeout: float = WAIT) -> tuple[str, dict[str, Any]]:
        """The next event (name, data); comments (heartbeats) are skipped."""
        name, data = "message", list[str]()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no event within {timeout} s; seen so far: {self.seen}")
            try:
                raw = await asyncio.wait_for(self.response.content.readline(), left)
            except TimeoutError:
                continue
            if not raw:
                raise AssertionError(f"the stream ended; seen: {self.seen}")
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    event = (name, json.loads("\n".join(data)))
                    self.seen.append(event)
                    return event
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)

    async def until(
        self, wanted: Callable[[str, dict[str, Any]], bool], timeout: float = WAIT
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events up to and including the first one `wanted` accepts."""
        found = []
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(0.01, deadline - time.monotonic()))
            found.append(event)
            if wanted(*event):
                return found

    async def quiet(self, seconds: float) -> list[tuple[str, dict[str, Any]]]:
        """Whatever arrives within `seconds` (tests usually expect nothing)."""
        found = []
        with contextlib.suppress(AssertionError):
            while True:
                found.append(await self.next(seconds))
        return found

    def close(self) -> None:
        self.response.close()


def message_event(role: str, contains: str = "") -> Callable[[str, dict[str, Any]], bool]:
    """Matches a live message of this role (whose text contains the given words)."""
    return lambda name, data: name == "message" and data.get("role") == role and contains in data["text"]


# --- the gateway ----------------------------------------------------------------------------------------
@dataclass
class Hub:
    """The gateway under test, its fakes and its store, with helpers for customers and agents."""

    client: TestClient[web.Request, web.Application]
    settings: Settings
    engine: HandoffEngine
    twilio: FakeTwilio
    database_url: str
    streams: list[Stream] = field(default_factory=list)

    @property
    def pipeline(self) -> Pipeline:
        return self.client.app[PIPELINE]

    @property
    def handoffs(self) -> Handoffs:
        return self.client.app[HANDOFFS]

    # --- customers --------------------------------------------------------------------------------------
    async def chat(
        self, message: str, cookie: str | None = None, token: str | None = None, msg_id: str | None = None
    ) -> tuple[int, Any, str | None]:
        """POST /api/chat; returns status, body and the conversation cookie (the one set, or the one sent)."""
        headers = {}
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"message": message}
        if msg_id is not None:
            body["id"] = msg_id
        response = await self.client.post("/api/chat", json=body, headers=headers)
        morsel = response.cookies.get(COOKIE)
        return response.status, await response.json(), morsel.value if morsel else cookie

    async def new_customer(self, first: str = "hola") -> tuple[str, str]:
        """An anonymous webchat customer who said something: (cookie, sender id)."""
        status, _, cookie = await self.chat(first)
        assert status == 200 and cookie is not None
        return cookie, sender_of(cookie, self.settings)

    async def whatsapp(self, body: str, phone: str = ANA_PHONE) -> None:
        """A signed incoming WhatsApp message, acknowledged with empty TwiML."""
        params = incoming(body, phone)
        response = await self.client.post(
            WHATSAPP_PATH, data=params, headers={"X-Twilio-Signature": sign(WHATSAPP_PATH, params)}
        )
        assert response.status == 200, await response.text()
        assert "<Response></Response>" in await response.text()

    async def settle(self) -> None:
        """Wait for the background answers (WhatsApp) to finish."""
        await self.pipeline.drain()

    def sent_to(self, address: str) -> list[str]:
        """What the fake Twilio sent to a WhatsApp address."""
        return [m.body for m in self.twilio.messages(address) if m.accepted]

    async def customer_events(self, cookie: str | None = None, token: str | None = None) -> Stream:
        """The customer's live stream (GET /api/chat/events)."""
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        params = {"access_token": token} if token else {}
        response = await self.client.get("/api/chat/events", headers=headers, params=params)
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = Stream(response)
        self.streams.append(stream)
        return stream

    async def subscribed(self, sender: str) -> None:
        """Wait until the customer's stream listens (the stream subscribes after sending its headers)."""
        broker = self.handoffs.broker
        for _ in range(200):
            if broker.subscribers(conversation_topic(sender)):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"nobody listens to {sender}")

    # --- agents -----------------------------------------------------------------------------------------
    def token(self, who: tuple[int, str], profile: str = "agent", account_id: int = 4) -> str:
        user_id, name = who
        return tokens.mint(user_id, account_id, profile, name, self.settings, 10)

    async def agent(
        self, method: str, path: str, who: tuple[int, str] | None = CARLA, body: Any = None
    ) -> tuple[int, Any]:
        """Call the console API as an agent (None: without a token)."""
        headers = {} if who is None else {"Authorization": f"Bearer {self.token(who)}"}
        response = await self.client.request(method, path, json=body, headers=headers)
        return response.status, await response.json()

    async def queue(self, who: tuple[int, str] = CARLA) -> list[dict[str, Any]]:
        status, body = await self.agent("GET", "/api/agent/queue", who)
        assert status == 200, body
        return list(body["handoffs"])

    async def take(self, handoff_id: int, who: tuple[int, str] = CARLA) -> tuple[int, Any]:
        return await self.agent("POST", f"/api/agent/handoffs/{handoff_id}/take", who)

    async def reply(self, handoff_id: int, message: str, who: tuple[int, str] = CARLA) -> tuple[int, Any]:
        return await self.agent("POST", f"/api/agent/handoffs/{handoff_id}/reply", who, {"text": message})

    async def resolve(self, handoff_id: int, who: tuple[int, str] = CARLA) -> tuple[int, Any]:
        return await self.agent("POST", f"/api/agent/handoffs/{handoff_id}/resolve", who)

    async def agent_events(self, who: tuple[int, str] = CARLA) -> Stream:
        response = await self.client.get("/api/agent/events", params={"access_token": self.token(who)})
        assert response.status == 200, await response.text()
        stream = Stream(response)
        self.streams.append(stream)
        return stream

    # --- the store --------------------------------------------------------------------------------------
    def handoff_rows(self, sender: str | None = None) -> list[dict[str, Any]]:
        return [r for r in rows(self.database_url, "handoffs") if sender is None or r["sender_id"] == sender]

    def transcript(self, handoff_id: int) -> list[tuple[str, str]]:
        """The stored hand-off transcript, oldest first."""
        found = [r for r in rows(self.database_url, "handoff_messages") if r["handoff_id"] == handoff_id]
        return [(r["role"], r["text"]) for r in sorted(found, key=lambda r: r["id"])]

    def inbound_rows(self, sender: str) -> list[dict[str, Any]]:
        found = [r for r in rows(self.database_url, "inbound_messages") if r["sender_id"] == sender]
        return sorted(found, key=lambda r: r["id"])


def sender_of(cookie: str, settings: Settings) -> str:
    """The sender id of an anonymous webchat conversation."""
    conversation = tokens.read_conversation(cookie, settings)
    assert conversation is not None
    return f"web:a:{conversation}"


def add_agent(database_url: str, who: tuple[int, str]) -> None:
    """Another support agent in the support team's account (4)."""
    store = make_engine(database_url)
    try:
        with make_sessionmaker(store).begin() as session:
            user_id, name = who
            email = name.lower().replace(" ", ".") + "@soporte.example"
            session.add(User(id=user_id, account_id=4, name=name, email=email, phone=None, profile="agent"))
    finally:
        store.dispose()


StartHub = Callable[..., Any]


@pytest.fixture
async def start_hub(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, database_url: str, twilio: FakeTwilio
) -> AsyncIterator[StartHub]:
    """Start the gateway against the hand-off engine; keyword arguments override settings."""
    hubs: list[Hub] = []
    add_agent(database_url, DIEGO)

    async def start(**overrides: Any) -> Hub:
        engine = await start_engine(aiohttp_server)
        settings = make_settings(
            database_url, engine.url, twilio.base_url, engine_token=ENGINE_TOKEN, **overrides
        )
        client = await aiohttp_client(create_app(settings), cookie_jar=aiohttp.DummyCookieJar())
        hub = Hub(client, settings, engine, twilio, database_url)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.engine.release.set()
        for stream in hub.streams:
            stream.close()


@pytest.fixture
async def hub(start_hub: StartHub) -> Hub:
    """The gateway with the test settings (WhatsApp on)."""
    hub: Hub = await start_hub()
    return hub


def queued(position: int) -> dict[str, Any]:
    """The custom payload telling the webchat its place in the queue."""
    return {"custom": {"type": "handoff", "status": "queued", "position": position}}


# --- the webchat loop -----------------------------------------------------------------------------------
async def test_webchat_hand_off_from_request_to_resolution(hub: Hub) -> None:
    engine = hub.engine
    status, answer, cookie = await hub.chat(f"mi tarjeta es {CARD}, ¿me cobran el plan expert?")
    assert status == 200 and cookie is not None
    sender = sender_of(cookie, hub.settings)
    assert "no compartas" in answer[0]["text"]  # the card notice, and the number never reached the engine
    assert CARD not in engine.messages()[0]

    # The user asks for a person: the assistant's words, then their place in the queue.
    status, answer, _ = await hub.chat(TRIGGER, cookie)
    assert status == 200
    assert answer == [{"recipient_id": sender, "text": LEAD}, {"text": position_text(1)}, queued(1)]
    assert engine.events_of(sender) == [("pause", ENGINE_TOKEN)]

    # The hand-off holds the conversation so far: user and bot lines, with the card masked.
    [row] = hub.handoff_rows(sender)
    assert (row["status"], row["channel"], row["reason"], row["user_id"]) == (
        "queued",
        "webchat",
        "requested",
        None,
    )
    lines = hub.transcript(row["id"])
    assert [role for role, _ in lines] == ["user", "bot", "bot", "user", "bot"]
    assert lines[0][1].startswith("mi tarjeta es ") and lines[0][1].endswith("¿me cobran el plan expert?")
    assert lines[3:] == [("user", TRIGGER), ("bot", LEAD)]
    digits = CARD.replace(" ", "")
    for _, line in lines:
        assert digits[:12] not in line.replace(" ", "")
    for value in (str(v) for r in rows(hub.database_url, "handoff_messages") for v in r.values()):
        assert digits[:12] not in value.replace(" ", "").replace("-", "")

    # While handed off the assistant is silent, and the engine hears nothing.
    asked = len(engine.received)
    status, answer, _ = await hub.chat("¿sigue ahí alguien?", cookie)
    assert (status, answer) == (200, [])
    assert len(engine.received) == asked
    assert hub.transcript(row["id"])[-1] == ("user", "¿sigue ahí alguien?")
    assert [r["status"] for r in hub.inbound_rows(sender)] == ["answered"] * 3

    # The console sees it waiting, with why.
    [item] = await hub.queue()
    assert item["id"] == row["id"] and item["status"] == "queued" and item["position"] == 1
    assert item["reason_text"] == REASONS["requested"]
    assert isinstance(item["waiting_seconds"], int) and item["waiting_seconds"] >= 0

    # The customer's page listens; an agent takes the conversation, a second one is too late.
    stream = await hub.customer_events(cookie)
    assert await stream.next() == ("handoff", {"status": "queued", "position": None})
    status, body = await hub.take(row["id"])
    assert (
        status == 200 and body["handoff"]["status"] == "assigned" and body["handoff"]["agent_id"] == CARLA[0]
    )
    status, body = await hub.take(row["id"], DIEGO)
    assert status == 409 and body["error"] == "already_taken"
    joined = await stream.until(message_event("system"))
    assert joined[-1][1]["text"] == "Carla Soporte del equipo de soporte se unió a la conversación."
    assert await stream.next() == ("handoff", {"status": "assigned"})

    # Only the assigned agent may answer; the answer reaches the customer live.
    status, body = await hub.reply(row["id"], "Hola, soy Carla. ¿En qué te ayudo?", DIEGO)
    assert status == 409 and body["error"] == "not_assigned"
    status, body = await hub.reply(row["id"], "Hola, soy Carla. ¿En qué te ayudo?")
    assert status == 200 and body["message"]["role"] == "agent"
    name, data = await stream.next()
    assert (name, data["role"], data["text"]) == ("message", "agent", "Hola, soy Carla. ¿En qué te ayudo?")
    assert data["id"] == body["message"]["id"]
    assert await stream.quiet(0.2) == []  # not twice, and nothing from another agent

    # Only the assigned agent may resolve; then the engine resumes and the customer is told.
    status, _ = await hub.resolve(row["id"], DIEGO)
    assert status == 409
    status, body = await hub.resolve(row["id"])
    assert status == 200 and body["handoff"]["status"] == "resolved"
    assert engine.events_of(sender) == [("pause", ENGINE_TOKEN), ("resume", ENGINE_TOKEN)]
    resolved = await stream.until(lambda name, data: name == "handoff")
    assert ("message", {"id": resolved[0][1]["id"], "role": "system", "text": RESOLVED}) == resolved[0]
    assert resolved[-1] == ("handoff", {"status": "resolved"})
    assert await hub.queue() == []

    # The assistant answers again.
    status, answer, _ = await hub.chat("cuántos usuarios trae el expert", cookie)
    assert (status, answer) == (
        200,
        [{"recipient_id": sender, "text": "eco: cuántos usuarios trae el expert"}],
    )
    assert engine.messages(sender)[-1] == "cuántos usuarios trae el expert"
    assert len(engine.received) == asked + 1
    lines = hub.transcript(row["id"])
    assert [role for role, _ in lines][-5:] == ["user", "system", "agent", "system", "system"]
    assert lines[-2:] == [("system", RESOLVED), ("system", csat.QUESTION)]  # then how it went


async def test_a_signed_in_customer_is_handed_off_with_their_identity(hub: Hub) -> None:
    token = hub.token(ANA, profile="admin", account_id=1)
    status, answer, _ = await hub.chat(TRIGGER, token=token)
    assert status == 200 and answer[-1] == queued(1)
    [row] = hub.handoff_rows("web:u:1")
    assert row["user_id"] == 1
    [item] = await hub.queue()
    assert item["user_name"] == "Ana Torres"
    # Her stream (token in the query, as EventSource sends it) gets the agent's messages.
    stream = await hub.customer_events(token=token)
    assert await stream.next() == ("handoff", {"status": "queued", "position": None})
    assert (await hub.take(row["id"]))[0] == 200
    await stream.until(message_event("system", "se unió"))


async def test_a_retried_request_during_the_hand_off_is_not_recorded_twice(hub: Hub) -> None:
    cookie, sender = await hub.new_customer()
    await hub.chat(TRIGGER, cookie)
    [row] = hub.handoff_rows(sender)
    for _ in range(2):
        status, answer, _ = await hub.chat("¿hola?", cookie, msg_id="retry-1")
        assert (status, answer) == (200, [])
    assert [line for line in hub.transcript(row["id"]) if line == ("user", "¿hola?")] == [("user", "¿hola?")]


# --- the WhatsApp loop ----------------------------------------------------------------------------------
async def test_whatsapp_hand_off_from_request_to_resolution(hub: Hub) -> None:
    engine, sender = hub.engine, f"wa:{ANA_PHONE}"
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP) == [LEAD, position_text(1)]
    assert engine.events_of(sender) == [("pause", ENGINE_TOKEN)]
    [row] = hub.handoff_rows(sender)
    assert (row["channel"], row["reply_to"], row["user_id"]) == ("whatsapp", ANA_WHATSAPP, 1)
    assert hub.transcript(row["id"]) == [("user", TRIGGER), ("bot", LEAD)]

    # Handed off: nothing reaches the engine, no bot reply goes out.
    asked = len(engine.received)
    await hub.whatsapp("¿me atienden?")
    await hub.settle()
    assert len(engine.received) == asked
    assert hub.sent_to(ANA_WHATSAPP) == [LEAD, position_text(1)]
    assert hub.transcript(row["id"])[-1] == ("user", "¿me atienden?")

    [item] = await hub.queue()
    assert (item["channel"], item["user_name"], item["reason_text"]) == (
        "whatsapp",
        "Ana Torres",
        REASONS["requested"],
    )
    assert (await hub.take(row["id"]))[0] == 200
    assert (await hub.take(row["id"], DIEGO))[0] == 409
    assert hub.sent_to(ANA_WHATSAPP)[-1] == "Carla Soporte del equipo de soporte se unió a la conversación."

    assert (await hub.reply(row["id"], "Hola Ana, reviso tu contrato.", DIEGO))[0] == 409
    status, _ = await hub.reply(row["id"], "Hola Ana, reviso tu contrato.")
    assert status == 200
    assert hub.sent_to(ANA_WHATSAPP)[-1] == "Hola Ana, reviso tu contrato."
    assert all(m["To"] == ANA_WHATSAPP for m in hub.twilio.sent)

    status, _ = await hub.resolve(row["id"])
    assert status == 200
    assert engine.events_of(sender) == [("pause", ENGINE_TOKEN), ("resume", ENGINE_TOKEN)]
    assert hub.sent_to(ANA_WHATSAPP)[-2:] == [RESOLVED, csat.QUESTION]

    # A question instead of a rating goes to the assistant (and the survey is over).
    await hub.whatsapp("cuántos usuarios trae el expert")
    await hub.settle()
    assert engine.messages(sender)[-1] == "cuántos usuarios trae el expert"
    assert hub.sent_to(ANA_WHATSAPP)[-1] == "eco: cuántos usuarios trae el expert"
    # lead, position, joined, agent, resolved, the satisfaction question, answer
    assert len(hub.sent_to(ANA_WHATSAPP)) == 7


# --- queue positions ------------------------------------------------------------------------------------
async def test_each_customer_learns_their_place_and_when_it_moves(hub: Hub) -> None:
    first, first_sender = await hub.new_customer()
    third, third_sender = await hub.new_customer()
    _, answer, _ = await hub.chat(TRIGGER, first)
    assert answer[-2:] == [{"text": position_text(1)}, queued(1)]
    await hub.whatsapp(TRIGGER)  # the second is on WhatsApp
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP) == [LEAD, position_text(2)]
    stream = await hub.customer_events(third)
    await hub.subscribed(third_sender)
    _, answer, _ = await hub.chat(TRIGGER, third)
    assert answer[-2:] == [{"text": position_text(3)}, queued(3)]
    assert position_text(3) == "Estás en la posición 3 de la fila. Te avisaremos cuando avance."
    assert await stream.quiet(0.1) == []  # its own position came in the reply, not twice

    queue = await hub.queue()
    assert [(h["sender_id"], h["position"]) for h in queue] == [
        (first_sender, 1),
        (f"wa:{masked(ANA_PHONE)}", 2),
        (third_sender, 3),
    ]

    # The first is taken: the others move up, each told on their channel, once.
    assert (await hub.take(queue[0]["id"]))[0] == 200
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP) == [LEAD, position_text(2), position_text(1)]
    moved = await stream.until(lambda name, data: name == "handoff")
    assert moved == [
        ("message", {"id": moved[0][1]["id"], "role": "system", "text": position_text(2)}),
        ("handoff", {"status": "queued", "position": 2}),
    ]
    assert [(h["sender_id"], h["position"]) for h in await hub.queue()] == [
        (first_sender, None),
        (f"wa:{masked(ANA_PHONE)}", 1),
        (third_sender, 2),
    ]
    # Resolving the first changes no position: nobody is told anything.
    assert (await hub.resolve(queue[0]["id"]))[0] == 200
    assert await stream.quiet(0.2) == []
    assert hub.sent_to(ANA_WHATSAPP) == [LEAD, position_text(2), position_text(1)]
    # The transcripts hold the position messages (what the customer was told).
    assert hub.transcript(queue[2]["id"])[-1] == ("system", position_text(2))


async def test_customers_handed_off_at_the_same_time_are_each_told_their_place_once(hub: Hub) -> None:
    customers = [await hub.new_customer() for _ in range(4)]
    # The engine answers them together, and pausing takes a while: their hand-offs open side by side.
    hub.engine.delays[TRIGGER] = 0.2
    hub.engine.event_delay = 0.1
    results = await asyncio.gather(*(hub.chat(TRIGGER, cookie) for cookie, _ in customers))
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    told = {
        sender: body[-1]["custom"]["position"]
        for (_, sender), (_, body, _) in zip(customers, results, strict=True)
    }
    assert sorted(told.values()) == [1, 2, 3, 4]
    assert hub.sent_to(ANA_WHATSAPP) == [LEAD, position_text(5)]
    queue = await hub.queue()
    # A WhatsApp number reaches agents masked, all but its last four digits.
    assert {h["sender_id"]: h["position"] for h in queue} == {**told, f"wa:{masked(ANA_PHONE)}": 5}
    for handoff in queue:
        # The reply told them; no second announcement of the same place.
        assert [line for line in hub.transcript(handoff["id"]) if line[0] == "system"] == []


# --- concurrency ----------------------------------------------------------------------------------------
async def test_two_agents_taking_at_once_one_wins(hub: Hub) -> None:
    for _ in range(3):
        cookie, sender = await hub.new_customer()
        await hub.chat(TRIGGER, cookie)
        [row] = hub.handoff_rows(sender)
        results = await asyncio.gather(hub.take(row["id"], CARLA), hub.take(row["id"], DIEGO))
        assert sorted(status for status, _ in results) == [200, 409]
        winner = CARLA if results[0][0] == 200 else DIEGO
        [row] = hub.handoff_rows(sender)
        assert (row["status"], row["agent_id"]) == ("assigned", winner[0])
        joined = [t for role, t in hub.transcript(row["id"]) if role == "system" and "se unió" in t]
        assert joined == [f"{winner[1]} del equipo de soporte se unió a la conversación."]


def check_each_message_handled_once(hub: Hub, sender: str, texts: list[str]) -> None:
    """Every message answered exactly once: by the engine (at most once) or by reaching the agent."""
    inbound = hub.inbound_rows(sender)
    assert sorted(r["text"] for r in inbound) == sorted(texts)
    assert all(r["status"] == "answered" for r in inbound), inbound
    asked = hub.engine.messages(sender)
    for message in texts:
        assert asked.count(message) <= 1, (message, asked)
    (row,) = hub.handoff_rows(sender)
    said = [t for role, t in hub.transcript(row["id"]) if role == "user"]
    opened = asked.index(TRIGGER)
    for message in texts:
        # Before the hand-off the engine answered it (and the transcript recalls it); after, only the agent
        # has it. Either way it is in the transcript exactly once, and nowhere twice.
        assert said.count(message) == 1, (message, said)
        if message in asked:
            assert asked.index(message) <= opened, (message, asked)


async def test_messages_sent_while_the_hand_off_opens_are_each_handled_once(hub: Hub) -> None:
    cookie, sender = await hub.new_customer("hola")
    hub.engine.delays[TRIGGER] = 0.3  # the engine takes its time to hand off: others arrive meanwhile
    texts = [TRIGGER, *(f"mensaje {i}" for i in range(6))]
    results = await asyncio.gather(*(hub.chat(t, cookie) for t in texts))
    assert all(status == 200 for status, _, _ in results)
    answers = dict(zip(texts, (body for _, body, _ in results), strict=True))
    assert answers[TRIGGER][-1]["custom"]["status"] == "queued"
    for message in texts[1:]:
        assert answers[message] in ([], [{"recipient_id": sender, "text": f"eco: {message}"}])
    check_each_message_handled_once(hub, sender, ["hola", *texts])
    assert len(hub.handoff_rows(sender)) == 1
    assert hub.engine.events_of(sender) == [("pause", ENGINE_TOKEN)]


async def test_whatsapp_messages_sent_while_the_hand_off_opens_are_each_handled_once(hub: Hub) -> None:
    sender = f"wa:{ANA_PHONE}"
    hub.engine.delays[TRIGGER] = 0.3
    texts = [TRIGGER, *(f"mensaje {i}" for i in range(6))]
    await asyncio.gather(*(hub.whatsapp(t) for t in texts))
    await hub.settle()
    check_each_message_handled_once(hub, sender, texts)
    sent = hub.sent_to(ANA_WHATSAPP)
    assert sent.count(LEAD) == 1 and sent.count(position_text(1)) == 1
    for message in texts[1:]:
        assert sent.count(f"eco: {message}") == (1 if message in hub.engine.messages(sender) else 0)
    # Nothing the engine answered after the hand-off: it is silent from the lead on.
    assert sent.index(position_text(1)) == len(sent) - 1


@pytest.mark.parametrize("channel", ["webchat", "whatsapp"])
async def test_messages_sent_while_the_hand_off_is_resolved_are_each_handled_once(
    hub: Hub, channel: str
) -> None:
    if channel == "webchat":
        cookie, sender = await hub.new_customer()

        async def say(message: str) -> None:
            status, _, _ = await hub.chat(message, cookie)
            assert status == 200

    else:
        sender = f"wa:{ANA_PHONE}"

        async def say(message: str) -> None:
            await hub.whatsapp(message)

    await say(TRIGGER)
    await hub.settle()
    [row] = hub.handoff_rows(sender)
    assert (await hub.take(row["id"]))[0] == 200
    texts = [f"mensaje {i}" for i in range(8)]
    before = len(hub.transcript(row["id"]))
    results = await asyncio.gather(hub.resolve(row["id"]), *(say(t) for t in texts))
    await hub.settle()
    assert results[0][0] == 200

    inbound = [r for r in hub.inbound_rows(sender) if r["text"] in texts]
    assert len(inbound) == len(texts) and all(r["status"] == "answered" for r in inbound)
    asked = hub.engine.messages(sender)
    after = hub.transcript(row["id"])[before:]
    resolved_at = after.index(("system", RESOLVED))
    for message in texts:
        to_agent = after.count(("user", message))
        to_engine = asked.count(message)
        # Exactly one of the two, once: never lost, never both.
        assert (to_agent, to_engine) in ((1, 0), (0, 1)), (message, after, asked)
        if to_agent:
            # It reached the agent while the hand-off was still open (before it was resolved).
            assert after.index(("user", message)) < resolved_at, after
    # Whatever went to the engine went after it resumed, and was answered (the engine is not paused).
    for r in inbound:
        if r["text"] in asked:
            assert json.loads(r["replies"]) if isinstance(r["replies"], str) else r["replies"]
    assert hub.engine.paused == set()
    if channel == "whatsapp":
        sent = hub.sent_to(ANA_WHATSAPP)
        for message in texts:
            assert sent.count(f"eco: {message}") == asked.count(message)


@pytest.mark.parametrize("channel", ["webchat", "whatsapp"])
async def test_a_message_arriving_while_the_engine_resumes_is_answered_by_the_assistant(
    hub: Hub, channel: str
) -> None:
    """Between the hand-off being closed and the engine resuming, the engine would ignore a message."""
    if channel == "webchat":
        cookie, sender = await hub.new_customer()
        await hub.chat(TRIGGER, cookie)
    else:
        sender = f"wa:{ANA_PHONE}"
        await hub.whatsapp(TRIGGER)
        await hub.settle()
    [row] = hub.handoff_rows(sender)
    assert (await hub.take(row["id"]))[0] == 200
    hub.engine.event_delay = 0.3
    resolving = asyncio.ensure_future(hub.resolve(row["id"]))
    deadline = time.monotonic() + WAIT
    while ("resume", ENGINE_TOKEN) not in hub.engine.events_of(sender):
        assert time.monotonic() < deadline, (
            f"the engine was not asked to resume {sender}: {hub.engine.events}"
        )
        await asyncio.sleep(0.005)
    # The resume is on its way to the engine; the customer writes now.
    if channel == "webchat":
        status, answer, _ = await hub.chat("¿y cuántos usuarios trae el expert?", cookie)
        assert status == 200
        assert answer == [{"recipient_id": sender, "text": "eco: ¿y cuántos usuarios trae el expert?"}]
    else:
        await hub.whatsapp("¿y cuántos usuarios trae el expert?")
        await hub.settle()
        assert hub.sent_to(ANA_WHATSAPP)[-1] == "eco: ¿y cuántos usuarios trae el expert?"
    assert (await resolving)[0] == 200
    assert ("user", "¿y cuántos usuarios trae el expert?") not in hub.transcript(row["id"])


# --- stale assignments ----------------------------------------------------------------------------------
async def test_an_idle_agents_conversation_can_be_taken_over_after_the_timeout_only(
    start_hub: StartHub,
) -> None:
    hub: Hub = await start_hub(agent_timeout_seconds=0.5)
    cookie, sender = await hub.new_customer()
    await hub.chat(TRIGGER, cookie)
    [row] = hub.handoff_rows(sender)
    assert (await hub.take(row["id"]))[0] == 200
    status, body = await hub.take(row["id"], DIEGO)
    assert status == 409, body
    [item] = await hub.queue(DIEGO)
    assert item["stale"] is False and item["agent_name"] == "Carla Soporte"

    await asyncio.sleep(0.7)  # Carla's console is closed: nobody keeps her claim alive
    [item] = await hub.queue(DIEGO)
    assert item["stale"] is True
    status, body = await hub.take(row["id"], DIEGO)
    assert status == 200 and body["handoff"]["agent_id"] == DIEGO[0]
    # Now it is Diego's: Carla can no longer answer or resolve, Diego can.
    assert (await hub.reply(row["id"], "¿Sigues ahí?"))[0] == 409
    assert (await hub.resolve(row["id"]))[0] == 409
    assert (await hub.reply(row["id"], "Soy Diego, continúo yo.", DIEGO))[0] == 200
    said = [(role, t) for role, t in hub.transcript(row["id"]) if role in ("system", "agent")]
    assert said[-2:] == [
        ("system", "Diego Soporte del equipo de soporte se unió a la conversación."),
        ("agent", "Soy Diego, continúo yo."),
    ]
    assert (await hub.resolve(row["id"], DIEGO))[0] == 200


async def test_an_open_console_keeps_the_agents_conversation(
    start_hub: StartHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.gateway.live.HEARTBEAT_SECONDS", 0.1)
    hub: Hub = await start_hub(agent_timeout_seconds=0.5)
    cookie, sender = await hub.new_customer()
    await hub.chat(TRIGGER, cookie)
    [row] = hub.handoff_rows(sender)
    console = await hub.agent_events(CARLA)
    assert (await hub.take(row["id"]))[0] == 200
    await asyncio.sleep(1.0)  # twice the timeout, but Carla's console is open
    assert (await hub.take(row["id"], DIEGO))[0] == 409
    console.close()
    await asyncio.sleep(0.8)
    assert (await hub.take(row["id"], DIEGO))[0] == 200


# --- business hours -------------------------------------------------------------------------------------
async def test_the_actions_out_of_hours_text_reaches_the_customer_unchanged(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actions.handoff import ActionHandoff

    # The team works only tomorrow (in its time zone): whenever the test runs, it is out of hours.
    zone = "America/Mexico_City"
    tomorrow = (datetime.now(ZoneInfo(zone)).weekday() + 1) % 7
    closed = Settings(
        _env_file=None, support_days=str(tomorrow), support_hours="09:00-18:00", support_timezone=zone
    )
    monkeypatch.setattr("actions.handoff.get_settings", lambda: closed)
    dispatcher = CollectingDispatcher()
    tracker = Tracker(
        "someone",
        {},
        {"text": "necesito un reembolso", "intent": {"name": "billing_issue"}},
        [],
        False,
        None,
        {},
        "action_listen",
    )
    await ActionHandoff().run(dispatcher, tracker, {})
    shown = take_report(dispatcher.messages)[0]  # as the gateway takes the turn's report out
    said = [{"text": m["text"]} if m.get("text") else {"custom": m["custom"]} for m in shown]
    assert said[-1] == {"custom": {"type": "handoff", "reason": "refund"}}
    lead = said[0]["text"]
    assert "Un reembolso lo gestiona una persona" in lead and "fuera de ese horario" in lead

    hub.engine.lead, hub.engine.reason = said[:-1], "refund"
    cookie, sender = await hub.new_customer()
    status, answer, _ = await hub.chat("quiero que una persona me haga un reembolso", cookie)
    assert status == 200
    assert answer == [{"recipient_id": sender, "text": lead}, {"text": position_text(1)}, queued(1)]
    [row] = hub.handoff_rows(sender)
    assert row["reason"] == "refund"
    assert hub.transcript(row["id"])[-1] == ("bot", lead)
    [item] = await hub.queue()
    assert item["reason_text"] == REASONS["refund"]

    await hub.whatsapp("quiero que una persona me haga un reembolso")
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP) == [lead, position_text(2)]
