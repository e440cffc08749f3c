"""The audit after a load: what was posted, stored and delivered, matched message by message.

Every message posted (`testkit.load.Sent`) must be stored by the gateway, answered, and its answer must
reach its user once: on the webchat the stored answer is what the client got; on WhatsApp the texts the
fake Twilio accepted for a user are exactly the answers' texts, in order. Counted per channel: sent,
received, answered, delivered, lost, duplicated, silent, wrong, apologies, out of order, latency.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.answers.notices import APOLOGY
from bot.gateway.render import for_text_channel
from testkit.fake_twilio import SentMessage
from testkit.load import WEBCHAT, WHATSAPP, Sent
from testkit.stack import Row, Topology


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of the values, or None.

    The rank is the soak's (round(p·n/100 + ½), halves to even), not the benchmark's ceiling of p·n/100
    (`testkit.load.percentile`): at a rank that is an odd whole number they pick neighbouring values, and
    each report keeps the rule its figures were always computed with."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def texts_of(replies: list[dict[str, Any]] | None) -> list[str]:
    """What WhatsApp gets for a stored answer."""
    return list(for_text_channel(replies or []).texts)


def reply_text(replies: list[dict[str, Any]] | None) -> str:
    """All the text of the bot's messages."""
    return "\n".join(str(m.get("text") or "") for m in replies or [])


@dataclass
class ChannelAudit:
    """Counts of one channel (see `audit`)."""

    sent: int = 0  # distinct user messages posted
    received: int = 0  # stored by the gateway
    answered: int = 0  # stored rows marked answered
    delivered: int = 0  # the user got the answer (WhatsApp: every text, in order; webchat: the reply)
    lost: int = 0  # posted but never delivered
    duplicated: int = 0  # WhatsApp texts delivered more often than answered
    silent: int = 0  # answered with nothing to say (the user sees no reply)
    wrong: int = 0  # delivered, but the answer does not name what was asked about
    apologies: int = 0  # WhatsApp "not available" notices
    out_of_order: int = 0  # WhatsApp recipients whose texts arrived in another order
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The counts and latency percentiles (ms)."""
        p50, p99 = percentile(self.latencies, 50), percentile(self.latencies, 99)
        return {
            "sent": self.sent,
            "received": self.received,
            "answered": self.answered,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "silent": self.silent,
            "wrong": self.wrong,
            "apologies": self.apologies,
            "out_of_order": self.out_of_order,
            "p50_ms": None if p50 is None else round(p50 * 1000, 1),
            "p99_ms": None if p99 is None else round(p99 * 1000, 1),
        }


@dataclass
class Audit:
    """Per channel counts, plus what a test needs to explain a failure."""

    channels: dict[str, ChannelAudit]
    pending_inbound: int
    pending_outbound: int
    apologies_by_sender: dict[str, int]
    problems: list[str]

    def summary(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **{name: c.summary() for name, c in self.channels.items()},
            "pending_inbound": self.pending_inbound,
            "pending_outbound": self.pending_outbound,
            "max_apologies_per_sender": max(self.apologies_by_sender.values(), default=0),
            "problems": self.problems[:50],
        }

    @property
    def clean(self) -> bool:
        """Everything received, answered and delivered exactly once."""
        return not self.problems


def audit(topology: Topology, records: list[Sent], everything: bool = False) -> Audit:
    """Match what was posted, stored and delivered, message by message.

    `everything`: read the whole store (a store only this load used: the soak), not only its senders.
    """
    senders = None if everything else {r.sender for r in records}
    rows = topology.rows(senders)
    outbox = topology.outbox(None if everything else {r.address for r in records if r.channel == WHATSAPP})
    by_key = {(r.channel, r.external_id): r for r in rows}
    posted = {(r.channel, r.external_id): r for r in records}
    channels = {WHATSAPP: ChannelAudit(), WEBCHAT: ChannelAudit()}
    problems: list[str] = []
    for sent in records:
        count = channels[sent.channel]
        count.sent += 1
        row = by_key.get((sent.channel, sent.external_id))
        if row is None:
            count.lost += 1
            problems.append(f"{sent.channel} {sent.external_id} never stored (statuses {sent.statuses})")
            continue
        count.received += 1
        count.answered += row.status == "answered"
        if row.status == "answered" and not texts_of(row.replies):
            count.silent += 1
            problems.append(f"{sent.channel} {sent.external_id} answered with nothing: {sent.text!r}")
        if sent.expect and row.status == "answered" and sent.expect not in reply_text(row.replies):
            count.wrong += 1
    for row in rows:
        if (row.channel, row.external_id) not in posted:
            problems.append(f"stored but never posted: {row.channel} {row.external_id}")
    # Webchat: the client got the stored answer (first time or on its retry with the same id).
    for sent in records:
        if sent.channel != WEBCHAT or (sent.channel, sent.external_id) not in by_key:
            continue
        row = by_key[(sent.channel, sent.external_id)]
        if sent.replies and texts_of(sent.replies):
            if _without_recipient(sent.replies) != _without_recipient(row.replies):
                problems.append(f"webchat {sent.external_id}: the client got another answer than stored")
            channels[WEBCHAT].delivered += 1
            if sent.answered_at is not None:
                channels[WEBCHAT].latencies.append(sent.answered_at - sent.started)
        else:
            channels[WEBCHAT].lost += 1
            problems.append(f"webchat {sent.external_id} not delivered (statuses {sent.statuses})")
    # WhatsApp: per recipient, the accepted texts are exactly the answers' texts, in order.
    arrived: dict[str, list[SentMessage]] = defaultdict(list)
    for message in topology.twilio.messages():
        arrived[message.to].append(message)
    apologies: dict[str, int] = {}
    wa = channels[WHATSAPP]
    by_address: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.channel == WHATSAPP and row.reply_to:
            by_address[row.reply_to].append(row)
    for address in {r.address for r in records if r.channel == WHATSAPP}:
        got = [m for m in arrived.get(address, []) if m.body != APOLOGY]
        apologies[address] = len(arrived.get(address, [])) - len(got)
        wa.apologies += apologies[address]
        if apologies[address] > 1:
            problems.append(f"{address} got {apologies[address]} apologies")
        expected = [text for row in by_address[address] for text in texts_of(row.replies)]
        bodies = [m.body for m in got]
        extra = Counter(bodies) - Counter(expected)
        if extra:
            wa.duplicated += sum(extra.values())
            problems.append(f"{address}: delivered more than answered: {list(extra)[:3]}")
        if not extra and bodies != expected and Counter(bodies) == Counter(expected):
            wa.out_of_order += 1
            problems.append(f"{address}: texts out of order")
        position = 0
        for row in by_address[address]:
            texts = texts_of(row.replies)
            found = _find(bodies, texts, position) if texts else None
            asked = posted.get((WHATSAPP, row.external_id))
            if found is None:
                if row.status == "answered" and texts:
                    wa.lost += 1
                    problems.append(f"{address}: answer to {row.external_id} not delivered")
                continue
            wa.delivered += 1
            if asked is not None:
                wa.latencies.append(got[found].at - asked.started)
            position = found + len(texts)
    pending_in = sum(r.status != "answered" for r in rows)
    pending_out = sum(r.status != "sent" for r in outbox)
    if pending_in or pending_out:
        problems.append(f"still pending: {pending_in} inbound, {pending_out} outbound")
    return Audit(channels, pending_in, pending_out, apologies, problems)


def _find(haystack: list[str], needle: list[str], start: int) -> int | None:
    for index in range(start, len(haystack) - len(needle) + 1):
        if haystack[index : index + len(needle)] == needle:
            return index
    return None


def _without_recipient(replies: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "recipient_id"} for m in replies or []]


def backoff_gaps(attempts: Iterable[SentMessage]) -> dict[tuple[str, str], list[float]]:
    """Seconds between successive refused attempts of the same text to the same user."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for attempt in attempts:
        times[(attempt.to, attempt.body)].append(attempt.at)
    return {key: [b - a for a, b in itertools.pairwise(at)] for key, at in times.items()}
