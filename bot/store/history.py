"""Synthetic conversation history, clearly marked, so the insights page has something to show on a fresh
store (`bot seed`, 30 days) and something to measure at scale (`python -m bot.store.bulk --history N`).

Every synthetic message's `external_id` starts with `demo-history-` and its `meta` says
`{"synthetic": true}`; its senders never meet real ones: anonymous webchat visitors `web:a:demo-history-…`,
signed-in ones `web:u:<9 000 000 + n>` (no such user exists), WhatsApp numbers `+52155 90xx xxxx`.
Hand-offs of those senders are resolved, rated by some customers, and taken by the history's own agents
(account 90, "Soporte (historial de demostración)", which is not a demo account one can sign in as).

The output depends only on `seed`, the number of conversations, the days and `now`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from bot.handoff.triggers import REASONS
from bot.store.models import Account, Handoff, InboundMessage, User

MARK = "demo-history-"
ACCOUNT_ID = 90
AGENTS = (
    (90, "Bruno Historial", "bruno@historial.example"),
    (91, "Irene Historial", "irene@historial.example"),
)
SIGNED_IN_USER_BASE = 9_000_000
WHATSAPP_BASE = "+5215590"  # + 6 digits: a range no demo or bulk phone uses

PLANS = ("starter", "specialist", "expert", "professional", "enterprise")
PLAN_WEIGHTS = (22, 18, 30, 20, 10)
# (intent, weight, asks about plans, a text a customer might write)
INTENTS: tuple[tuple[str, int, bool, str], ...] = (
    ("ask_price", 18, True, "¿Cuánto cuesta el plan?"),
    ("compare_plans", 12, True, "¿Qué diferencia hay entre los planes?"),
    ("ask_feature_value", 10, True, "¿Cuántos usuarios incluye?"),
    ("recommend_plan", 7, True, "¿Qué plan me conviene?"),
    ("list_plans", 6, False, "¿Qué planes tienen?"),
    ("ask_channels", 7, False, "¿Qué canales puedo usar?"),
    ("ask_contract_status", 6, False, "¿Cómo va mi contrato?"),
    ("ask_invoice", 5, False, "Necesito mi factura"),
    ("ask_payment_methods", 5, False, "¿Cómo puedo pagar?"),
    ("greet", 8, False, "Hola"),
    ("thank", 6, False, "Gracias"),
    ("how_to_contract", 4, False, "¿Cómo contrato?"),
)
FALLBACK_TEXTS = ("asdf no entiendo nada", "quiero lo del otro día", "me sale un error raro", "y eso?")
# The reasons that are a topic needing a person (the insights group them so too).
TOPIC_REASONS = tuple(reason for reason in REASONS if reason not in ("requested", "not_understood"))
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (8, 6, 11, 27, 48)
REPLY = [{"text": "Respuesta del asistente (historial de demostración)."}]


@dataclass(frozen=True)
class Batch:
    """Rows to insert: user messages and hand-offs."""

    inbound: list[dict[str, Any]]
    handoffs: list[dict[str, Any]]


def _day_weights(days: int, today: datetime) -> list[float]:
    """More conversations on weekdays than at weekends."""
    weights = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        weights.append(0.45 if day.weekday() >= 5 else 1.0)
    return weights


def _moment(rng: random.Random, day_start: datetime, limit: datetime) -> datetime | None:
    """A time of day, busier in office hours (UTC-6: 15:00-01:00 UTC), before `limit`."""
    hour = rng.choice((15, 16, 16, 17, 17, 18, 18, 19, 20, 20, 21, 22, 23, 0, 2, 5, 13, 14))
    moment = day_start + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
    return moment if moment < limit else None


def _seconds(rng: random.Random, median: float, spread: float = 0.9) -> float:
    """A log-normal duration around `median` seconds."""
    return max(5.0, median * math.exp(rng.gauss(0, spread)))


def _conversation(rng: random.Random, n: int, start: datetime, agents: Sequence[int], batch: Batch) -> None:
    channel = "whatsapp" if rng.random() < 0.4 else "webchat"
    signed_in = rng.random() < 0.35
    meta: dict[str, Any] = {"synthetic": True}
    if signed_in:
        meta["identity"] = {"user_id": SIGNED_IN_USER_BASE + n, "account_id": SIGNED_IN_USER_BASE + n}
    if channel == "whatsapp":
        number = f"{WHATSAPP_BASE}{n % 1_000_000:06d}"
        sender, reply_to = f"wa:{number}", f"whatsapp:{number}"  # as the WhatsApp channel stores them
    else:
        sender, reply_to = (f"web:u:{SIGNED_IN_USER_BASE + n}" if signed_in else f"web:a:{MARK}{n}"), None

    ending = rng.random()
    reason = None
    if ending < 0.07:
        reason = "requested"
    elif ending < 0.11:
        reason = "not_understood"
    elif ending < 0.16:
        reason = rng.choice(TOPIC_REASONS)
    turns: list[tuple[str, bool, list[str] | None, str]] = []
    for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5))):
        if rng.random() < 0.09:
            turns.append(("nlu_fallback", False, None, rng.choice(FALLBACK_TEXTS)))
            continue
        intent, _, about_plans, text = rng.choices(INTENTS, weights=[i[1] for i in INTENTS])[0]
        plans = None
        if about_plans:
            plans = sorted(set(rng.choices(PLANS, weights=PLAN_WEIGHTS, k=rng.choice((1, 1, 2)))))
        turns.append((intent, True, plans, text))
    if reason == "requested":
        turns.append(("request_human", True, None, "Quiero hablar con una persona"))
    elif reason == "not_understood":
        turns += [("nlu_fallback", False, None, rng.choice(FALLBACK_TEXTS)) for _ in range(2)]
    elif reason is not None:
        turns.append(("billing_issue", True, None, "Tengo un problema con un cobro"))

    moment = start
    for k, (intent, understood, plans, text) in enumerate(turns):
        batch.inbound.append(
            {
                "channel": channel,
                "external_id": f"{MARK}{n}-{k}",
                "sender_id": sender,
                "reply_to": reply_to,
                "text": text,
                "meta": meta,
                "status": "answered",
                "attempts": 1,
                "replies": REPLY,
                "received_at": moment,
                "answered_at": moment + timedelta(milliseconds=rng.randrange(400, 2500)),
                "intent": intent,
                "understood": understood,
                "plans": plans,
            }
        )
        moment += timedelta(seconds=rng.randrange(20, 240))
    if reason is None:
        return
    created = moment
    assigned = created + timedelta(seconds=_seconds(rng, 180.0, 1.0))
    resolved = assigned + timedelta(seconds=_seconds(rng, 720.0, 0.7))
    rated = rng.random() < 0.7
    batch.handoffs.append(
        {
            "sender_id": sender,
            "channel": channel,
            "reply_to": reply_to,
            "reason": reason,
            "status": "resolved",
            "agent_id": agents[n % len(agents)] if agents else None,
            "created_at": created,
            "assigned_at": assigned,
            "agent_seen_at": resolved,
            "resolved_at": resolved,
            "csat_asked_at": resolved,
            "csat_rating": rng.choices(RATINGS, weights=RATING_WEIGHTS)[0] if rated else None,
            "csat_rated_at": resolved + timedelta(seconds=rng.randrange(20, 600)) if rated else None,
        }
    )


def conversations(
    count: int, days: int, now: datetime, agents: Sequence[int], *, seed: int = 16, batch: int = 5000
) -> Iterator[Batch]:
    """`count` synthetic conversations over the last `days` days up to `now`, in batches of `batch`
    conversations (a conversation's hand-off is in the same batch as its messages)."""
    rng = random.Random(seed)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    weights = _day_weights(days, today)
    starts = [today - timedelta(days=days - 1 - d) for d in range(days)]
    current = Batch([], [])
    made = 0
    n = 0
    while made < count:
        n += 1
        start = _moment(rng, rng.choices(starts, weights=weights)[0], now - timedelta(hours=4))
        if start is None:
            continue  # later today than now: drawn again
        _conversation(rng, n, start, agents, current)
        made += 1
        if made % batch == 0:
            yield current
            current = Batch([], [])
    if current.inbound:
        yield current


def remove(connection: Connection) -> int:
    """Remove the synthetic history (its hand-offs, messages and agents); returns the messages removed."""
    senders = (
        select(InboundMessage.sender_id).where(InboundMessage.external_id.like(f"{MARK}%")).distinct()
    ).scalar_subquery()
    connection.execute(delete(Handoff).where(Handoff.sender_id.in_(senders)))
    removed = connection.execute(delete(InboundMessage).where(InboundMessage.external_id.like(f"{MARK}%")))
    connection.execute(delete(User).where(User.account_id == ACCOUNT_ID))
    connection.execute(delete(Account).where(Account.id == ACCOUNT_ID))
    return int(removed.rowcount or 0)


def add_agents(connection: Connection) -> list[int]:
    """The history's own agents (their account is not a demo account: nobody signs in as them)."""
    connection.execute(
        insert(Account).values(
            id=ACCOUNT_ID,
            name="Soporte (historial de demostración)",
            created_at=datetime(2022, 1, 1, tzinfo=UTC),
        )
    )
    connection.execute(
        insert(User),
        [
            {
                "id": user_id,
                "account_id": ACCOUNT_ID,
                "name": name,
                "email": email,
                "phone": None,
                "phone_verified": False,
                "profile": "agent",
            }
            for user_id, name, email in AGENTS
        ],
    )
    return [user_id for user_id, _, _ in AGENTS]


def add(
    connection: Connection, count: int, days: int, now: datetime, *, seed: int = 16, batch: int = 5000
) -> tuple[int, int]:
    """Replace the synthetic history with `count` conversations over the last `days` days; returns the
    messages and hand-offs written. Runs in the caller's transaction when it has one."""
    remove(connection)
    agents = add_agents(connection)
    messages = handoffs = 0
    for rows in conversations(count, days, now, agents, seed=seed, batch=batch):
        connection.execute(insert(InboundMessage), rows.inbound)
        if rows.handoffs:
            connection.execute(insert(Handoff), rows.handoffs)
        messages += len(rows.inbound)
        handoffs += len(rows.handoffs)
    return messages, handoffs
