"""Hand-off actions: the assistant says it hands off and asks the gateway to route to a person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import runtime
from actions.adapter import context_events, question_from, send
from bot.answers.dispatch import fallback
from bot.handoff.hours import BusinessHours
from bot.handoff.triggers import handoff_message, reason_for
from bot.settings import get_settings

HANDOFF_TYPE = "handoff"


def _hand_off(dispatcher: CollectingDispatcher, reason: str) -> list[dict[str, Any]]:
    settings = get_settings()
    hours = BusinessHours.parse(settings.support_days, settings.support_hours, settings.support_timezone)
    dispatcher.utter_message(text=handoff_message(reason, datetime.now(UTC), hours))
    # The gateway sees this payload, queues the conversation for an agent and pauses the engine.
    dispatcher.utter_message(json_message={"type": HANDOFF_TYPE, "reason": reason})
    return [SlotSet("fallback_streak", 0.0)]


class ActionHandoff(Action):  # type: ignore[misc]
    """The user asked for a person, or the topic needs one."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Announce the hand-off and request it from the gateway."""
        message = tracker.latest_message or {}
        intent = str((message.get("intent") or {}).get("name") or "")
        return _hand_off(dispatcher, reason_for(intent, str(message.get("text") or "")))


class ActionFallback(Action):  # type: ignore[misc]
    """Low confidence: ask to rephrase; the second time in a row, hand off to a person."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Rephrase request, or hand-off after two misunderstandings."""
        streak = float(tracker.get_slot("fallback_streak") or 0)
        if streak >= 1:
            return _hand_off(dispatcher, "not_understood")
        snapshot = runtime.catalogue_cache().get()
        reply = fallback(snapshot.catalogue, question_from(tracker, snapshot.resolver, "nlu_fallback"))
        send(dispatcher, reply)
        return [*context_events(reply, tracker), SlotSet("fallback_streak", streak + 1)]
