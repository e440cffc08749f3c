"""Hand-off: the assistant says it hands off and asks the gateway to route the conversation to a person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.dialogue.report import TurnReport
from bot.dialogue.state import MISUNDERSTOOD_SLOT, PENDING_SLOT
from bot.handoff.hours import BusinessHours
from bot.handoff.triggers import HANDOFF_TYPE, handoff_message, reason_for
from bot.settings import get_settings


def hand_off(dispatcher: CollectingDispatcher, reason: str) -> None:
    """Say that a person takes over (and when, outside hours), and ask the gateway for the hand-off."""
    settings = get_settings()
    hours = BusinessHours.parse(settings.support_days, settings.support_hours, settings.support_timezone)
    dispatcher.utter_message(text=handoff_message(reason, datetime.now(UTC), hours))
    # The gateway sees this payload, queues the conversation for an agent and pauses the engine.
    dispatcher.utter_message(json_message={"type": HANDOFF_TYPE, "reason": reason})


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
        hand_off(dispatcher, reason_for(intent, str(message.get("text") or "")))
        dispatcher.utter_message(json_message=TurnReport(intent or "request_human", True).as_custom())
        # Whatever was pending is for the assistant; after the person, the conversation starts afresh.
        return [
            SlotSet(name, None)
            for name in (PENDING_SLOT, MISUNDERSTOOD_SLOT)
            if tracker.get_slot(name) is not None
        ]
