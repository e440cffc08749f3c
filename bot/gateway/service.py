"""The conversation pipeline shared by both channels: redact, limit, store, ask the engine in order, reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.answers import notices
from bot.answers.billing import card_data_warning
from bot.answers.question import Question
from bot.gateway.engine import EngineClient, EngineUnavailable
from bot.gateway.handoffs import Handoffs, handoff_request
from bot.gateway.inbox import Inbound, Inbox, Outgoing, Taken
from bot.gateway.outbound import Send
from bot.gateway.outbox import Queued
from bot.gateway.ratelimit import RateLimiter
from bot.gateway.render import chosen_option, for_text_channel
from bot.privacy.redact import redact
from bot.settings import Settings
from bot.store.catalogue_cache import CatalogueCache

log = logging.getLogger("bot.gateway")

WEBCHAT, WHATSAPP = "webchat", "whatsapp"


def clean(text: str) -> str:
    """Trimmed text without NUL or other control characters (PostgreSQL refuses NUL; none carry meaning)."""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


class KeyedLocks:
    """One asyncio lock per key (FIFO, so a sender's messages are answered in arrival order)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the key's lock; the lock is forgotten when nobody holds or waits for it."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(frozen=True)
class WebResult:
    """The outcome of a webchat message: the bot's messages, or an error the client shows."""

    status: int
    messages: list[dict[str, Any]] | None = None
    error: str | None = None
    message: str | None = None
    queued: bool = False


class Conversations:
    """Everything between a channel's request and the engine."""

    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        engine: EngineClient,
        catalogue: CatalogueCache,
        send: Send | None,
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.engine = engine
        self.catalogue = catalogue
        self.send = send
        self.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        self.locks = KeyedLocks()
        self.in_flight: set[int] = set()
        self.background: set[asyncio.Task[None]] = set()
        self._limited_at: dict[str, float] = {}
        self.engine_slots = asyncio.Semaphore(settings.engine_concurrency)
        # Set by the application when hand-off routing is on.
        self.handoffs: Handoffs | None = None
        # This replica's name on message leases, and how long a lease lasts (the engine's timeout and some).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease_seconds = settings.engine_timeout_seconds + 20.0
        # Set by the application when outbound texts go through the outbox: delivers what is due now, to
        # everyone, or a recipient's texts just read from the store.
        self.flush: Callable[[], Awaitable[int]] | None = None
        self.deliver_to: Callable[[str, list[Queued]], Awaitable[int]] | None = None

    def card_notice(self) -> str:
        """Tell the user not to send card data, and how to add a card safely (from the catalogue facts)."""
        catalogue = self.catalogue.get().catalogue
        return card_data_warning(catalogue, Question("share_card_data")).messages[0].text

    # --- webchat ----------------------------------------------------------------------------------------
    async def webchat(
        self, sender_id: str, external_id: str | None, raw_text: str, metadata: dict[str, Any]
    ) -> WebResult:
        """Answer a webchat message now; a retried request (same id) gets the stored answer."""
        text = clean(raw_text)
        if not text:
            return WebResult(400, error="empty_message", message=notices.EMPTY)
        if len(text) > self.settings.max_message_chars:
            limit = self.settings.max_message_chars
            return WebResult(413, error="message_too_long", message=notices.too_long(len(text), limit))
        if not self.limiter.allow(sender_id):
            return WebResult(429, error="rate_limited", message=notices.RATE_LIMITED)
        redaction = redact(text)
        meta = {**metadata, "card_notice": bool(redaction.cards or redaction.cvv)}
        inbound, new = await self.inbox.record(
            WEBCHAT, external_id or uuid.uuid4().hex, sender_id, None, redaction.text, meta
        )
        if not new and inbound.sender_id != sender_id:
            return WebResult(409, error="duplicate_id", message=notices.DUPLICATE_ID)
        if inbound.status == "answered":
            return WebResult(200, messages=inbound.replies or [])
        replies = await self.answer(inbound)
        if replies is None:
            return WebResult(
                503,
                error="engine_unavailable",
                message=notices.ENGINE_QUEUED,
                queued=True,
            )
        return WebResult(200, messages=replies)

    # --- WhatsApp ---------------------------------------------------------------------------------------
    async def whatsapp(self, message_sid: str, reply_to: str, body: str, media: int, location: bool) -> bool:
        """Store an incoming WhatsApp message and answer it in the background; False for a replay."""
        sender_id = f"wa:{reply_to.removeprefix('whatsapp:')}"
        text = clean(body)
        redaction = redact(text)
        kind = "text" if text else ("location" if location else ("media" if media else "empty"))
        meta: dict[str, Any] = {"card_notice": bool(redaction.cards or redaction.cvv), "kind": kind}
        # The sender is identified by their verified number, in the same trip that stores the message.
        inbound, new = await self.inbox.record(
            WHATSAPP,
            message_sid,
            sender_id,
            reply_to,
            redaction.text,
            meta,
            reply_to.removeprefix("whatsapp:"),
        )
        if not new:
            log.info("whatsapp replay ignored: %s", message_sid)
            return False
        self.spawn(self.answer(inbound))
        return True

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

    # --- both -------------------------------------------------------------------------------------------
    async def answer(self, inbound: Inbound) -> list[dict[str, Any]] | None:
        """Ask the engine (one message at a time per sender) and deliver; None while the engine is down."""
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

    async def _answered_here(self, inbound: Inbound) -> list[dict[str, Any]] | None:
        """Another task of this gateway is answering the message (a retry round took it just as its own
        request came): wait for that answer rather than report the engine unavailable."""
        deadline = time.monotonic() + self.lease_seconds
        while inbound.id in self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        current = await self.inbox.get(inbound.id)
        if current is not None and current.status == "answered":
            return current.replies or []
        return None

    async def _take(self, inbound: Inbound, earlier: bool) -> Taken:
        return await self.inbox.take(
            inbound, self.owner, self.lease_seconds, earlier=earlier, options=inbound.channel == WHATSAPP
        )

    async def _answer_leased(
        self, inbound: Inbound, taken: Taken | None = None
    ) -> list[dict[str, Any]] | None:
        """Answer under a lease, so that another gateway replica never answers the same message too."""
        if taken is None:
            taken = await self._take(inbound, earlier=False)
        if not taken.claimed:
            return await self._answered_elsewhere(inbound)
        replies = None
        try:
            replies = await self._answer_claimed(inbound, taken)
            return replies
        finally:
            if replies is None:  # answering ended the lease already
                await self.inbox.release(inbound.id, self.owner)

    async def _answered_elsewhere(self, inbound: Inbound) -> list[dict[str, Any]] | None:
        """Another replica holds the message: wait (bounded) for its answer."""
        deadline = time.monotonic() + self.lease_seconds
        while time.monotonic() < deadline:
            current = await self.inbox.get(inbound.id)
            if current is None or current.status == "answered":
                return [] if current is None else current.replies or []
            if not current.leased:
                return None  # the other replica gave up (engine down): it stays pending for a retry
            await asyncio.sleep(0.05)
        return None

    async def _answer_claimed(self, inbound: Inbound, taken: Taken) -> list[dict[str, Any]] | None:
        """The message is ours (claimed, so still pending): answer it."""
        current = taken.current
        if self.handoffs is not None and taken.handed_off and await self.handoffs.intercept(inbound):
            # A person handles this conversation: the assistant stays silent.
            await self.inbox.answered(inbound.id, [])
            return []
        # Replies kept on a pending message (by a gateway of an earlier version): the engine answered and
        # only the delivery failed.
        replies = None if current is None else current.replies
        if replies is None:
            replies = await self._replies(inbound, taken.options or [])
            if replies is None:
                if await self.inbox.attempted(inbound.id) == 1 and inbound.channel == WHATSAPP:
                    await self._apologise(inbound)
                return None
            if self.handoffs is not None:
                replies, reason = handoff_request(replies)
                if reason is not None:
                    replies = [*replies, *await self.handoffs.start(inbound, reason, replies)]
        if inbound.channel != WHATSAPP or inbound.reply_to is None or self.deliver_to is None:
            await self.inbox.answered(inbound.id, replies)  # the webchat: the request returns the replies
            return replies
        # Answered and its texts queued in one transaction: neither asked again nor sent twice, whatever
        # fails next; then the outbox delivers them (now, or on its retries).
        rendered = for_text_channel(replies)
        outgoing = Outgoing(inbound.reply_to, list(rendered.texts), inbound.sender_id, list(rendered.options))
        queued = await self.inbox.answered(inbound.id, replies, outgoing)
        await self.deliver_to(inbound.reply_to, queued)
        return replies

    async def _replies(self, inbound: Inbound, options: list[dict[str, str]]) -> list[dict[str, Any]] | None:
        """The bot's messages for a stored message, or None when the engine is unavailable."""
        kind = inbound.meta.get("kind", "text")
        if kind != "text":
            return [
                {"text": {"location": notices.LOCATION, "media": notices.MEDIA_ONLY}.get(kind, notices.EMPTY)}
            ]
        if len(inbound.text) > self.settings.max_message_chars:
            limit = self.settings.max_message_chars
            return [{"text": notices.too_long(len(inbound.text), limit)}]
        if inbound.channel == WHATSAPP and not self.limiter.allow(inbound.sender_id):
            return self._rate_limited(inbound.sender_id)
        text = inbound.text
        if inbound.channel == WHATSAPP:
            text = chosen_option(text, options) or text
        metadata = {k: v for k, v in inbound.meta.items() if k == "identity"}
        try:
            # Bounded: under overload messages wait here (stored, in order) instead of piling onto the
            # engine, where they would time out and be worked on after the gateway gave up on them.
            async with self.engine_slots:
                replies = await self.engine.send(inbound.sender_id, text, metadata)
            if not replies and not await self.engine.actions_available():
                # Rasa answers nothing when it cannot reach the action server: keep the message for later.
                raise EngineUnavailable("the action server is not answering")
        except EngineUnavailable as error:
            log.warning("engine unavailable for message %s: %s", inbound.id, error)
            return None
        if inbound.meta.get("card_notice"):
            notice = self.card_notice()
            replies = [{"text": notice}, *(r for r in replies if r.get("text") != notice)]
        return replies

    def _rate_limited(self, sender_id: str) -> list[dict[str, Any]]:
        """Tell a flooding sender to slow down, at most once every ten seconds."""
        now = time.monotonic()
        if now - self._limited_at.get(sender_id, -60.0) < 10:
            return []
        self._limited_at[sender_id] = now
        return [{"text": notices.RATE_LIMITED}]

    async def _apologise(self, inbound: Inbound) -> None:
        """WhatsApp: tell the user the assistant is down and their message is kept."""
        if inbound.reply_to is not None and self.send is not None:
            await self.send(inbound.reply_to, notices.APOLOGY)

    async def retry_pending(self, batch_size: int = 500) -> int:
        """Answer the messages stored while the engine was down; return how many were answered.

        The oldest goes first, alone: while the engine is still down one attempt is all a round costs.
        Then every sender with messages waiting is retried side by side (each sender's own messages in
        arrival order under its lock, the engine slots bounding the load), batch after batch, so a
        backlog drains at the engine's pace rather than one message at a time."""
        answered = 0
        tried: set[int] = set()
        while True:
            batch = [m for m in await self.inbox.pending(batch_size) if m.id not in self.in_flight]
            if not batch or batch[0].id in tried:
                return answered
            tried.update(m.id for m in batch)
            if await self.answer(batch[0]) is None:
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
            if any(result is None for result in results) or len(batch) < batch_size:
                return answered

    async def retry_forever(self) -> None:
        """The background loop behind 'the message is not lost'."""
        while True:
            await asyncio.sleep(self.settings.retry_interval_seconds)
            try:
                await self.retry_pending()
            except Exception:
                log.exception("retrying pending messages failed")

    async def drain(self) -> None:
        """Wait for background answers to finish and deliver what the outbox holds (shutdown and tests)."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)
        if self.flush is not None:
            await self.flush()
