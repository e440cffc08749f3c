"""Live updates shared by every gateway replica through Redis publish/subscribe.

Each process publishes its events to one Redis channel and delivers what the channel carries (its own events
included) to its local subscribers, so a console on one replica sees what happens on another. Publishing
never blocks a request: events queue for a background publisher. While Redis is unreachable, events still
reach this process's own subscribers (and the listener reconnects with backoff); live events are a
convenience on top of the store, which stays the record the console reloads from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.handoff.events import Broker

log = logging.getLogger("bot.handoff.events")

CHANNEL = "asistente:events"


class RedisBroker(Broker):
    """A `Broker` whose topics span processes; `start()` before use, `close()` at shutdown."""

    def __init__(
        self, url: str, channel: str = CHANNEL, queue_size: int = 200, backlog: int = 10_000
    ) -> None:
        super().__init__(queue_size)
        self._redis = redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15
        )
        self._channel = channel
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(backlog)
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start publishing and listening; returns once subscribed, or after 2 s if Redis does not answer."""
        self._tasks = [asyncio.create_task(self._publisher()), asyncio.create_task(self._listener())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 2.0)

    async def close(self) -> None:
        """Stop both tasks and close the connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()

    @property
    def listening(self) -> bool:
        """True while subscribed to the shared channel."""
        return self._listening.is_set()

    def publish(self, topic: str, event: str, data: dict[str, Any]) -> None:
        """Queue the event for every replica (this one included)."""
        message = json.dumps({"topic": topic, "event": event, "data": data}, ensure_ascii=False, default=str)
        try:
            self._outgoing.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("live event dropped: %d events wait for Redis", self._outgoing.qsize())

    def _deliver(self, message: str | bytes) -> None:
        try:
            decoded = json.loads(message)
            topic, event, data = decoded["topic"], decoded["event"], decoded["data"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed live event on %s", self._channel)
            return
        super().publish(str(topic), str(event), data if isinstance(data, dict) else {})

    async def _publisher(self) -> None:
        while True:
            message = await self._outgoing.get()
            if self._listening.is_set():
                try:
                    await self._redis.publish(self._channel, message)
                    continue
                except (RedisError, OSError) as error:
                    log.warning("could not publish a live event to Redis: %s", error)
            # Not subscribed (Redis down): at least this process's subscribers hear of it.
            self._deliver(message)

    async def _listener(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._listening.set()
                    delay = 0.5
                    while True:
                        # Polling with a timeout (not a blocking read) lets the client's health check
                        # ping the server, so a silently dead connection is noticed and replaced.
                        item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if item is not None and item.get("type") == "message":
                            self._deliver(item["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                if self._listening.is_set():
                    log.warning("lost the live-event channel on Redis (%s); reconnecting", error)
            self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(10.0, delay * 2)
