"""Rate limits per conversation and per client — the client's address for anonymous traffic, the user
for signed-in traffic, the number for WhatsApp — in memory, or shared by every gateway replica through
Redis when one is configured (the `limits` library keeps the windows)."""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from bot.settings import Settings

log = logging.getLogger("bot.gateway.limits")
PREFIX = "asistente-limits"
WARN_EVERY_SECONDS = 60.0


def window(rate: float, burst: int) -> RateLimitItem:
    """`burst` messages within the seconds it takes to earn them back at `rate` a second: a burst at once,
    then about `rate` a second."""
    return RateLimitItemPerSecond(burst, max(1, round(burst / rate)))


def storage_for(url: str | None, namespace: str = "") -> Storage:
    """Redis (shared by the replicas) when a URL is given, else this process's memory. Keys live under the
    deployment's namespace (its live events channel), so assistants sharing a Redis count apart."""
    if url:
        # redis-py (already ours for live events) rather than the library's default client.
        return RedisStorage(
            url.replace("redis://", "async+redis://", 1),
            implementation="redispy",
            key_prefix=f"{PREFIX}:{namespace}" if namespace else PREFIX,
            # A Redis that stops answering costs a message a second at most, then memory takes over.
            socket_connect_timeout=1.0,
            socket_timeout=1.0,
        )
    return MemoryStorage()


class ClientLimits:
    """Admits a message only when every key it counts against (its conversation, its client) has room.

    While the shared store is unreachable each replica counts in its own memory instead (a Redis outage
    must not turn every message away, nor let a flood through unlimited)."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        # A sliding window of two counters per key: constant work per message. A moving window keeps every
        # hit and scans them on each one (9% of the gateway's event loop at 100 msg/s, in `make bench`).
        self._item = window(settings.rate_limit_per_second, settings.rate_limit_burst)
        self._shared = SlidingWindowCounterRateLimiter(
            storage or storage_for(settings.rate_limit_storage_url, settings.events_channel)
        )
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._warned_at = float("-inf")

    async def allow(self, *keys: str) -> bool:
        """Count the message against each key; False when any of them is over its limit."""
        allowed = True
        for key in dict.fromkeys(k for k in keys if k):
            allowed = await self._hit(key) and allowed
        return allowed

    async def _hit(self, key: str) -> bool:
        try:
            return await self._shared.hit(self._item, key)
        except Exception as failure:  # the shared store is down: count here until it is back
            now = time.monotonic()
            if now - self._warned_at > WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning(
                    "rate limits counted in memory: the shared store failed (%s)", type(failure).__name__
                )
            return await self._local.hit(self._item, key)
