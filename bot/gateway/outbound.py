"""How text reaches a customer on a text-only channel (WhatsApp through Twilio)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

# send(to, body): queue one message of at most 1,600 characters for delivery.
Send = Callable[[str, str], Awaitable[None]]


class Refused(Exception):
    """The provider answered and did not accept the message: it was certainly not sent."""


class Provider(Protocol):
    """The messaging API behind the outbox."""

    async def send(self, to: str, body: str) -> str:
        """Hand one message to the provider; return its id. `Refused` when the provider said no; any other
        error leaves it unknown whether the message was accepted."""
        ...

    async def find(self, to: str, body: str, since: datetime, exclude: set[str]) -> str | None:
        """The id of a message with this body to this recipient created since `since` (other than the ids
        in `exclude`), if the provider has one: how an uncertain send is checked before it is repeated."""
        ...
