"""What the dialogue remembers between turns, in slots the actions manage (plain JSON values)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.dialogue.options import Option
from bot.nlu.resolve import Mentions

PENDING_SLOT = "pending_choice"
LAST_SLOT = "last_question"
MISUNDERSTOOD_SLOT = "misunderstood_turn"


@dataclass(frozen=True)
class Asked:
    """A question the assistant answered: enough to answer it again, or again for a corrected value."""

    intent: str
    text: str = ""
    mentions: Mentions = field(default_factory=Mentions)
    contract: str | None = None
    # The options it was picked from, so that "el otro" can name another one.
    alternatives: tuple[Option, ...] = ()

    def with_values(
        self, mentions: Mentions | None = None, contract: str | None = None, text: str | None = None
    ) -> Asked:
        """The same question for other plans, features, channels or contract."""
        return replace(
            self,
            mentions=self.mentions if mentions is None else mentions,
            contract=self.contract if contract is None else contract,
            text=self.text if text is None else text,
        )

    def as_slot(self) -> dict[str, Any]:
        """The question as a slot value."""
        return {
            "intent": self.intent,
            "text": self.text,
            "plans": list(self.mentions.plans),
            "features": list(self.mentions.features),
            "channels": list(self.mentions.channels),
            "contract": self.contract,
            "alternatives": [o.as_slot() for o in self.alternatives],
        }

    @classmethod
    def from_slot(cls, value: Any) -> Asked | None:
        """The question from a slot value; None when there is none."""
        if not isinstance(value, dict) or not isinstance(value.get("intent"), str):
            return None

        def strings(name: str) -> tuple[str, ...]:
            items = value.get(name) or []
            return tuple(str(i) for i in items) if isinstance(items, list) else ()

        contract = value.get("contract")
        alternatives = value.get("alternatives") or []
        return cls(
            intent=value["intent"],
            text=str(value.get("text") or ""),
            mentions=Mentions(strings("plans"), strings("features"), strings("channels")),
            contract=str(contract) if contract else None,
            alternatives=tuple(
                o for o in (Option.from_slot(a) for a in alternatives if isinstance(alternatives, list)) if o
            ),
        )


@dataclass(frozen=True)
class Pending:
    """Options the last answer offered; `awaiting` when its question cannot be answered without one."""

    asked: Asked
    options: tuple[Option, ...]
    awaiting: bool = False
    reoffered: bool = False

    def as_slot(self) -> dict[str, Any]:
        """The pending choice as a slot value."""
        return {
            "asked": self.asked.as_slot(),
            "options": [o.as_slot() for o in self.options],
            "awaiting": self.awaiting,
            "reoffered": self.reoffered,
        }

    @classmethod
    def from_slot(cls, value: Any) -> Pending | None:
        """The pending choice from a slot value; None when there is none."""
        if not isinstance(value, dict):
            return None
        asked = Asked.from_slot(value.get("asked"))
        raw = value.get("options")
        options = tuple(o for o in (Option.from_slot(r) for r in raw) if o) if isinstance(raw, list) else ()
        if asked is None or not options:
            return None
        return cls(asked, options, bool(value.get("awaiting")), bool(value.get("reoffered")))


@dataclass(frozen=True)
class DialogueState:
    """Pending options, the last question answered, and the user turn last not understood."""

    pending: Pending | None = None
    last: Asked | None = None
    misunderstood_turn: int | None = None

    def slots(self) -> dict[str, Any]:
        """Slot name -> value for every slot this state is kept in."""
        return {
            PENDING_SLOT: None if self.pending is None else self.pending.as_slot(),
            LAST_SLOT: None if self.last is None else self.last.as_slot(),
            MISUNDERSTOOD_SLOT: None if self.misunderstood_turn is None else float(self.misunderstood_turn),
        }

    @classmethod
    def from_slots(cls, get: dict[str, Any]) -> DialogueState:
        """The state from slot values (missing or malformed values read as nothing)."""
        turn = get.get(MISUNDERSTOOD_SLOT)
        return cls(
            Pending.from_slot(get.get(PENDING_SLOT)),
            Asked.from_slot(get.get(LAST_SLOT)),
            int(turn) if isinstance(turn, int | float) else None,
        )
