"""What the outbox hands a channel's provider, and what a provider may answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

# Why a text goes out (see OUTBOUND_PURPOSES in the store's models).
ANSWER, NOTICE, AGENT, REOPEN, CONFIRM = "answer", "notice", "agent", "reopen", "confirm"
# Texts worth reopening a closed service window for: they wait for it. A notice (a queue position, "the
# conversation was resolved") is stale by then: it is dropped instead.
WORTH_REOPENING = (ANSWER, AGENT)


@dataclass(frozen=True)
class Draft:
    """A text to queue: its plain body (what is sent when nothing richer can be), and optionally a rich
    form (`content`: quick replies or a list, as the channel defines them), a file, and what it belongs to."""

    body: str
    purpose: str = ANSWER
    content: dict[str, Any] | None = None
    media_url: str | None = None
    inbound_id: int | None = None
    handoff_message_id: int | None = None


@dataclass(frozen=True)
class OutboundText:
    """One text as the provider sends it. `content` is the rich form, or for a REOPEN text the template
    (`{"sid", "variables"}`)."""

    to: str
    body: str
    purpose: str = ANSWER
    content: dict[str, Any] | None = None
    media_url: str | None = None


class Refused(Exception):
    """The provider answered and did not accept the message: it was certainly not sent. `code` is the
    provider's error code; `window_closed` when the recipient cannot get this kind of text until they
    write again (WhatsApp's 24-hour window)."""

    def __init__(self, message: str, code: str | None = None, window_closed: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.window_closed = window_closed


class Provider(Protocol):
    """The messaging API behind the outbox."""

    # How long after the recipient's last message free text may reach them (None: always).
    window: timedelta | None

    async def send(self, text: OutboundText) -> str:
        """Hand one message to the provider; return its id. `Refused` when the provider said no; any other
        error leaves it unknown whether the message was accepted."""
        ...

    async def find(self, text: OutboundText, since: datetime, exclude: set[str]) -> str | None:
        """The id of a message like this one to its recipient created since `since` (other than the ids in
        `exclude`), if the provider has one: how an uncertain send is checked before it is repeated."""
        ...

    def reopener(self) -> dict[str, Any] | None:
        """The template that reopens a closed window (`{"sid", "variables"}`), or None when none is set."""
        ...

    def window_closed(self, code: str | None) -> bool:
        """Whether a failure the provider reported later (a status callback's error code) means the window
        had closed."""
        ...
