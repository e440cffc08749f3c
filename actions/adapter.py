"""Conversion between the Rasa tracker/dispatcher and `bot.answers` questions and replies."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import runtime
from bot.accounts.access import account_access, normalize_contract_number
from bot.accounts.identity import Identity, identity_from_metadata
from bot.answers.question import Question
from bot.answers.reply import Context, Reply
from bot.nlu.resolve import Resolver


def context_from(tracker: Tracker) -> Context:
    """The context the previous answers left in slots."""
    return Context(
        topic=tracker.get_slot("ctx_topic"),
        plans=tuple(tracker.get_slot("ctx_plans") or ()),
        features=tuple(tracker.get_slot("ctx_features") or ()),
        channels=tuple(tracker.get_slot("ctx_channels") or ()),
    )


def identity_of(tracker: Tracker) -> Identity | None:
    """The verified identity the gateway attached to the latest user message (never its text)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return identity_from_metadata(event.get("metadata"))
    return None


def contract_number_of(tracker: Tracker) -> str | None:
    """A contract number named in the latest message (entity, then text), else the form's slot."""
    message = tracker.latest_message or {}
    for entity in message.get("entities") or []:
        if entity.get("entity") == "contract_number":
            number = normalize_contract_number(str(entity.get("value", "")))
            if number:
                return number
    number = normalize_contract_number(str(message.get("text") or ""))
    if number:
        return number
    slot = tracker.get_slot("contract_number")
    return normalize_contract_number(str(slot)) if slot else None


def question_from(tracker: Tracker, resolver: Resolver, intent: str | None = None) -> Question:
    """Build the question of the latest user message."""
    message = tracker.latest_message or {}
    text = str(message.get("text") or "")
    entities = message.get("entities") or []
    return Question(
        intent=intent or str((message.get("intent") or {}).get("name") or ""),
        text=text,
        mentions=resolver.mentions(entities, text),
        context=context_from(tracker),
    )


async def with_account(question: Question, tracker: Tracker) -> Question:
    """The question with the sender's account data (or the reason it is refused) and contract number."""
    identity = identity_of(tracker)

    def load() -> Question:
        with runtime.sessions()() as session:
            account, denial = account_access(session, identity)
        return replace(question, account=account, denial=denial, contract_number=contract_number_of(tracker))

    return await asyncio.to_thread(load)


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Utter every message; a table goes as a `custom` payload that replaces the texts before it."""
    since_table = 0
    for message in reply.messages:
        buttons = [{"title": b.title, "payload": b.payload} for b in message.buttons]
        dispatcher.utter_message(text=message.text, buttons=buttons or None)
        since_table += 1
        if message.table is not None:
            custom: dict[str, Any] = {**message.table.as_custom(), "replaces": since_table}
            dispatcher.utter_message(json_message=custom)
            since_table = 0


def context_events(reply: Reply, tracker: Tracker) -> list[dict[str, Any]]:
    """Slot events for what the reply changes: its context, a pending contract choice, the fallback streak.

    Unchanged slots get no event: every event is stored and re-read with the conversation on each turn.
    """
    # An answer ends any streak of misunderstandings and any pending contract choice.
    wanted: dict[str, Any] = {
        "pending_question": reply.select_contract_for,
        "contract_number": None,
        "fallback_streak": 0.0,
    }
    context = reply.context
    if context is not None:
        wanted |= {
            "ctx_topic": context.topic,
            "ctx_plans": list(context.plans),
            "ctx_features": list(context.features),
            "ctx_channels": list(context.channels),
        }
    return [SlotSet(name, value) for name, value in wanted.items() if _changed(tracker.get_slot(name), value)]


def _changed(current: Any, wanted: Any) -> bool:
    # An unset slot already means "nothing": None, an empty list and a zero streak need no event.
    if current is None:
        return wanted not in (None, [], 0.0)
    return bool(current != wanted)
