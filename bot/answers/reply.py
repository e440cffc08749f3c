"""What an answer is: messages (text, buttons, an optional table) plus the context to remember."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

WHATSAPP_LIMIT = 1600

# Entity type -> its values, as a button's payload carries them.
Entities = dict[str, tuple[str, ...]]


def payload(intent: str, entities: Entities | None = None) -> str:
    """What a button sends, as Rasa reads it: '/intent' with its entities (one value as a string, several
    as a list): '/compare_plans{"plan":["starter","expert"]}'."""
    if not entities:
        return f"/{intent}"
    plain = {kind: values[0] if len(values) == 1 else list(values) for kind, values in entities.items()}
    return f"/{intent}{json.dumps(plain, ensure_ascii=False, separators=(',', ':'))}"


@dataclass(frozen=True)
class Button:
    """A quick reply; the payload is sent back as the user's message when chosen."""

    title: str
    payload: str
    # Words that also name this option when typed ("suspendido", "expert", "100002"); never shown.
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A table that the webchat renders; WhatsApp shows the message text instead."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def as_custom(self) -> dict[str, Any]:
        """The `custom` payload sent to channels that render tables."""
        return {"type": "table", "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


@dataclass(frozen=True)
class Message:
    """One bot message. The text always reads well on its own (plain, ≤ 1,600 characters)."""

    text: str
    buttons: tuple[Button, ...] = ()
    table: Table | None = None


@dataclass(frozen=True)
class Context:
    """What the conversation is about, so that '¿y el Expert?' can be answered."""

    topic: str | None = None
    plans: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """An answer: its messages and the context it leaves behind (None keeps the old one)."""

    messages: tuple[Message, ...]
    context: Context | None = field(default=None)
    # True when the reply is a question that waits for the user to pick one of its buttons (which
    # contract, which plan): a question asked meanwhile is answered, then this one is offered again.
    awaiting: bool = False


def single(
    text: str, *, buttons: tuple[Button, ...] = (), context: Context | None = None, awaiting: bool = False
) -> Reply:
    """A reply of one plain message."""
    return Reply((Message(text, buttons),), context, awaiting)


def first_upper(text: str) -> str:
    """'100 InteractionZ' stays, 'sí' -> 'Sí': only the first letter changes (unlike str.capitalize)."""
    return text[:1].upper() + text[1:]
