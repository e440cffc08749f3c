"""The options a reply offers (its buttons), kept so that a typed answer can pick one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.answers.reply import Button, Entities, payload

_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$", re.DOTALL)


def parse_payload(payload: str) -> tuple[str, Entities] | None:
    """'/compare_plans{"plan":["starter","expert"]}' -> ('compare_plans', {'plan': ('starter', 'expert')})."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    entities: Entities = {}
    if match.group("entities"):
        try:
            raw = json.loads(match.group("entities"))
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        entities = {str(k): _values(v) for k, v in raw.items() if _values(v)}
    return match.group("intent"), entities


def _values(raw: Any) -> tuple[str, ...]:
    """An entity's value or list of values (as Rasa reads payloads) as a tuple of strings."""
    items = raw if isinstance(raw, list) else [raw]
    return tuple(str(item) for item in items if isinstance(item, str | int))


@dataclass(frozen=True)
class Option:
    """One offered option: what its button says, the question it asks, and other words that name it."""

    title: str
    intent: str
    entities: Entities = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    def first(self, kind: str) -> str | None:
        """The option's first value of an entity type."""
        values = self.entities.get(kind)
        return values[0] if values else None

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
        return Button(self.title, payload(self.intent, self.entities), self.keys)

    def as_slot(self) -> dict[str, Any]:
        """The option as a slot value (plain JSON)."""
        return {
            "title": self.title,
            "intent": self.intent,
            "entities": {kind: list(values) for kind, values in self.entities.items()},
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
            {str(k): _values(v) for k, v in entities.items()} if isinstance(entities, dict) else {},
            tuple(str(k) for k in keys) if isinstance(keys, list) else (),
        )
