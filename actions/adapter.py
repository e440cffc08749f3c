"""Conversion between the Rasa tracker/dispatcher and the dialogue: turns in, replies and slots out."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import runtime
from bot.accounts.access import account_access
from bot.accounts.identity import Identity, identity_from_metadata
from bot.accounts.views import AccountView, Denial
from bot.answers.reply import Context, Reply
from bot.dialogue.report import TurnReport
from bot.dialogue.state import LAST_SLOT, MISUNDERSTOOD_SLOT, PENDING_SLOT, DialogueState
from bot.dialogue.turn import AccountLoader, Outcome, Turn

STATE_SLOTS = (PENDING_SLOT, LAST_SLOT, MISUNDERSTOOD_SLOT)


def context_from(tracker: Tracker) -> Context:
    """The context the previous answers left in slots."""
    return Context(
        topic=tracker.get_slot("ctx_topic"),
        plans=tuple(tracker.get_slot("ctx_plans") or ()),
        features=tuple(tracker.get_slot("ctx_features") or ()),
        channels=tuple(tracker.get_slot("ctx_channels") or ()),
    )


def state_from(tracker: Tracker) -> DialogueState:
    """The dialogue state the previous turns left in slots."""
    return DialogueState.from_slots({name: tracker.get_slot(name) for name in STATE_SLOTS})


def identity_of(tracker: Tracker) -> Identity | None:
    """The verified identity the gateway attached to the latest user message (never its text)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return identity_from_metadata(event.get("metadata"))
    return None


def turn_from(tracker: Tracker, intent: str) -> Turn:
    """The latest user message as a turn (`intent` stands in when the NLU gave none)."""
    message = tracker.latest_message or {}
    ranking = [
        (str(r.get("name")), float(r.get("confidence") or 0.0))
        for r in message.get("intent_ranking") or []
        if isinstance(r, dict)
    ]
    return Turn(
        text=str(message.get("text") or ""),
        intent=str((message.get("intent") or {}).get("name") or intent),
        entities=tuple(message.get("entities") or ()),
        ranking=tuple(ranking),
        number=sum(1 for event in tracker.events if event.get("event") == "user"),
        context=context_from(tracker),
        today=date.today(),
    )


def account_loader(tracker: Tracker) -> AccountLoader:
    """Loads the sender's account (or why it is refused) when an answer needs it, off the event loop."""
    identity = identity_of(tracker)

    async def load() -> tuple[AccountView | None, Denial | None]:
        def work() -> tuple[AccountView | None, Denial | None]:
            with runtime.sessions()() as session:
                return account_access(session, identity)

        return await asyncio.to_thread(work)

    return load


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


def report(dispatcher: CollectingDispatcher, outcome: Outcome) -> None:
    """Tell the gateway what the turn was (it records it with the answer and shows it to nobody)."""
    intent = outcome.intent or "nlu_fallback"
    dispatcher.utter_message(json_message=TurnReport(intent, outcome.understood, outcome.plans).as_custom())


def slot_events(reply: Reply, state: DialogueState, tracker: Tracker) -> list[dict[str, Any]]:
    """Slot events for what the turn changed: the answer's context and the dialogue state.

    Unchanged slots get no event: every event is stored and re-read with the conversation on each turn.
    """
    wanted: dict[str, Any] = state.slots()
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
    # An unset slot already means "nothing": None and an empty list need no event.
    if current is None:
        return wanted not in (None, [])
    return bool(current != wanted)
