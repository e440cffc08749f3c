"""What the assistant made of a user turn, reported to the gateway with the answer: a custom payload the
action adds after its messages and the gateway takes out before any channel renders the reply, so the
turn's record is written in the same store write as its answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TURN_TYPE = "turn"


@dataclass(frozen=True)
class TurnReport:
    """The intent the assistant acted on, whether it understood the turn, and the plans it was about."""

    intent: str
    understood: bool
    plans: tuple[str, ...] = ()

    def as_custom(self) -> dict[str, Any]:
        """The payload the action utters (`json_message`)."""
        return {
            "type": TURN_TYPE,
            "intent": self.intent,
            "understood": self.understood,
            "plans": list(self.plans),
        }


def take_report(replies: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], TurnReport | None]:
    """The replies without turn reports, and the last report among them (None when the engine answered
    without our actions, or with a malformed one)."""
    kept: list[dict[str, Any]] = []
    report = None
    for reply in replies:
        custom = reply.get("custom")
        if not (isinstance(custom, dict) and custom.get("type") == TURN_TYPE):
            kept.append(reply)
            continue
        intent, plans = custom.get("intent"), custom.get("plans") or []
        if isinstance(intent, str) and intent and isinstance(plans, list):
            report = TurnReport(intent[:64], custom.get("understood") is not False, tuple(map(str, plans)))
    return kept, report
