"""Every insights figure against a small store whose right answers were worked out by hand (see the
comments next to each row), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from bot.insights import figures
from bot.insights.period import Period, PeriodError, period_from
from bot.insights.report import as_csv, as_json, compute
from bot.store.migrate import upgrade
from bot.store.models import Account, Handoff, InboundMessage, User
from tests.stores import empty_store

PERIOD = Period(date(2026, 11, 1), date(2026, 11, 3))  # day 3 has nothing: its shares are empty
CARLA, DIEGO = 7, 9
A, B, C = "web:u:1", "web:a:b", "wa:+5215500000001"  # signed in, anonymous, anonymous
D, E, F, G = "wa:+5215510000001", "web:u:3", "web:a:f", "web:a:i"  # signed in, signed in, anon, anon
SIGNED = {"identity": {"user_id": 1, "account_id": 1}}


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


# (channel, sender, received, meta, intent, understood, plans)
TURNS: list[tuple[str, str, datetime, dict[str, Any], str | None, bool | None, Any]] = [
    # day 1: conversations A, B, C; known turns 5, not understood 2 (B's)
    ("webchat", A, at(1, 10), SIGNED, "ask_price", True, ["expert"]),
    ("webchat", A, at(1, 10, 5), SIGNED, "compare_plans", True, ["expert", "starter"]),
    ("webchat", B, at(1, 11), {}, "nlu_fallback", False, None),
    ("webchat", B, at(1, 11, 1), {}, "nlu_fallback", False, None),
    ("whatsapp", C, at(1, 23, 50), {}, "greet", True, []),
    # day 2: conversations C (a new day: a new conversation), D, E, F, G; known turns 4, none missed
    ("whatsapp", C, at(2, 0, 10), {}, "ask_price", True, ["starter"]),
    ("whatsapp", D, at(2, 9), SIGNED, "billing_issue", True, None),
    ("webchat", E, at(2, 15), SIGNED, "human_handoff", True, None),
    ("webchat", F, at(2, 15, 30), {}, None, None, None),  # a person answered it: outcome unknown
    ("webchat", G, at(2, 16), {}, "cancel", True, None),
    # outside the period, by a second each way
    ("webchat", A, at(31, 23, 59, 59, month=10), SIGNED, "ask_price", False, ["expert"]),
    ("webchat", A, at(4, 0), SIGNED, "ask_price", False, ["expert"]),
]
# (sender, channel, reason, created, assigned, resolved, agent, rating)
HANDOFFS: list[tuple[str, str, str, datetime, datetime | None, datetime | None, int | None, int | None]] = [
    (B, "webchat", "not_understood", at(1, 11, 2), at(1, 11, 12), at(1, 11, 32), CARLA, 2),  # 600 s, 1800 s
    (D, "whatsapp", "refund", at(2, 9, 1), at(2, 9, 3), at(2, 9, 31), CARLA, 5),  # 120 s, 1800 s
    (E, "webchat", "requested", at(2, 15), at(2, 15, 30), None, CARLA, None),  # 1800 s, not resolved
    (G, "webchat", "cancel_contract", at(2, 16, 1), at(2, 16, 2), at(2, 17, 1), DIEGO, 4),  # 60 s, 3600 s
    (A, "webchat", "requested", at(31, 23, 0, month=10), at(31, 23, 1, month=10), None, DIEGO, 1),  # outside
]


def fill(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(insert(Account.__table__).values(id=4, name="Soporte", created_at=at(1, 0)))
        for user_id, name in ((CARLA, "Carla Soporte"), (DIEGO, "Diego Ruiz")):
            connection.execute(
                insert(User.__table__).values(
                    id=user_id,
                    account_id=4,
                    name=name,
                    email=f"{user_id}@soporte.example",
                    phone_verified=False,
                    profile="agent",
                )
            )
        for n, (channel, sender, received, meta, intent, understood, plans) in enumerate(TURNS):
            connection.execute(
                insert(InboundMessage.__table__).values(
                    channel=channel,
                    external_id=f"m{n}",
                    sender_id=sender,
                    text="…",
                    meta=meta,
                    status="answered",
                    attempts=1,
                    received_at=received,
                    intent=intent,
                    understood=understood,
                    plans=plans,
                )
            )
        for sender, channel, reason, created, assigned, resolved, agent, rating in HANDOFFS:
            status = "resolved" if resolved else "assigned" if assigned else "queued"
            connection.execute(
                insert(Handoff.__table__).values(
                    sender_id=sender,
                    channel=channel,
                    reason=reason,
                    status=status,
                    agent_id=agent,
                    created_at=created,
                    assigned_at=assigned,
                    resolved_at=resolved,
                    csat_rating=rating,
                )
            )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The hand-made store, migrated to head, on each database (PostgreSQL skipped when unreachable)."""
    with empty_store(request.param, tmp_path_factory.mktemp("insights"), "test_insights") as engine:
        fill(engine)
        yield engine


def test_volume(store: Engine) -> None:
    with store.connect() as connection:
        # A, B, C on day 1; C, D, E, F, G on day 2. Signed in: A, D, E.
        assert figures.volume(connection, PERIOD) == figures.Volume(8, 10, 3, 5)
        whatsapp = Period(PERIOD.first, PERIOD.last, "whatsapp")
        assert figures.volume(connection, whatsapp) == figures.Volume(3, 3, 1, 2)


def test_containment(store: Engine) -> None:
    with store.connect() as connection:
        shares = figures.containment(connection, PERIOD)
        # Handed off: B (day 1), D, E, G (day 2).
        assert [(d.day, d.total, d.part) for d in shares.days] == [
            ("2026-11-01", 3, 2),
            ("2026-11-02", 5, 2),
            ("2026-11-03", 0, 0),
        ]
        assert (shares.total, shares.part, shares.share) == (8, 4, 0.5)
        assert shares.days[2].share is None
        whatsapp = figures.containment(connection, Period(PERIOD.first, PERIOD.last, "whatsapp"))
        assert [(d.total, d.part) for d in whatsapp.days] == [(1, 1), (2, 1), (0, 0)]


def test_not_understood(store: Engine) -> None:
    with store.connect() as connection:
        shares = figures.not_understood(connection, PERIOD)
        assert [(d.total, d.part) for d in shares.days] == [(5, 2), (4, 0), (0, 0)]
        assert shares.days[0].share == pytest.approx(0.4)
        assert shares.share == pytest.approx(2 / 9)


def test_handoffs_by_reason_and_channel(store: Engine) -> None:
    with store.connect() as connection:
        handoffs = figures.handoffs(connection, PERIOD)
        assert handoffs.total == 4
        assert handoffs.groups == {"requested": 1, "not_understood": 1, "topic": 2}
        assert handoffs.reasons == {
            "requested": 1,
            "not_understood": 1,
            "billing_dispute": 0,
            "refund": 1,
            "cancel_contract": 1,
            "double_charge": 0,
        }
        assert handoffs.channels == {"webchat": 3, "whatsapp": 1}


def test_queue_wait_and_resolution_percentiles(store: Engine) -> None:
    with store.connect() as connection:
        # Waits 60, 120, 600, 1800: the 2nd and 4th smallest.
        assert figures.queue_wait(connection, PERIOD) == figures.Durations(4, 120.0, 1800.0)
        # Resolutions 1800, 1800, 3600: the 2nd and 3rd smallest.
        assert figures.resolution_time(connection, PERIOD) == figures.Durations(3, 1800.0, 3600.0)
        whatsapp = Period(PERIOD.first, PERIOD.last, "whatsapp")
        assert figures.queue_wait(connection, whatsapp) == figures.Durations(1, 120.0, 120.0)
        empty = Period(date(2026, 11, 3), date(2026, 11, 3))
        assert figures.resolution_time(connection, empty) == figures.Durations(0, None, None)


def test_satisfaction(store: Engine) -> None:
    with store.connect() as connection:
        csat = figures.satisfaction(connection, PERIOD)
        # 2 and 5 for Carla, 4 for Diego (Diego's 1 was outside the period).
        assert csat.overall == figures.Ratings(3, 3.67, {1: 0, 2: 1, 3: 0, 4: 1, 5: 1})
        assert [(a.agent_id, a.name, a.ratings.count, a.ratings.average) for a in csat.agents] == [
            (CARLA, "Carla Soporte", 2, 3.5),
            (DIEGO, "Diego Ruiz", 1, 4.0),
        ]
        assert csat.agents[0].ratings.distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}


def test_top_intents_and_plans(store: Engine) -> None:
    with store.connect() as connection:
        assert figures.top_intents(connection, PERIOD) == [
            ("ask_price", 2),
            ("billing_issue", 1),
            ("cancel", 1),
            ("compare_plans", 1),
            ("greet", 1),
            ("human_handoff", 1),
        ]
        assert figures.top_intents(connection, PERIOD, limit=1) == [("ask_price", 2)]
        # The two fallback turns are not an intent asked about: `not_understood` counts them.
        # expert: A twice; starter: A's comparison and C on day 2. JSON null and [] count for nothing.
        assert figures.top_plans(connection, PERIOD) == [("expert", 2), ("starter", 2)]


def test_report_json_and_csv(store: Engine) -> None:
    with store.connect() as connection:
        insights = compute(connection, PERIOD)
    data = as_json(insights)
    assert data["period"] == {"from": "2026-11-01", "to": "2026-11-03", "channel": "all"}
    assert data["containment"]["share"] == 0.5
    assert data["queue_wait"] == {"count": 4, "p50_seconds": 120.0, "p90_seconds": 1800.0}
    topic = {"key": "topic", "name": "El tema necesita a una persona", "count": 2}
    assert data["handoffs"]["groups"][2] == topic
    lines = as_csv(insights).splitlines()
    assert lines[0] == "figura,elemento,valor"
    assert "Volumen,Conversaciones,8" in lines
    assert "Contención por día,2026-11-03," in lines
    assert "Espera en cola (s),p90,1800.0" in lines
    assert "CSAT,Promedio,3.67" in lines
    assert "Planes más consultados,starter,2" in lines


def test_period_from_a_request() -> None:
    today = date(2026, 12, 5)
    assert period_from({}, today) == Period(date(2026, 11, 29), today)
    assert period_from({"period": "30d", "channel": "whatsapp"}, today) == Period(
        date(2026, 11, 6), today, "whatsapp"
    )
    custom = {"period": "custom", "from": "2026-11-01", "to": "2026-11-03", "channel": "all"}
    assert period_from(custom, today) == PERIOD
    for bad in (
        {"channel": "sms"},
        {"period": "1y"},
        {"period": "custom", "from": "ayer", "to": "2026-11-03"},
        {"period": "custom", "from": "2026-11-03", "to": "2026-11-01"},
        {"period": "custom", "from": "2020-01-01", "to": "2026-11-01"},
    ):
        with pytest.raises(PeriodError):
            period_from(bad, today)
