"""Intake: the first step of every message, whatever its channel — validate, limit, redact, store."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.answers import notices
from bot.gateway.channels import Channel, Incoming
from bot.gateway.contacts import Arrival
from bot.gateway.inbox import Inbound, Inbox
from bot.gateway.limits import ClientLimits
from bot.gateway.locks import KeyedLocks
from bot.gateway.metrics import GatewayMetrics
from bot.privacy.consent import consent_change
from bot.privacy.redact import redact
from bot.settings import Settings

# Rate-limited messages of a channel that answers later get the notice at most this often per sender.
NOTICE_INTERVAL_SECONDS = 10.0


def clean(text: str) -> str:
    """Trimmed text without NUL or other control characters (PostgreSQL refuses NUL; none carry meaning)."""
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


@dataclass(frozen=True)
class Refusal:
    """A message refused before it was stored (only on channels that answer in the response)."""

    status: int
    error: str
    message: str


@dataclass(frozen=True)
class Accepted:
    """A stored message; `new` is False for a replay of one stored before (same channel and id)."""

    inbound: Inbound
    new: bool


class Intake:
    """Turns an `Incoming` message into a stored one, refusing (or marking) what must not reach the engine.

    On a channel that answers in the response an empty, oversized or rate-limited message is refused with a
    4xx; on a channel that answers later it is stored anyway and the answer is the notice (its webhook must
    be acknowledged, and a message is never lost). Card numbers are masked before anything is stored."""

    def __init__(
        self, settings: Settings, inbox: Inbox, limits: ClientLimits, metrics: GatewayMetrics
    ) -> None:
        self._settings = settings
        self._inbox = inbox
        self._limits = limits
        self._metrics = metrics
        self._noticed_at: dict[str, float] = {}
        # A sender's messages are stored in arrival order (store calls run in threads and may finish in
        # any order), and handed on while the lock is held.
        self.arrivals = KeyedLocks()

    async def accept(self, channel: Channel, incoming: Incoming) -> Accepted | Refusal:
        """Validate, limit, redact and store one message."""
        text = clean(incoming.text)
        kind = incoming.kind if incoming.kind != "text" or text else "empty"
        consent = None
        if not channel.answers_in_response and kind == "text":
            # On a channel that writes to people, "STOP" / "BAJA" is a request about the channel itself.
            asked = consent_change(text)
            consent = None if asked is None else asked.value
            kind = consent or kind
        limit = self._settings.max_message_chars
        refusal = None
        if kind == "empty":
            refusal = Refusal(400, "empty_message", notices.EMPTY)
        elif len(text) > limit:
            refusal = Refusal(413, "message_too_long", notices.too_long(len(text), limit))
        elif not await self._limits.allow(incoming.sender_id, incoming.client or ""):
            refusal = Refusal(429, "rate_limited", notices.RATE_LIMITED)
            self._metrics.rate_limited.labels(channel.name).inc()
        if refusal is not None and channel.answers_in_response:
            return refusal
        redaction = redact(text)
        meta: dict[str, Any] = {
            **incoming.metadata,
            "card_notice": bool(redaction.cards or redaction.cvv),
            "kind": kind,
        }
        if refusal is not None and kind == "text":
            # Answered with the notice, not by the engine: a flood gets it once in a while, then silence.
            too_long = refusal.status == 413
            meta["notice"] = refusal.message if too_long else self._limited(incoming.sender_id)
        if incoming.media:
            meta["media"] = [dict(item) for item in incoming.media]
        if incoming.profile_name:
            meta["profile_name"] = clean(incoming.profile_name)[:120]
        arrival = None
        if incoming.reply_to is not None:
            arrival = Arrival(
                incoming.channel,
                incoming.reply_to,
                incoming.external_id,
                meta.get("profile_name"),
                consent,
            )
        stored, new = await self._inbox.record(
            incoming.channel,
            incoming.external_id,
            incoming.sender_id,
            incoming.reply_to,
            redaction.text,
            meta,
            incoming.phone,
            arrival,
        )
        if new:
            self._metrics.received.labels(channel.name).inc()
        return Accepted(stored, new)

    def _limited(self, sender_id: str) -> str:
        """The rate-limit notice, or "" when the sender was told within the last seconds."""
        now = time.monotonic()
        if now - self._noticed_at.get(sender_id, -60.0) < NOTICE_INTERVAL_SECONDS:
            return ""
        self._noticed_at[sender_id] = now
        return notices.RATE_LIMITED
