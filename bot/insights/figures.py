"""Every figure of the insights page, each defined once, here, and computed in the store.

What a **conversation** is: the user messages of one sender (`inbound_messages.sender_id`, which already
names the channel: `web:u:<user>`, `web:a:<anonymous id>`, `wa:+<number>`) on one channel during one
UTC calendar day. A conversation belongs to the day of its messages, so a period counts the conversations
of its days. A **user turn** is one stored inbound message. Hand-offs belong to the period in which they
were opened (`handoffs.created_at`). Every figure follows the period's channel filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, literal, select, true
from sqlalchemy.sql import Subquery

from bot.handoff.triggers import REASONS
from bot.insights.period import Period
from bot.insights.sql import has_key, is_json_array, json_array_elements, seconds_between, utc_day
from bot.store.tables import HANDOFFS, INBOUND, USERS

# Why conversations were handed off, in the three groups the team reads them by: every reason of REASONS
# other than these two is a topic that needs a person (a new one included).
OWN_GROUPS = ("requested", "not_understood")
REASON_GROUPS = {reason: reason if reason in OWN_GROUPS else "topic" for reason in REASONS}
GROUP_NAMES = {
    "requested": "Pidió hablar con una persona",
    "not_understood": "No se entendió dos veces",
    "topic": "El tema necesita a una persona",
}
TOP = 10
# The intent a turn gets when the NLU understood nothing (counted by `not_understood`, not as a topic).
FALLBACK_INTENT = "nlu_fallback"
# The webchat names a signed-in user's conversation `web:u:<user id>` (only for a verified token).
SIGNED_IN_WEBCHAT = "web:u:"
WHATSAPP = "whatsapp"


# --- what each figure holds ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Volume:
    """How many conversations and user messages, and who wrote them."""

    conversations: int
    user_messages: int
    signed_in: int
    anonymous: int


@dataclass(frozen=True)
class DayShare:
    """One day of a share: `part` of `total` (share None when there is nothing to divide)."""

    day: str
    total: int
    part: int

    @property
    def share(self) -> float | None:
        return None if self.total == 0 else self.part / self.total


@dataclass(frozen=True)
class Shares:
    """A share over the whole period and per day."""

    total: int
    part: int
    days: list[DayShare]

    @property
    def share(self) -> float | None:
        return None if self.total == 0 else self.part / self.total


@dataclass(frozen=True)
class Durations:
    """How many durations were measured, and their median and 90th percentile in seconds (nearest rank)."""

    count: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Ratings:
    """Satisfaction ratings: how many, their average and how many of each score 1-5."""

    count: int
    average: float | None
    distribution: dict[int, int]


@dataclass(frozen=True)
class AgentRatings:
    """One agent's ratings."""

    agent_id: int | None
    name: str
    ratings: Ratings


@dataclass(frozen=True)
class Satisfaction:
    """Ratings overall and per agent (most rated first)."""

    overall: Ratings
    agents: list[AgentRatings] = field(default_factory=list)


@dataclass(frozen=True)
class Handoffs:
    """Hand-offs opened in the period, by reason group, by detailed reason and by channel."""

    total: int
    groups: dict[str, int]
    reasons: dict[str, int]
    channels: dict[str, int]


# --- shared filters --------------------------------------------------------------------------------------
def _inbound_in(period: Period) -> ColumnElement[bool]:
    condition = and_(INBOUND.c.received_at >= period.start, INBOUND.c.received_at < period.end)
    if period.channel is not None:
        condition = and_(condition, INBOUND.c.channel == period.channel)
    return condition


def _handoffs_in(period: Period) -> ColumnElement[bool]:
    condition = and_(HANDOFFS.c.created_at >= period.start, HANDOFFS.c.created_at < period.end)
    if period.channel is not None:
        condition = and_(condition, HANDOFFS.c.channel == period.channel)
    return condition


def _conversations(period: Period) -> Subquery:
    """One row per conversation: its sender, channel, day and whether it is a signed-in webchat user's
    (only the index's columns: the period's messages are read from the index alone)."""
    day = utc_day(INBOUND.c.received_at)
    signed = case((INBOUND.c.sender_id.startswith(SIGNED_IN_WEBCHAT), 1), else_=0)
    return (
        select(
            INBOUND.c.sender_id.label("sender_id"),
            INBOUND.c.channel.label("channel"),
            day.label("day"),
            func.max(signed).label("signed_in"),
        )
        .where(_inbound_in(period))
        .group_by(INBOUND.c.sender_id, INBOUND.c.channel, day)
        .subquery("conversations")
    )


def _signed_in_by_number(connection: Connection, period: Period) -> dict[str, int]:
    """Per day, the WhatsApp conversations in which a message carried the identity of the user whose
    verified number wrote (`meta.identity`: the one figure that reads the messages themselves)."""
    if period.channel not in (None, WHATSAPP):
        return {}
    day = utc_day(INBOUND.c.received_at)
    signed = (
        select(INBOUND.c.sender_id, day.label("day"))
        .where(
            _inbound_in(period), INBOUND.c.channel == WHATSAPP, has_key(INBOUND.c.meta, literal("identity"))
        )
        .distinct()
        .subquery("signed")
    )
    rows = connection.execute(select(signed.c.day, func.count()).group_by(signed.c.day))
    return {str(d): int(n) for d, n in rows}


def _day_shares(period: Period, rows: Sequence[Any]) -> Shares:
    """Per-day (day, total, part) rows spread over every day of the period (days without any are zero)."""
    found = {str(row[0]): (int(row[1] or 0), int(row[2] or 0)) for row in rows}
    days = [DayShare(day, *found.get(day, (0, 0))) for day in period.days()]
    return Shares(sum(d.total for d in days), sum(d.part for d in days), days)


# --- the figures -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConversationDay:
    """One day's conversations: how many, how many signed in, how many without a hand-off."""

    day: str
    conversations: int
    signed_in: int
    contained: int


def conversation_days(connection: Connection, period: Period) -> list[ConversationDay]:
    """The conversations of each day of the period that had any (one pass over the period's messages,
    shared by `volume` and `containment`)."""
    conversations = _conversations(period)
    handed = (
        select(HANDOFFS.c.sender_id, utc_day(HANDOFFS.c.created_at).label("day"))
        .where(_handoffs_in(period))
        .distinct()
        .subquery("handed")
    )
    contained = case((handed.c.sender_id.is_(None), 1), else_=0)
    rows = connection.execute(
        select(conversations.c.day, func.count(), func.sum(conversations.c.signed_in), func.sum(contained))
        .select_from(
            conversations.outerjoin(
                handed,
                and_(handed.c.sender_id == conversations.c.sender_id, handed.c.day == conversations.c.day),
            )
        )
        .group_by(conversations.c.day)
    ).all()
    by_number = _signed_in_by_number(connection, period)
    return [
        ConversationDay(str(day), int(n), int(signed or 0) + by_number.get(str(day), 0), int(kept or 0))
        for day, n, signed, kept in rows
    ]


def volume(connection: Connection, period: Period, days: Sequence[ConversationDay] | None = None) -> Volume:
    """Conversations in the period; user messages (every stored inbound message); conversations signed in
    (on the webchat: a signed-in user's, `web:u:…`, which the gateway names only for a verified token; on
    WhatsApp: a message carried the identity of the user whose verified number wrote) and anonymous (the
    others). `days`: the period's `conversation_days`, when already read."""
    days = conversation_days(connection, period) if days is None else days
    count = sum(d.conversations for d in days)
    signed = sum(d.signed_in for d in days)
    messages = connection.scalar(select(func.count()).select_from(INBOUND).where(_inbound_in(period)))
    return Volume(count, int(messages or 0), signed, count - signed)


def containment(
    connection: Connection, period: Period, days: Sequence[ConversationDay] | None = None
) -> Shares:
    """Containment: the share of conversations the assistant finished on its own — those with no hand-off
    opened for their sender on their day — overall and per day (`part` = contained, `total` =
    conversations). `days`: the period's `conversation_days`, when already read."""
    days = conversation_days(connection, period) if days is None else days
    return _day_shares(period, [(d.day, d.conversations, d.contained) for d in days])


def not_understood(connection: Connection, period: Period) -> Shares:
    """Not understood: the share of user turns that fell to the fallback or led to the "not understood"
    hand-off (`inbound_messages.understood` is false), among the turns whose outcome is known (true or false;
    turns a person answered, or still unanswered, are left out), overall and per day (`part` = not
    understood, `total` = turns with a known outcome)."""
    day = utc_day(INBOUND.c.received_at)
    missed = case((INBOUND.c.understood.is_(False), 1), else_=0)
    rows = connection.execute(
        select(day, func.count(), func.sum(missed))
        .where(_inbound_in(period), INBOUND.c.understood.is_not(None))
        .group_by(day)
    ).all()
    return _day_shares(period, rows)


def handoffs(connection: Connection, period: Period) -> Handoffs:
    """Hand-offs opened in the period, by reason (`handoffs.reason`), grouped as the team reads them: asked
    for a person (`requested`), not understood twice (`not_understood`), the topic needs a person (billing
    disputes, refunds, cancellations, double charges); and by channel."""
    reasons = {
        str(reason): int(count)
        for reason, count in connection.execute(
            select(HANDOFFS.c.reason, func.count()).where(_handoffs_in(period)).group_by(HANDOFFS.c.reason)
        )
    }
    channels = {
        str(channel): int(count)
        for channel, count in connection.execute(
            select(HANDOFFS.c.channel, func.count()).where(_handoffs_in(period)).group_by(HANDOFFS.c.channel)
        )
    }
    groups = dict.fromkeys(GROUP_NAMES, 0)
    for reason, count in reasons.items():
        groups[REASON_GROUPS.get(reason, "requested")] += count
    detailed = {reason: reasons.get(reason, 0) for reason in REASONS} | reasons
    return Handoffs(sum(reasons.values()), groups, detailed, channels)


def _percentiles(connection: Connection, durations: Select[Any]) -> Durations:
    """Median and 90th percentile by nearest rank (the ceil(p/100 * n)-th smallest), with ORDER BY and
    OFFSET: the same on every database, and the rows never leave it."""
    measured = durations.subquery("durations")
    count = int(connection.scalar(select(func.count()).select_from(measured)) or 0)
    if count == 0:
        return Durations(0, None, None)

    def at(percent: int) -> float:
        rank = max(1, math.ceil(percent / 100 * count))
        value = connection.scalar(
            select(measured.c.seconds).order_by(measured.c.seconds).offset(rank - 1).limit(1)
        )
        return round(float(value or 0.0), 1)

    return Durations(count, at(50), at(90))


def queue_wait(connection: Connection, period: Period) -> Durations:
    """Queue wait: seconds from a hand-off's opening to an agent taking it (`assigned_at - created_at`),
    for the period's hand-offs an agent took (still waiting ones are not counted)."""
    seconds = seconds_between(HANDOFFS.c.created_at, HANDOFFS.c.assigned_at).label("seconds")
    return _percentiles(
        connection, select(seconds).where(_handoffs_in(period), HANDOFFS.c.assigned_at.is_not(None))
    )


def resolution_time(connection: Connection, period: Period) -> Durations:
    """Time to resolution: seconds from a hand-off's opening to its resolution (`resolved_at -
    created_at`, the queue wait included), for the period's resolved hand-offs."""
    seconds = seconds_between(HANDOFFS.c.created_at, HANDOFFS.c.resolved_at).label("seconds")
    return _percentiles(
        connection, select(seconds).where(_handoffs_in(period), HANDOFFS.c.resolved_at.is_not(None))
    )


def _ratings(count: int, total: int, scores: dict[int, int]) -> Ratings:
    distribution = {score: scores.get(score, 0) for score in range(1, 6)}
    return Ratings(count, None if count == 0 else round(total / count, 2), distribution)


def satisfaction(connection: Connection, period: Period) -> Satisfaction:
    """CSAT: the ratings (1-5) customers gave after the period's hand-offs were resolved
    (`handoffs.csat_rating`; unanswered questions are not counted), overall and per agent who resolved
    them: how many, the average and how many of each score."""
    rows = connection.execute(
        select(HANDOFFS.c.agent_id, USERS.c.name, HANDOFFS.c.csat_rating, func.count())
        .select_from(HANDOFFS.outerjoin(USERS, USERS.c.id == HANDOFFS.c.agent_id))
        .where(_handoffs_in(period), HANDOFFS.c.csat_rating.is_not(None))
        .group_by(HANDOFFS.c.agent_id, USERS.c.name, HANDOFFS.c.csat_rating)
    ).all()
    overall: dict[int, int] = {}
    per_agent: dict[int | None, tuple[str, dict[int, int]]] = {}
    for agent_id, name, rating, count in rows:
        overall[int(rating)] = overall.get(int(rating), 0) + int(count)
        scores = per_agent.setdefault(agent_id, (name or "Sin agente", {}))[1]
        scores[int(rating)] = scores.get(int(rating), 0) + int(count)

    def rated(scores: dict[int, int]) -> Ratings:
        return _ratings(sum(scores.values()), sum(s * n for s, n in scores.items()), scores)

    agents = [AgentRatings(agent_id, name, rated(scores)) for agent_id, (name, scores) in per_agent.items()]
    agents.sort(key=lambda a: (-a.ratings.count, a.name))
    return Satisfaction(rated(overall), agents)


def top_intents(connection: Connection, period: Period, limit: int = TOP) -> list[tuple[str, int]]:
    """Top intents: the intents the assistant acted on most (`inbound_messages.intent`, one per user
    turn; turns without one, and the fallback, which is no intent but "not understood" and has its own
    figure, are left out), most frequent first, ties by name."""
    count = func.count().label("turns")
    rows = connection.execute(
        select(INBOUND.c.intent, count)
        .where(_inbound_in(period), INBOUND.c.intent.is_not(None), INBOUND.c.intent != FALLBACK_INTENT)
        .group_by(INBOUND.c.intent)
        .order_by(count.desc(), INBOUND.c.intent)
        .limit(limit)
    )
    return [(str(intent), int(turns)) for intent, turns in rows]


def top_plans(connection: Connection, period: Period, limit: int = TOP) -> list[tuple[str, int]]:
    """Top plans asked about: how many user turns were about each catalogue plan
    (`inbound_messages.plans`, a turn about two plans counts for both), most frequent first, ties by
    name."""
    turns = (
        select(INBOUND.c.id, INBOUND.c.plans)
        .where(_inbound_in(period), is_json_array(INBOUND.c.plans))
        .subquery("turns")
    )
    elements = getattr(func, json_array_elements(connection.dialect.name))(turns.c.plans)
    plan = elements.table_valued("value").alias("plan")
    count = func.count().label("turns")
    rows = connection.execute(
        select(plan.c.value, count)
        .select_from(turns.join(plan, true()))
        .where(plan.c.value.is_not(None))
        .group_by(plan.c.value)
        .order_by(count.desc(), plan.c.value)
        .limit(limit)
    )
    return [(str(name), int(n)) for name, n in rows]
