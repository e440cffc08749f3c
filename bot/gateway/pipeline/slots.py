"""The engine slots of one gateway: at most N messages at the engine at once, the oldest admitted first."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class OldestFirst:
    """At most `size` holders at once; when a slot frees up it goes to the waiting message that arrived
    first (the lowest message id), not to the one that asked first. After an outage the messages kept
    meanwhile are answered before those that arrive while they drain, so the backlog clears at the pace
    the engine takes instead of sharing it with new traffic (which waits its turn, in order, stored)."""

    def __init__(self, size: int) -> None:
        self._free = size
        # (message id, arrival at the slots, who waits): a heap, the oldest message first.
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Messages waiting for a slot."""
        return sum(not future.done() for _, _, future in self._waiting)

    @asynccontextmanager
    async def hold(self, message_id: int) -> AsyncIterator[None]:
        """A slot for this message while the block runs."""
        await self._acquire(message_id)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, message_id: int) -> None:
        # A free slot means nobody waits: `_release` frees one only when no live waiter is left.
        if self._free > 0:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (message_id, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed a slot just as it was cancelled: pass it on
            raise

    def _release(self) -> None:
        """Hand the slot to the oldest live waiter, or free it."""
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():  # a cancelled waiter is skipped
                future.set_result(None)
                return
        self._free += 1
