"""Channels: how a conversation reaches the assistant and the assistant reaches it back.

A channel is one module with one class implementing `Channel`: its HTTP routes turn a request into an
`Incoming` message for the pipeline, it renders the engine's replies for its medium (buttons, tables,
length limits), and, when it answers later rather than in the HTTP response, a `Provider` delivers its
texts through the outbox. Registering it in `registry.default_channels` (or passing it to `create_app`)
is all the rest of the gateway needs: the pipeline has no channel branches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from bot.gateway.outbound import Provider


@dataclass(frozen=True)
class Incoming:
    """A user message as every channel hands it to the pipeline."""

    channel: str
    # The channel's id of this message (a retry with the same id is answered once).
    external_id: str
    # Who the engine talks to ("web:u:1", "wa:+5215510000001"): one conversation per sender.
    sender_id: str
    text: str
    # Where a later answer goes (a WhatsApp address); None when the answer is the HTTP response.
    reply_to: str | None = None
    # "text", or what came instead: "media", "location", "empty".
    kind: str = "text"
    # Verified identity and other metadata the engine may see.
    metadata: dict[str, Any] = field(default_factory=dict)
    # A phone number that names the user when it is verified (looked up as the message is stored).
    phone: str | None = None
    # Who sends, for the rate limits beside the conversation's own: "ip:…" for anonymous traffic, "user:…"
    # when signed in, the number on WhatsApp.
    client: str | None = None
    # The name the sender's channel shows for them (WhatsApp's profile name): unverified, for agents only.
    profile_name: str | None = None
    # Files that came with the message ({"url", "content_type"}): the channel fetches them for agents.
    media: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Rendered:
    """A reply as a text channel sends it: its texts in order, and for each (by position; none when
    shorter) a richer form the channel's provider may send instead (options to tap)."""

    texts: tuple[str, ...]
    contents: tuple[dict[str, Any] | None, ...] = ()

    def content(self, index: int) -> dict[str, Any] | None:
        """The rich form of the text at `index`, if any."""
        return self.contents[index] if index < len(self.contents) else None


class Channel(Protocol):
    """One way users talk to the assistant."""

    # The channel's name, stored with every message and outbound text ("webchat", "whatsapp").
    name: str
    # True when the answer is the HTTP response to the message (the webchat); False when it is delivered
    # later through the outbox (WhatsApp): then refusals are answered as messages, the user is told when
    # the assistant is down, and the provider must be set.
    answers_in_response: bool

    def add_routes(self, app: web.Application) -> None:
        """Register the channel's HTTP routes (they hand messages to the app's pipeline, `keys.PIPELINE`)."""
        ...

    def render(self, replies: list[dict[str, Any]]) -> Rendered:
        """The engine's replies as this channel sends them (unused when `answers_in_response`)."""
        ...

    def provider(self) -> Provider | None:
        """What delivers this channel's texts (None when it answers in the response); set once opened."""
        ...

    async def open(self, store: sessionmaker[Session]) -> None:
        """Acquire what the channel needs while the gateway runs (an HTTP client for its provider; the
        store, for what its provider keeps)."""
        ...

    async def close(self) -> None:
        """Release it on shutdown."""
        ...


@runtime_checkable
class MediaSource(Protocol):
    """A channel whose messages may bring files, which it fetches for agents (with its own credentials)."""

    async def fetch_media(self, url: str) -> tuple[str, bytes]:
        """The file at a URL its messages gave: (content type, bytes); `MediaRefused` when it cannot be
        served (not the channel's, too large, a type not allowed, unavailable)."""
        ...


class MediaRefused(Exception):
    """A file that cannot be served to an agent; the message says why."""


class Channels:
    """The channels a gateway serves, by name."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self._by_name = {channel.name: channel for channel in channels}

    def __getitem__(self, name: str) -> Channel:
        return self._by_name[name]

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._by_name.values())

    def get(self, name: str) -> Channel | None:
        """The channel of that name, if served."""
        return self._by_name.get(name)

    def providers(self) -> dict[str, Provider]:
        """Each delivering channel's provider, by channel name."""
        found = {}
        for channel in self:
            provider = channel.provider()
            if provider is not None:
                found[channel.name] = provider
        return found
