"""A dialogue fuzzer: every dialogue state × a sample of messages of every intent plus noise, through the
running engine and action server (the REST channel, with the identity metadata the gateway would attach).

Each state is reached once by a real conversation; its tracker is then copied, through the engine's HTTP
API, into a fresh conversation for every message, so every pair starts from exactly that state. On every
turn: a non-empty reply, at most one fallback message, no message twice, a bounded number of engine
actions (no loops), no hand-off unless asked for or at the second turn in a row not understood, no data
of another account, and every message fits WhatsApp.
"""

from __future__ import annotations

import json
import random
import re
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import yaml

from bot.dialogue.report import take_report
from bot.settings import PROJECT_ROOT
from bot.store.demo import demo_accounts
from tests.e2e.conftest import E2EStack

pytestmark = pytest.mark.e2e

ANA = {"user_id": 1, "account_id": 1}  # Admin, three contracts
LUIS = {"user_id": 2, "account_id": 1}  # member
MARIA = {"user_id": 3, "account_id": 2}  # Admin, one contract
FALLBACK_MARKS = ("no estoy seguro de haber entendido", "no entendí tu respuesta")
ASKED_FOR_A_PERSON = {"request_human", "billing_issue"}
MAX_ACTIONS = 2  # the rule's action, and at most one more (never a loop)
PER_INTENT = 8
SEED = 20261204


@dataclass(frozen=True)
class State:
    """A dialogue state: who talks, and the messages that lead there (then, optionally, a hand-off that a
    person resolved: the engine paused and resumed, as the gateway does)."""

    name: str
    identity: dict[str, int] | None
    prefix: tuple[str, ...]
    resolved_handoff: bool = False
    # The last prefix turn was not understood: a second one in a row may hand off.
    after_fallback: bool = False


STATES = (
    State("fresh", None, ()),
    State("follow-up context", None, ("¿cuántos usuarios trae el Expert?",)),
    State("choice pending (three contracts)", ANA, ("¿cuánto debo pagar y cuándo?",)),
    State("choice pending (one contract, a plan)", MARIA, ("quiero el resumen de un plan",)),
    State("after one fallback", None, ("blorf zzkx vvv",), after_fallback=True),
    State("after a resolved hand-off", ANA, ("quiero hablar con una persona",), resolved_handoff=True),
    State("member", LUIS, ("¿cuál es el estado de mi contrato?",)),
    State("anonymous with options", None, ("¿qué planes hay?",)),
    State("admin after an answer", ANA, ("¿qué tarjeta tengo registrada?",)),
)

NOISE = (
    "2",
    "7",
    "0",
    "100002",
    "ZCC-100002",
    "ZCC-200001",  # another account's contract
    "zcc 300001",
    "123456789",
    "4111 1111 1111 1111",
    "👍",
    "🙃",
    "🔥🔥🔥",
    "?",
    "...",
    "plan",
    "hola",
    "xyz",
    "el segundo",
    "la última",
    "el otro",
    "cancelar",
    "¿me lo repites?",
    "no, quise decir el Expert",
    "ninguno",
    "ok",
    "asdf " * 300,  # 1,500 characters
    "¿cuánto cuesta? " * 90,
)


def held_out_messages() -> dict[str, list[str]]:
    """Intent -> messages of the held-out NLU set (never trained on), without entity annotation."""
    found: dict[str, list[str]] = {}
    for path in sorted((PROJECT_ROOT / "tests" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" not in block:
                continue
            lines = [
                line.strip()[2:] for line in block["examples"].splitlines() if line.strip().startswith("- ")
            ]
            plain = [re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line) for line in lines]
            found.setdefault(block["intent"], []).extend(plain)
    return found


def sample() -> list[str]:
    """PER_INTENT messages of every intent, and the noise."""
    rng = random.Random(SEED)
    messages: list[str] = []
    for _intent, examples in sorted(held_out_messages().items()):
        messages += rng.sample(examples, min(PER_INTENT, len(examples)))
    return messages + list(NOISE)


class Engine:
    """The engine's REST channel and HTTP API on loopback."""

    def __init__(self, stack: E2EStack) -> None:
        self.url = stack.settings.engine_url
        self.token = stack.settings.engine_token

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        separator = "&" if "?" in path else "?"
        url = f"{self.url}{path}{separator}token={self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def say(self, sender: str, text: str, identity: dict[str, int] | None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": text}
        if identity is not None:
            body["metadata"] = {"identity": identity}
        return list(self._call("POST", "/webhooks/rest/webhook", body))

    def events(self, sender: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/conversations/{sender}/tracker")["events"])

    def replace(self, sender: str, events: list[dict[str, Any]]) -> None:
        self._call("PUT", f"/conversations/{sender}/tracker/events", events)

    def append(self, sender: str, event: dict[str, Any]) -> None:
        self._call("POST", f"/conversations/{sender}/tracker/events", event)


def reach(engine: Engine, state: State) -> list[dict[str, Any]]:
    """Play the state's prefix once and return the tracker's events."""
    sender = f"fuzz-state-{uuid.uuid4().hex[:10]}"
    for text in state.prefix:
        engine.say(sender, text, state.identity)
    if state.resolved_handoff:
        engine.append(sender, {"event": "pause"})
        engine.append(sender, {"event": "resume"})
    return engine.events(sender)


def secrets(account_id: int | None) -> set[str]:
    """What only other accounts may see: contract and invoice numbers, card digits, amounts."""
    today = date.today()
    found: set[str] = set()
    for account in demo_accounts(today):
        if account.id == account_id:
            continue
        found |= {c.number for c in account.contracts}
        found |= {f"terminada en {card.last4}" for card in account.cards}
        found |= {f"{p.amount:,.2f}" for c in account.contracts for p in c.payments}
        found |= {i.number for c in account.contracts for i in c.invoices}
    return found


def violations_of(
    state: State, text: str, replies: list[dict[str, Any]], turn: list[dict[str, Any]], secret: set[str]
) -> list[str]:
    """Every invariant the turn breaks."""
    found: list[str] = []
    replies = take_report(replies)[0]  # the gateway takes the turn's report out: it is not an answer
    texts = [str(r.get("text") or "") for r in replies if r.get("text")]
    if not replies or not (texts or any(r.get("custom") for r in replies)):
        found.append("empty reply")
    fallbacks = sum(1 for t in texts if any(mark in t for mark in FALLBACK_MARKS))
    if fallbacks > 1:
        found.append(f"{fallbacks} fallback messages")
    if len(set(texts)) != len(texts):
        found.append("a message repeated within the turn")
    actions = [e["name"] for e in turn if e.get("event") == "action" and e.get("name") != "action_listen"]
    if len(actions) > MAX_ACTIONS:
        found.append(f"{len(actions)} engine actions: {actions}")
    user = next((e for e in turn if e.get("event") == "user"), {})
    intent = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
    for reply in replies:
        custom = reply.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "handoff":
            reason = custom.get("reason")
            asked = intent in ASKED_FOR_A_PERSON and reason != "not_understood"
            second = reason == "not_understood" and state.after_fallback
            if not (asked or second):
                found.append(f"unasked hand-off ({reason}, intent {intent})")
    shown = "\n".join(texts)
    typed = re.sub(r"\D", "", text)
    for leak in secret:
        # The user's own words echoed back ("No encontré el contrato ZCC-200001") reveal nothing.
        echoed = leak in text or (leak.startswith("ZCC-") and leak[4:] in typed)
        if leak in shown and not echoed:
            found.append(f"another account's data: {leak}")
    if any(len(t) > 1600 for t in texts):
        found.append("a message longer than WhatsApp's 1,600 characters")
    return found


def test_every_state_and_message_keeps_the_invariants(stack: E2EStack) -> None:
    engine = Engine(stack)
    messages = sample()
    pairs: list[tuple[State, list[dict[str, Any]], str]] = []
    for state in STATES:
        events = reach(engine, state)
        pairs += [(state, events, message) for message in messages]

    hidden = {account: secrets(account) for account in (None, 1, 2)}

    def run(pair: tuple[State, list[dict[str, Any]], str]) -> tuple[State, str, list[str]]:
        state, events, text = pair
        sender = f"fuzz-{uuid.uuid4().hex[:12]}"
        engine.replace(sender, events)
        replies = engine.say(sender, text, state.identity)
        after = engine.events(sender)[len(events) :]
        account = None if state.identity is None else state.identity["account_id"]
        return state, text, violations_of(state, text, replies, after, hidden[account])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, pairs))
    broken = [(s.name, t[:60], v) for s, t, v in results if v]
    print(
        f"\ndialogue fuzzer: {len(STATES)} states × {len(messages)} messages = {len(results)} pairs, "
        f"{len(broken)} with violations"
    )
    assert len(results) >= 2000
    assert not broken, "\n".join(f"[{s}] {t!r}: {v}" for s, t, v in broken[:30])
