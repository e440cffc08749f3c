"""Drives the real actions turn by turn as the engine would: the rules pick the action for an intent, slot
events carry over to the next turn, and user events accumulate (no engine, no NLU: intents are given)."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import BOUND_ACTIONS
from actions.handoff import ActionHandoff
from bot.dialogue.report import TurnReport, take_report
from bot.settings import PROJECT_ROOT


@cache
def rules() -> dict[str, str]:
    """Intent -> the action its rule runs (data/rules.yml)."""
    data = yaml.safe_load((PROJECT_ROOT / "data" / "rules.yml").read_text(encoding="utf-8"))
    return {rule["steps"][0]["intent"]: rule["steps"][1]["action"] for rule in data["rules"]}


def action_named(name: str) -> Action:
    """The action server's action of that name."""
    return next(cls() for cls in (*BOUND_ACTIONS, ActionHandoff) if cls().name() == name)


def said(messages: list[dict[str, Any]]) -> str:
    """All text of a turn's messages."""
    return "\n".join(str(m.get("text") or "") for m in messages)


class Conversation:
    """One user's conversation with the actions; `identity` is what the gateway would attach."""

    def __init__(self, identity: dict[str, Any] | None = None, **slots: Any) -> None:
        self.identity = identity
        self.slots: dict[str, Any] = dict(slots)
        self.events: list[dict[str, Any]] = []
        self.actions: list[str] = []
        # What each turn reported to the gateway (None: the engine answered with its own response).
        self.reports: list[TurnReport | None] = []

    def say(
        self,
        text: str,
        intent: str,
        entities: list[dict[str, Any]] | None = None,
        ranking: list[tuple[str, float]] | None = None,
    ) -> list[dict[str, Any]]:
        """The bot's messages for one user turn (a domain response comes back as {'response': name}),
        without the turn's report, which the gateway takes out (kept in `reports`)."""
        message: dict[str, Any] = {
            "text": text,
            "intent": {"name": intent, "confidence": ranking[0][1] if ranking else 0.99},
            "entities": entities or [],
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking or []],
        }
        user_event: dict[str, Any] = {"event": "user", "text": text, "parse_data": message}
        if self.identity is not None:
            user_event["metadata"] = {"identity": self.identity}
        self.events += [{"event": "action", "name": "action_listen"}, user_event]
        name = rules()[intent]
        self.actions.append(name)
        if name.startswith("utter_"):
            self.reports.append(None)
            return [{"response": name}]
        tracker = Tracker(
            "tester", dict(self.slots), message, list(self.events), False, None, {}, "action_listen"
        )
        dispatcher = CollectingDispatcher()
        for event in asyncio.run(action_named(name).run(dispatcher, tracker, {})):
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        messages, report = take_report(dispatcher.messages)
        self.reports.append(report)
        self.events += [{"event": "bot", "text": m.get("text")} for m in messages]
        return messages
