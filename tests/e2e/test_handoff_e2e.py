"""End to end hand-off to a person: the real NLU and actions decide, the real gateway routes, the real
engine is paused and resumed; an agent works through the console API.

Every hand-off a test opens is resolved before it ends (the stack's store is shared by the whole run).
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.answers import csat
from bot.answers.notices import RESOLVED, position_text
from bot.gateway import tokens
from bot.gateway.channels.webchat import COOKIE
from bot.gateway.contacts import masked
from bot.handoff.hours import BusinessHours
from bot.handoff.triggers import REASONS, handoff_message
from tests.e2e.conftest import E2EStack, text_of
from tests.e2e.test_whatsapp import SETTLE, WhatsApp, new_number, text

pytestmark = pytest.mark.e2e

CARLA = (7, 4, "Carla Soporte")  # the demo support agent: user 7 of account 4
TRIGGER = "quiero hablar con una persona"
GIBBERISH = "blorf gnarp snee"  # confidently not understood by the NLU (nlu_fallback)
EXPERT_USERS = "cuantos usuarios trae el expert"
TIMEOUT = 30.0


def request(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    """One JSON request: status, parsed body and headers (errors are returned, not raised)."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        sent["Content-Type"] = "application/json"
    call = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT) as response:
            raw, status, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as refused:
        raw, status, got = refused.read(), refused.code, refused.headers
    cookies = {"set-cookie": "; ".join(got.get_all("Set-Cookie") or [])}
    return status, json.loads(raw) if raw else None, cookies


@dataclass
class WebCustomer:
    """A webchat visitor with a cookie jar of one: the anonymous conversation cookie.

    The gateway marks the cookie Secure (the public URL is https); a browser still sends it to
    127.0.0.1, urllib's CookieJar would not, so the jar is kept by hand.
    """

    stack: E2EStack
    cookie: str | None = None

    @property
    def sender(self) -> str:
        assert self.cookie is not None, "no conversation yet"
        conversation = tokens.read_conversation(self.cookie, self.stack.settings)
        assert conversation is not None
        return f"web:a:{conversation}"

    def chat(self, message: str) -> list[dict[str, Any]]:
        headers = {} if self.cookie is None else {"Cookie": f"{COOKIE}={self.cookie}"}
        status, body, got = request(
            f"{self.stack.gateway_url}/api/chat", "POST", {"message": message}, headers
        )
        assert status == 200, body
        # Read by hand: Python's cookie parser (before 3.14) drops a cookie marked Partitioned, as this
        # one is when other sites may embed the chat.
        for part in (got.get("set-cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value:
                self.cookie = value
        assert isinstance(body, list)
        return body

    def events(self) -> EventStream:
        """The page's live stream (GET /api/chat/events with the cookie)."""
        assert self.cookie is not None
        return EventStream(f"{self.stack.gateway_url}/api/chat/events", {"Cookie": f"{COOKIE}={self.cookie}"})


class EventStream:
    """A server-sent events stream read in a background thread."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT)
        assert self.response.status == 200
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        name, data = "message", list[str]()
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if data:
                        self.events.put((name, json.loads("\n".join(data))))
                    name, data = "message", list[str]()
                elif line.startswith("event:"):
                    name = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data.append(line.partition(":")[2].strip())
        except (OSError, ValueError, AttributeError):
            return  # closed by the test (http.client drops its file when closed under a reader)

    def until(self, role: str, contains: str = "", timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first live message of this role containing the words (events before it are skipped)."""
        seen = []
        try:
            while True:
                name, data = self.events.get(timeout=timeout)
                seen.append((name, data))
                if name == "message" and data.get("role") == role and contains in data.get("text", ""):
                    return data
        except queue.Empty:
            raise AssertionError(f"no {role} message with {contains!r}; seen {seen}") from None

    def close(self) -> None:
        self.response.close()


@dataclass
class Agent:
    """Carla, at the console API."""

    stack: E2EStack
    opened: set[int] = field(default_factory=set)
    # Conversations this test handed off: whatever is still open for them is resolved in the end.
    senders: set[str] = field(default_factory=set)

    @property
    def token(self) -> str:
        user_id, account_id, name = CARLA
        return tokens.mint(user_id, account_id, "agent", name, self.stack.settings, 30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        status, answer, _ = request(f"{self.stack.gateway_url}{path}", method, body, headers)
        return status, answer

    def queue(self) -> list[dict[str, Any]]:
        status, body = self.call("GET", "/api/agent/queue")
        assert status == 200, body
        return list(body["handoffs"])

    def waiting(self) -> int:
        return sum(1 for h in self.queue() if h["status"] == "queued")

    def find(self, sender: str) -> dict[str, Any]:
        """The active hand-off of a conversation (remembered, so the test resolves it in the end)."""
        # WhatsApp numbers reach agents masked (all but the last four digits).
        shown = f"wa:{masked(sender)}" if sender.startswith("wa:") else sender
        found = [h for h in self.queue() if h["sender_id"] == shown]
        assert len(found) == 1, f"{len(found)} active hand-offs for {sender}: {self.queue()}"
        self.opened.add(found[0]["id"])
        return found[0]

    def detail(self, handoff_id: int) -> dict[str, Any]:
        status, body = self.call("GET", f"/api/agent/handoffs/{handoff_id}")
        assert status == 200, body
        return dict(body)

    def take(self, handoff_id: int) -> None:
        status, body = self.call("POST", f"/api/agent/handoffs/{handoff_id}/take")
        assert status == 200, body
        assert body["handoff"]["status"] == "assigned"

    def reply(self, handoff_id: int, message: str) -> None:
        status, body = self.call("POST", f"/api/agent/handoffs/{handoff_id}/reply", {"text": message})
        assert status == 200, body

    def resolve(self, handoff_id: int) -> None:
        status, body = self.call("POST", f"/api/agent/handoffs/{handoff_id}/resolve")
        assert status == 200, body
        self.opened.discard(handoff_id)

    def clean_up(self) -> None:
        """Take and resolve whatever this test left open."""
        left = {h["id"] for h in self.queue() if h["sender_id"] in self.senders}
        for handoff_id in sorted(self.opened | left):
            self.call("POST", f"/api/agent/handoffs/{handoff_id}/take")
            self.call("POST", f"/api/agent/handoffs/{handoff_id}/resolve")


@pytest.fixture
def agent(stack: E2EStack) -> Iterator[Agent]:
    carla = Agent(stack)
    yield carla
    carla.clean_up()


@pytest.fixture
def whatsapp(stack: E2EStack) -> WhatsApp:
    return WhatsApp(stack)


def paused(stack: E2EStack, sender: str) -> bool:
    """Whether the engine's tracker of this conversation is paused (its HTTP API, with the token)."""
    settings = stack.settings
    url = (
        # As the gateway's HTTP client sends it: ':' and '+' stay as they are (the engine does not decode
        # %3A in this path, it would name another conversation).
        f"{settings.engine_url}/conversations/{urllib.parse.quote(sender, safe=':+')}/tracker"
        f"?token={urllib.parse.quote(settings.engine_token)}&include_events=NONE"
    )
    status, body, _ = request(url)
    assert status == 200, body
    return bool(body["paused"])


def intent_of(stack: E2EStack, message: str) -> str:
    """What the NLU makes of a message (for failure messages)."""
    settings = stack.settings
    url = f"{settings.engine_url}/model/parse?token={urllib.parse.quote(settings.engine_token)}"
    status, body, _ = request(url, "POST", {"text": message})
    assert status == 200, body
    intent = body.get("intent") or {}
    return f"{intent.get('name')} ({intent.get('confidence', 0):.2f})"


def lead_for(reason: str, stack: E2EStack, before: datetime) -> set[str]:
    """What action_handoff says for this reason, around now (the business-hours notice depends on it)."""
    settings = stack.settings
    hours = BusinessHours.parse(settings.support_days, settings.support_hours, settings.support_timezone)
    return {handoff_message(reason, moment, hours) for moment in (before, datetime.now(UTC))}


def handoff_status(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "handoff":
            return custom
    return None


# --- webchat --------------------------------------------------------------------------------------------
def test_webchat_customer_is_handed_to_a_person_and_back(stack: E2EStack, agent: Agent) -> None:
    customer = WebCustomer(stack)
    assert "30 usuarios" in text_of(customer.chat(EXPERT_USERS))
    agent.senders.add(customer.sender)

    waiting = agent.waiting()
    before = datetime.now(UTC)
    answer = customer.chat(TRIGGER)
    status = handoff_status(answer)
    assert status is not None, f"no hand-off; the NLU says {intent_of(stack, TRIGGER)}: {answer}"
    assert status == {"type": "handoff", "status": "queued", "position": waiting + 1}
    texts = [m["text"] for m in answer if m.get("text")]
    assert texts[0] in lead_for("requested", stack, before)
    assert texts[-1] == position_text(waiting + 1)
    assert not any("reason" in (m.get("custom") or {}) for m in answer)  # the engine's request is consumed
    assert paused(stack, customer.sender)

    # Handed off: the assistant is silent.
    assert customer.chat("¿hay alguien ahí?") == []

    handoff = agent.find(customer.sender)
    assert (handoff["status"], handoff["reason"], handoff["channel"]) == ("queued", "requested", "webchat")
    assert handoff["reason_text"] == REASONS["requested"]
    lines = [(m["role"], m["text"]) for m in agent.detail(handoff["id"])["messages"]]
    assert lines[0] == ("user", EXPERT_USERS)
    assert ("user", TRIGGER) in lines and lines[-1] == ("user", "¿hay alguien ahí?")
    assert any(role == "bot" and "30 usuarios" in line for role, line in lines)

    stream = customer.events()
    try:
        agent.take(handoff["id"])
        assert "Carla Soporte" in stream.until("system", "se unió")["text"]
        agent.reply(handoff["id"], "Hola, soy Carla. ¿En qué te ayudo?")
        assert stream.until("agent")["text"] == "Hola, soy Carla. ¿En qué te ayudo?"
        agent.resolve(handoff["id"])
        assert stream.until("system", RESOLVED)["text"] == RESOLVED
    finally:
        stream.close()
    assert not paused(stack, customer.sender)

    answer = customer.chat(EXPERT_USERS)
    assert "30 usuarios" in text_of(answer)
    assert handoff_status(answer) is None


# --- WhatsApp -------------------------------------------------------------------------------------------
def test_whatsapp_customer_is_handed_to_a_person_and_back(
    stack: E2EStack, agent: Agent, whatsapp: WhatsApp
) -> None:
    sender = new_number()
    conversation = f"wa:{sender.removeprefix('whatsapp:')}"
    agent.senders.add(conversation)
    assert "30 usuarios" in text(whatsapp.ask(sender, EXPERT_USERS))

    waiting = agent.waiting()
    before = datetime.now(UTC)
    replies = [m.body for m in whatsapp.ask(sender, TRIGGER, parts=2)]
    assert len(replies) == 2, f"the NLU says {intent_of(stack, TRIGGER)}: {replies}"
    assert replies[0] in lead_for("requested", stack, before)
    assert replies[1] == position_text(waiting + 1)
    assert paused(stack, conversation)

    # Handed off: no bot reply goes out.
    whatsapp.send(whatsapp.params(sender, "¿me atienden?"))
    assert stack.twilio.quiet(sender, 3.0) == []

    handoff = agent.find(conversation)
    assert (handoff["channel"], handoff["reply_to"]) == ("whatsapp", masked(sender))
    last = agent.detail(handoff["id"])["messages"][-1]
    assert (last["role"], last["text"]) == ("user", "¿me atienden?")
    sent = len(stack.twilio.messages(sender))
    agent.take(handoff["id"])
    agent.reply(handoff["id"], "Hola, soy Carla. Reviso tu caso.")
    arrived = stack.twilio.wait_for(sender, sent + 2, timeout=TIMEOUT, settle=SETTLE)[sent:]
    assert [m.body for m in arrived] == [
        "Carla Soporte del equipo de soporte se unió a la conversación.",
        "Hola, soy Carla. Reviso tu caso.",
    ]
    assert all(m.accepted for m in arrived)

    agent.resolve(handoff["id"])
    closing = stack.twilio.wait_for(sender, sent + 4, timeout=TIMEOUT, settle=SETTLE)[sent + 2 :]
    assert [m.body for m in closing] == [
        RESOLVED,
        csat.QUESTION,
    ]  # then how it went (tests/e2e/test_csat_e2e.py)
    assert not paused(stack, conversation)
    assert "30 usuarios" in text(whatsapp.ask(sender, EXPERT_USERS))


# --- misunderstandings ----------------------------------------------------------------------------------
def test_two_misunderstandings_in_a_row_hand_off(stack: E2EStack, agent: Agent) -> None:
    customer = WebCustomer(stack)
    first = customer.chat(GIBBERISH)
    agent.senders.add(customer.sender)
    assert handoff_status(first) is None, f"handed off at once: {first}"
    assert text_of(first).strip(), f"no rephrase request; the NLU says {intent_of(stack, GIBBERISH)}"
    before = datetime.now(UTC)
    second = customer.chat(GIBBERISH)
    status = handoff_status(second)
    assert status is not None, (
        f"no hand-off after two misunderstandings; the NLU says {intent_of(stack, GIBBERISH)}: {second}"
    )
    assert status["status"] == "queued"
    assert next(m["text"] for m in second if m.get("text")) in lead_for("not_understood", stack, before)
    handoff = agent.find(customer.sender)
    assert (handoff["reason"], handoff["reason_text"]) == ("not_understood", REASONS["not_understood"])
    agent.take(handoff["id"])
    agent.resolve(handoff["id"])
    # Back with the assistant, the streak starts over: one misunderstanding is a rephrase request again.
    again = customer.chat(GIBBERISH)
    assert handoff_status(again) is None, again
    assert "30 usuarios" in text_of(customer.chat(EXPERT_USERS))
