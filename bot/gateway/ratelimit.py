"""Per-sender token-bucket rate limit, bounded in memory, with the reply a limited sender gets."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

_EPSILON = 1e-9  # float refills like 0.1 * 10 must still add up to a whole token


class RateLimiter:
    """Allow each sender `burst` messages at once, refilled at `rate` messages per second."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1 or max_senders < 1:
            raise ValueError("rate must be > 0, burst and max_senders >= 1")
        self._rate, self._burst, self._clock, self._max_senders = rate, burst, clock, max_senders
        # sender -> (tokens, when counted); ordered least recently seen first, for eviction.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Take a token for `key` if one is left; a refused message costs nothing."""
        now = self._clock()
        tokens = self._tokens(key, now)
        allowed = tokens + _EPSILON >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        self._buckets.move_to_end(key)
        # An evicted sender comes back with a full bucket: the oldest are the likeliest to be full anyway.
        while len(self._buckets) > self._max_senders:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may send again (0.0 if it may now); does not count as being seen."""
        missing = 1 - self._tokens(key, self._clock())
        return 0.0 if missing <= _EPSILON else missing / self._rate

    def __len__(self) -> int:
        """How many senders are tracked."""
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        """Tokens `key` has at `now`: what was left plus the refill since, capped at the burst."""
        if key not in self._buckets:
            return float(self._burst)
        tokens, then = self._buckets[key]
        return min(float(self._burst), tokens + max(0.0, now - then) * self._rate)
