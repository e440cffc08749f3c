"""End to end, with the real NLU, actions, engine and gateway: what each turn was is recorded with its
answer (the actions' report, the tracker's intent for the engine's own responses), what the assistant did
not understand waits for review, and after a hand-off the customer rates it — a button on the webchat, a tap
on WhatsApp — without the assistant ever hearing the rating.

Every hand-off a test opens is resolved before it ends (the stack's store is shared by the whole run)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.answers import csat
from tests.e2e.conftest import E2EStack, text_of
from tests.e2e.test_handoff_e2e import (
    EXPERT_USERS,
    GIBBERISH,
    TIMEOUT,
    TRIGGER,
    Agent,
    WebCustomer,
    agent,  # noqa: F401  (fixture)
    handoff_status,
    intent_of,
)
from tests.e2e.test_whatsapp import SETTLE, WhatsApp, new_number
from tests.e2e.test_whatsapp import whatsapp as whatsapp

pytestmark = pytest.mark.e2e


def query(stack: E2EStack, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of the stack's store (read-only)."""
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def turns(stack: E2EStack, sender: str) -> list[tuple[str, str | None, Any, list[str] | None]]:
    found = query(
        stack,
        "SELECT text, intent, understood, plans FROM inbound_messages WHERE sender_id = :s ORDER BY id",
        s=sender,
    )
    return [
        (
            r["text"],
            r["intent"],
            None if r["understood"] is None else bool(r["understood"]),
            None
            if r["plans"] is None
            else json.loads(r["plans"])
            if isinstance(r["plans"], str)
            else r["plans"],
        )
        for r in found
    ]


def survey(stack: E2EStack, handoff_id: int) -> tuple[Any, ...]:
    [row] = query(
        stack,
        "SELECT csat_asked_at, csat_rating, csat_comment, csat_rated_at FROM handoffs WHERE id = :i",
        i=handoff_id,
    )
    return (
        row["csat_asked_at"] is not None,
        row["csat_rating"],
        row["csat_comment"],
        row["csat_rated_at"] is not None,
    )


def test_each_turn_is_recorded_and_a_misunderstanding_waits_for_review(stack: E2EStack) -> None:
    customer = WebCustomer(stack)
    customer.chat("hola")
    assert "30 usuarios" in text_of(customer.chat(EXPERT_USERS))
    first = customer.chat(GIBBERISH)
    assert handoff_status(first) is None and text_of(first).strip(), intent_of(stack, GIBBERISH)
    assert not any((m.get("custom") or {}).get("type") == "turn" for m in first)  # never shown
    recorded = turns(stack, customer.sender)
    assert recorded[0][1:3] == ("greet", True), recorded  # the engine's own response, its report
    assert recorded[1] == (EXPERT_USERS, "ask_feature_value", True, ["expert"]), recorded
    assert recorded[2] == (GIBBERISH, "nlu_fallback", False, []), recorded
    [item] = query(
        stack,
        "SELECT text, reason, status, context FROM review_items WHERE sender_id = :s",
        s=customer.sender,
    )
    assert (item["text"], item["reason"], item["status"]) == (GIBBERISH, "fallback", "waiting")
    context = json.loads(item["context"]) if isinstance(item["context"], str) else item["context"]
    assert [line["role"] for line in context[:2]] == ["user", "bot"] and context[0]["text"] == "hola"
    assert context[-2] == {"role": "user", "text": GIBBERISH}


def test_webchat_rating_after_a_hand_off(stack: E2EStack, agent: Agent) -> None:  # noqa: F811
    customer = WebCustomer(stack)
    answer = customer.chat(TRIGGER)
    agent.senders.add(customer.sender)
    assert handoff_status(answer) is not None, intent_of(stack, TRIGGER)
    handoff = agent.find(customer.sender)
    stream = customer.events()
    try:
        agent.take(handoff["id"])
        agent.reply(handoff["id"], "Listo, ya quedó resuelto.")
        agent.resolve(handoff["id"])
        question = stream.until("system", "calificarías", timeout=TIMEOUT)
    finally:
        stream.close()
    assert question["text"] == csat.QUESTION
    assert [b["payload"] for b in question["buttons"]] == ["1", "2", "3", "4", "5"]

    # The button's payload is the rating: the gateway keeps it, the engine never hears it.
    assert customer.chat("4") == [{"text": csat.THANKS}]
    assert customer.chat("la atención fue muy rápida") == [{"text": csat.COMMENT_THANKS}]
    assert survey(stack, handoff["id"]) == (True, 4, "la atención fue muy rápida", True)
    # Back with the assistant: a question is answered as usual.
    assert "30 usuarios" in text_of(customer.chat(EXPERT_USERS))
    assert [t[1:3] for t in turns(stack, customer.sender)[-3:]] == [
        (None, None),
        (None, None),
        ("ask_feature_value", True),
    ]


def test_whatsapp_rating_by_a_tap_after_a_hand_off(stack: E2EStack, agent: Agent, whatsapp: WhatsApp) -> None:  # noqa: F811
    sender = new_number()
    conversation = f"wa:{sender.removeprefix('whatsapp:')}"
    agent.senders.add(conversation)
    replies = whatsapp.ask(sender, TRIGGER, parts=2)
    assert len(replies) == 2, intent_of(stack, TRIGGER)
    handoff = agent.find(conversation)
    sent = len(stack.twilio.messages(sender))
    agent.take(handoff["id"])
    agent.resolve(handoff["id"])
    arrived = stack.twilio.wait_for(sender, sent + 3, timeout=TIMEOUT, settle=SETTLE)[sent:]
    question = arrived[-1]
    assert question.body == csat.QUESTION and question.accepted
    # Five options: a list to pick from, every title whole.
    assert question.content is not None
    assert [i["item"] for i in question.content.get("items") or []] == [title for title, _ in csat.OPTIONS]

    tapped = whatsapp.ask(sender, "5 · Excelente", ListId="5", ListTitle="5 · Excelente")
    assert [m.body for m in tapped] == [csat.THANKS]
    assert survey(stack, handoff["id"]) == (True, 5, None, True)
    # A typed number now is the assistant's, not a second rating.
    whatsapp.ask(sender, "3")
    assert survey(stack, handoff["id"])[1] == 5
