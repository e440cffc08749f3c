"""What an answer is: messages (text, buttons, an optional table) plus the context to remember."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WHATSAPP_LIMIT = 1600


@dataclass(frozen=True)
class Button:
    """A quick reply; the payload is sent back as the user's message when chosen."""

    title: str
    payload: str


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
    # Set when the question needs one contract and the admin has several: ask which (the contract form).
    select_contract_for: str | None = None


def single(text: str, *, buttons: tuple[Button, ...] = (), context: Context | None = None) -> Reply:
    """A reply of one plain message."""
    return Reply((Message(text, buttons),), context)
