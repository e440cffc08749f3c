"""Scheduling: when each stored message is answered — a sender's messages one at a time and in arrival
order, each under a lease so that only one gateway replica answers it, and again later while the engine is
unavailable (a backlog drains at the engine's pace, senders side by side)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable
from typing import Any

from bot.answers import notices
from bot.gateway.channels import Channels
from bot.gateway.inbox import Inbound, Inbox, Taken
from bot.gateway.locks import KeyedLocks
from bot.gateway.pipeline.answering import Answerer
from bot.gateway.pipeline.delivery import Delivery
from bot.settings import Settings

log = logging.getLogger("bot.gateway")

Replies = list[dict[str, Any]]

# While a backlog waits for the engine, how often the retry loop asks whether it is back (a cheap health
# check): the backlog starts draining within this long of its return rather than a retry interval later.
PROBE_SECONDS = 0.25


class Scheduler:
    """Answers stored messages in order, once across replicas, and retries them while the engine is down."""

    def __init__(
        self, settings: Settings, inbox: Inbox, answerer: Answerer, delivery: Delivery, channels: Channels
    ) -> None:
        self._settings = settings
        self._inbox = inbox
        self._answerer = answerer
        self._delivery = delivery
        self._channels = channels
        self.locks = KeyedLocks()
        self.in_flight: set[int] = set()
        self.background: set[asyncio.Task[None]] = set()
        # This replica's name on message leases, and how long a lease lasts (the engine's timeout and some).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease_seconds = settings.engine_timeout_seconds + 20.0
        # Messages this replica holds the lease of while it answers them (renewed: see `_keep_leases`).
        self.holding: set[int] = set()
        # Set while messages are kept for the engine's (or the action server's) return.
        self._stalled = asyncio.Event()
        # The pause before the next health check while they are: the probe's own, doubling while rounds
        # fail with the engine answering (a message it keeps failing on is not retried in a busy loop).
        self._pause = PROBE_SECONDS

    async def answer(self, inbound: Inbound) -> Replies | None:
        """Answer a message (after the sender's earlier ones) and deliver; None while the engine is down."""
        replies = await self._answer_in_order(inbound)
        if replies is None:
            self.stalled = True  # kept for later: the retry loop watches for the engine's return
        return replies

    async def _answer_in_order(self, inbound: Inbound) -> Replies | None:
        if inbound.id in self.in_flight:
            return await self._answered_here(inbound)
        self.in_flight.add(inbound.id)
        try:
            async with self.locks.hold(inbound.sender_id):
                # A sender's earlier unanswered messages go first, so answers keep the arrival order. Most
                # often there are none, and the same trip to the store claims this message.
                taken = await self._take(inbound, earlier=True)
                if taken.earlier:
                    for earlier in taken.earlier:
                        if await self._answer_leased(earlier) is None:
                            return None
                    taken = await self._take(inbound, earlier=False)
                return await self._answer_leased(inbound, taken)
        finally:
            self.in_flight.discard(inbound.id)

    @property
    def stalled(self) -> bool:
        """Messages are kept because the engine (or the action server) could not answer them."""
        return self._stalled.is_set()

    @stalled.setter
    def stalled(self, value: bool) -> None:
        if value:
            self._stalled.set()
        else:
            self._stalled.clear()

    def answer_later(self, inbound: Inbound) -> None:
        """Answer in the background (channels that deliver later acknowledge their webhook at once)."""
        self.spawn(self.answer(inbound))

    async def _answered_here(self, inbound: Inbound) -> Replies | None:
        """Another task of this gateway is answering the message (a retry round took it just as its own
        request came): wait for that answer rather than report the engine unavailable."""
        deadline = time.monotonic() + self.lease_seconds
        while inbound.id in self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        current = await self._inbox.get(inbound.id)
        if current is not None and current.status == "answered":
            return current.replies or []
        return None

    async def _take(self, inbound: Inbound, earlier: bool) -> Taken:
        return await self._inbox.take(inbound, self.owner, self.lease_seconds, earlier=earlier)

    async def _answer_leased(self, inbound: Inbound, taken: Taken | None = None) -> Replies | None:
        """Answer under a lease, so that another gateway replica never answers the same message too."""
        if taken is None:
            taken = await self._take(inbound, earlier=False)
        if not taken.claimed:
            return await self._answered_elsewhere(inbound)
        replies = None
        self.holding.add(inbound.id)
        try:
            replies = await self._answer_claimed(inbound, taken)
            return replies
        finally:
            self.holding.discard(inbound.id)
            if replies is None:  # answering ended the lease already
                await self._inbox.release(inbound.id, self.owner)

    async def _answered_elsewhere(self, inbound: Inbound) -> Replies | None:
        """Another replica holds the message: wait (bounded) for its answer."""
        deadline = time.monotonic() + self.lease_seconds
        while time.monotonic() < deadline:
            current = await self._inbox.get(inbound.id)
            if current is None or current.status == "answered":
                return [] if current is None else current.replies or []
            if not current.leased:
                return None  # the other replica gave up (engine down): it stays pending for a retry
            await asyncio.sleep(0.05)
        return None

    async def _answer_claimed(self, inbound: Inbound, taken: Taken) -> Replies | None:
        """The message is ours (claimed, so still pending): answer it and deliver the answer."""
        answer = await self._answerer.answer(inbound, taken.handed_off, taken.surveyed)
        if answer is None:
            channel = self._channels.get(inbound.channel)
            delivers_later = channel is not None and not channel.answers_in_response
            if delivers_later and await self._inbox.attempted(inbound.id) == 1:
                # Told once that the assistant is down; the message is answered when it is back.
                await self._delivery.notify(inbound.channel, inbound.reply_to, notices.APOLOGY)
            return None
        replies = answer.replies
        if not await self._delivery.answered(inbound, answer, self.owner):
            # Our lease ran out while the engine answered, and another replica answered it: theirs stands.
            log.warning(
                "message %s was answered by another replica meanwhile: this answer is dropped", inbound.id
            )
            current = await self._inbox.get(inbound.id)
            return None if current is None or current.status != "answered" else current.replies or []
        return replies

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run work in the background, keeping a reference until it finishes."""

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("background work failed")

        task = asyncio.ensure_future(run())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def retry_pending(self, batch_size: int = 500) -> int:
        """Answer the messages stored while the engine was down; return how many were answered.

        The oldest goes first, alone: while the engine is still down one attempt is all a round costs.
        Then every sender with messages waiting is retried side by side (each sender's own messages in
        arrival order under its lock, the engine slots bounding the load), batch after batch, so a
        backlog drains at the engine's pace rather than one message at a time."""
        answered = 0
        tried: set[int] = set()
        while True:
            # A message under a live lease is being answered (here, or by another replica, whose answer
            # would only be waited for, polling the store): the round leaves it be.
            batch = [
                m
                for m in await self._inbox.pending(batch_size)
                if m.id not in self.in_flight and not m.leased
            ]
            self.stalled = False
            if not batch or batch[0].id in tried:
                return answered
            tried.update(m.id for m in batch)
            if await self.answer(batch[0]) is None:
                self.stalled = True
                return answered
            answered += 1
            waiting: dict[str, list[Inbound]] = {}
            for inbound in batch[1:]:
                waiting.setdefault(inbound.sender_id, []).append(inbound)
            # A sender's newest message answers their earlier pending ones first (see `answer`).
            results = await asyncio.gather(*(self.answer(queue[-1]) for queue in waiting.values()))
            answered += sum(
                len(queue)
                for queue, result in zip(waiting.values(), results, strict=True)
                if result is not None
            )
            self.stalled = any(result is None for result in results)
            if self.stalled or len(batch) < batch_size:
                return answered

    async def retry_forever(self) -> None:
        """The background loop behind 'the message is not lost' (and the leases' renewal beside it)."""
        keeper = asyncio.ensure_future(self._keep_leases())
        try:
            while True:
                await self._next_round()
                try:
                    await self.retry_pending()
                except Exception:
                    log.exception("retrying pending messages failed")
                if not self.stalled:
                    # Nothing kept: the next outage is probed at the quick pace again. (A round that kept
                    # messages with the engine answering keeps the doubled pause of `_next_round`.)
                    self._pause = PROBE_SECONDS
        finally:
            keeper.cancel()

    async def _keep_leases(self) -> None:
        """Renew the leases of the messages this replica is answering, a third of a lease apart. Under
        overload a message may wait for an engine slot longer than a lease: another replica's retry round
        would then answer it too (one answer is dropped, but the engine did the work twice, and the
        backlog grew). A replica that dies stops renewing, and its messages are free a lease later."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if self.holding:
                try:
                    await self._inbox.renew(list(self.holding), self.owner, self.lease_seconds)
                except Exception:
                    log.exception("renewing message leases failed")

    async def _next_round(self) -> None:
        """Wait the retry interval; while messages are kept for the engine, check its health every
        PROBE_SECONDS and end the wait as soon as it answers (after a round that failed with the engine
        answering, the next check waits twice as long, up to the interval)."""
        loop = asyncio.get_running_loop()
        interval = self._settings.retry_interval_seconds
        deadline = loop.time() + interval
        while (left := deadline - loop.time()) > 0:
            if not self.stalled:
                with contextlib.suppress(TimeoutError):  # until the interval ends or a message is kept
                    await asyncio.wait_for(self._stalled.wait(), left)
                continue
            await asyncio.sleep(min(self._pause, left))
            if await self._answerer.available():
                self._pause = min(self._pause * 2, interval)
                return
            self._pause = PROBE_SECONDS  # down: the round starts as soon as it is back

    async def drain(self) -> None:
        """Wait for background answers to finish."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)
