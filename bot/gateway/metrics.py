"""Operator metrics, in Prometheus's terms: what this gateway process counts as messages flow, and the
store-wide figures read at scrape time. Labels are few and bounded (the channel, never a sender).

Counters and histograms are per process: with several replicas, sum them. The store's figures are the
same on every replica (read from the shared store when scraped): take their max, never their sum."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.db import utc
from bot.store.models import Handoff, InboundMessage, OutboundMessage

PREFIX = "asistente"
# Reply latency, seconds: the engine answers in tens of milliseconds to a few seconds; its timeout is
# 10 s by default, and messages kept while it was down are answered minutes later.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0, 60.0, 300.0, 1800.0)


class GatewayMetrics:
    """The counters and histograms one gateway process keeps, in a registry of its own (several gateways
    may run in one process: the tests, `bench`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            f"{PREFIX}_messages_received",
            "Messages taken in and stored, by channel (a webhook replayed is counted once; messages the "
            "webchat refuses with a 4xx are not stored, not counted).",
            ["channel"],
            registry=self.registry,
        )
        self.sent = Counter(
            f"{PREFIX}_messages_sent",
            "Messages handed to the channel: the webchat's answer messages returned in its HTTP response, "
            "WhatsApp texts Twilio accepted (answers, notices, agents' messages).",
            ["channel"],
            registry=self.registry,
        )
        self.reply_latency = Histogram(
            f"{PREFIX}_reply_latency_seconds",
            "From a message's receipt (stored) to its answer handed to the channel: recorded and returned "
            "on the webchat; recorded, queued and sent once to Twilio on WhatsApp. Messages kept while the "
            "engine was down count their wait. Silence (a person has the conversation) is not observed.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.engine_errors = Counter(
            f"{PREFIX}_engine_errors",
            "Calls to the engine that failed: no answer in time, a connection error, an error status.",
            registry=self.registry,
        )
        self.action_server_errors = Counter(
            f"{PREFIX}_action_server_errors",
            "Messages the engine answered with nothing while the action server failed its health check "
            "(the message is kept and retried).",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            f"{PREFIX}_rate_limit_refusals",
            "Messages over the rate limit of their conversation or client, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            f"{PREFIX}_metrics_store_errors",
            "Scrapes that could not read the store's figures (they are left out of that scrape).",
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)

    def answered(self, channel: str, received_at: datetime | None, sent: int) -> None:
        """An answer was handed to the channel: its latency, and its messages when they went out with it."""
        if received_at is not None:
            aware = utc(received_at)
            waited = (datetime.now(UTC) - aware).total_seconds()
            self.reply_latency.labels(channel).observe(max(0.0, waited))
        if sent:
            self.sent.labels(channel).inc(sent)

    def watch(self, figures: StoreFigures) -> None:
        """Report the store's figures with every scrape."""
        self.registry.register(figures)


@dataclass(frozen=True)
class Snapshot:
    """The store's figures at one moment (see `read_store`)."""

    outbox: dict[str, int]
    oldest_pending_seconds: float
    handoffs: dict[str, int]
    inbox_pending: int


def read_store(session: Session) -> Snapshot:
    """Four cheap queries, each answered from an index on its table's status: outbox texts by status,
    the oldest pending one's age, hand-offs waiting or assigned, messages waiting for the engine."""
    outbox = {
        status: int(count)
        for status, count in session.execute(
            select(OutboundMessage.status, func.count())
            .where(OutboundMessage.status.in_(("pending", "held", "failed")))
            .group_by(OutboundMessage.status)
        )
    }
    oldest = session.scalar(
        select(func.min(OutboundMessage.created_at)).where(OutboundMessage.status == "pending")
    )
    handoffs = {
        status: int(count)
        for status, count in session.execute(
            select(Handoff.status, func.count())
            .where(Handoff.status.in_(("queued", "assigned")))
            .group_by(Handoff.status)
        )
    }
    inbox_pending = session.scalar(
        select(func.count()).select_from(InboundMessage).where(InboundMessage.status == "pending")
    )
    age = 0.0
    if oldest is not None:
        aware = utc(oldest)
        age = max(0.0, (datetime.now(UTC) - aware).total_seconds())
    return Snapshot(outbox, age, handoffs, int(inbox_pending or 0))


class StoreFigures(Collector):
    """Gauges of the shared store, from the snapshot the scrape took just before (`refresh`): a scrape
    that could not read the store leaves them out rather than report stale values."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def update(self, snapshot: Snapshot | None) -> None:
        """The figures to report (None: the store could not be read)."""
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        """The gauges (Prometheus's client calls this on every scrape)."""
        snapshot = self.snapshot
        if snapshot is None:
            return []
        return list(_gauges(snapshot))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _gauges(snapshot: Snapshot) -> Iterator[GaugeMetricFamily]:
    yield _gauge(
        "outbox_pending",
        "Texts in the outbox waiting to be sent or retried (store-wide: the same on every replica).",
        snapshot.outbox.get("pending", 0),
    )
    yield _gauge(
        "outbox_held",
        "WhatsApp texts held until the customer's 24-hour window reopens (store-wide).",
        snapshot.outbox.get("held", 0),
    )
    yield _gauge(
        "outbox_failed",
        "Texts given up as failed, ever (refused, out of retries, reported failed; store-wide): "
        "alert on its increase.",
        snapshot.outbox.get("failed", 0),
    )
    yield _gauge(
        "outbox_oldest_pending_seconds",
        "Age of the oldest text waiting in the outbox, 0 when none waits (store-wide).",
        snapshot.oldest_pending_seconds,
    )
    yield _gauge(
        "handoff_queue_length",
        "Hand-offs waiting for an agent to take them (store-wide).",
        snapshot.handoffs.get("queued", 0),
    )
    yield _gauge(
        "handoffs_assigned",
        "Hand-offs an agent has taken and not resolved yet (store-wide).",
        snapshot.handoffs.get("assigned", 0),
    )
    yield _gauge(
        "inbox_pending",
        "Messages stored and not answered yet: a backlog grows while the engine is down (store-wide).",
        snapshot.inbox_pending,
    )
