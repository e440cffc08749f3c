"""In-process publish/subscribe for live updates (agent console and webchat server-sent events)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

AGENTS = "agents"
Event = tuple[str, dict[str, Any]]


def conversation_topic(sender_id: str) -> str:
    """The topic of one customer's conversation."""
    return f"conversation:{sender_id}"


class Broker:
    """Topics with any number of subscribers; a slow subscriber drops its oldest events, never blocks."""

    def __init__(self, queue_size: int = 200) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._queue_size = queue_size

    def publish(self, topic: str, event: str, data: dict[str, Any]) -> None:
        """Deliver an event to every current subscriber of the topic."""
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait((event, data))

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue receiving the topic's events while the block runs."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers[topic].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[topic].discard(queue)
            if not self._subscribers[topic]:
                del self._subscribers[topic]

    def subscribers(self, topic: str) -> int:
        """How many subscribers a topic has (tests and diagnostics)."""
        return len(self._subscribers.get(topic, ()))
