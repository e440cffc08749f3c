"""Conversion between the Rasa tracker/dispatcher and `bot.answers` questions and replies."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

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


def context_events(reply: Reply) -> list[dict[str, Any]]:
    """Slot events that remember the reply's context."""
    context = reply.context
    if context is None:
        return []
    return [
        SlotSet("ctx_topic", context.topic),
        SlotSet("ctx_plans", list(context.plans)),
        SlotSet("ctx_features", list(context.features)),
        SlotSet("ctx_channels", list(context.channels)),
    ]
