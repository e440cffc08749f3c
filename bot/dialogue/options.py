"""The options a reply offers (its buttons), kept so that a typed answer can pick one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.answers.reply import Button

_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$", re.DOTALL)


def parse_payload(payload: str) -> tuple[str, dict[str, str]] | None:
    """'/ask_invoice{"contract_number":"ZCC-1"}' -> ('ask_invoice', {'contract_number': 'ZCC-1'})."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    entities: dict[str, str] = {}
    if match.group("entities"):
        try:
            raw = json.loads(match.group("entities"))
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        entities = {str(k): str(v) for k, v in raw.items() if isinstance(v, str | int)}
    return match.group("intent"), entities


@dataclass(frozen=True)
class Option:
    """One offered option: what its button says, the question it asks, and other words that name it."""

    title: str
    intent: str
    entities: dict[str, str] = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    @classmethod
    def from_button(cls, button: Button) -> Option | None:
        """The option behind a button whose payload is an intent (None for any other payload)."""
        parsed = parse_payload(button.payload)
        if parsed is None:
            return None
        intent, entities = parsed
        return cls(button.title, intent, entities, button.keys)

    def button(self) -> Button:
        """The option as a button again (to offer it once more)."""
        entities = (
            json.dumps(self.entities, ensure_ascii=False, separators=(",", ":")) if self.entities else ""
        )
        return Button(self.title, f"/{self.intent}{entities}", self.keys)

    def as_slot(self) -> dict[str, Any]:
        """The option as a slot value (plain JSON)."""
        return {
            "title": self.title,
            "intent": self.intent,
            "entities": self.entities,
            "keys": list(self.keys),
        }

    @classmethod
    def from_slot(cls, value: Any) -> Option | None:
        """The option from a slot value; None when the value is not one."""
        if not isinstance(value, dict) or not isinstance(value.get("intent"), str):
            return None
        entities = value.get("entities") or {}
        keys = value.get("keys") or []
        return cls(
            str(value.get("title") or ""),
            value["intent"],
            {str(k): str(v) for k, v in entities.items()} if isinstance(entities, dict) else {},
            tuple(str(k) for k in keys) if isinstance(keys, list) else (),
        )
