"""How text reaches a customer on a text-only channel (WhatsApp through Twilio)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

# send(to, body): deliver one message of at most 1,600 characters.
Send = Callable[[str, str], Awaitable[None]]
