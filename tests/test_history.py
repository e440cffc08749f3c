"""The synthetic demo history: `bot seed` adds it (and `--no-demo` leaves it out), re-seeding replaces it
without touching real conversations, and it is clearly marked and shaped like real traffic."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.insights.figures import containment, handoffs, not_understood, satisfaction, volume
from bot.insights.period import last_days
from bot.settings import PROJECT_ROOT
from bot.store import history
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Handoff, InboundMessage, User

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def seed(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "seed", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def counts(database_url: str) -> tuple[int, int]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        messages = connection.scalar(select(func.count()).select_from(InboundMessage))
        handed = connection.scalar(select(func.count()).select_from(Handoff))
    engine.dispose()
    return int(messages or 0), int(handed or 0)


def test_seed_adds_the_history_once_and_no_demo_leaves_it_out(tmp_path: Path) -> None:
    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    assert "Demo history" not in seed(bare, "--no-demo")
    assert counts(bare) == (0, 0)

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert "Demo history (synthetic, marked demo-history-*): 1500 conversations" in seed(url)
    first = counts(url)
    assert first[0] > 1500 and first[1] > 50
    seed(url)
    assert counts(url) == first  # replaced, not added again (same day, same seed)


def test_replacing_the_history_keeps_real_conversations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(InboundMessage).values(
                channel="webchat",
                external_id="real-1",
                sender_id="web:a:real",
                text="hola",
                meta={},
                status="answered",
                attempts=1,
                received_at=NOW,
            )
        )
        connection.execute(
            insert(Handoff).values(
                sender_id="web:a:real", channel="webchat", reason="requested", status="queued", created_at=NOW
            )
        )
        history.add(connection, 200, 30, NOW)
    with engine.begin() as connection:
        messages, handed = history.add(connection, 100, 30, NOW, seed=3)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(InboundMessage)) == messages + 1
        assert connection.scalar(select(func.count()).select_from(Handoff)) == handed + 1
        assert connection.scalar(select(Handoff.sender_id).where(Handoff.status == "queued")) == "web:a:real"
        synthetic = connection.execute(
            select(InboundMessage.external_id, InboundMessage.meta).where(
                InboundMessage.sender_id != "web:a:real"
            )
        ).all()
        assert all(e.startswith("demo-history-") and m["synthetic"] is True for e, m in synthetic)
        agents = connection.scalars(select(User.name).where(User.account_id == history.ACCOUNT_ID)).all()
        assert sorted(agents) == ["Bruno Historial", "Irene Historial"]
    engine.dispose()


def test_the_history_looks_like_traffic_to_the_insights(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        history.add(connection, 1500, 30, NOW)
    period = last_days(30, NOW.date())
    with engine.connect() as connection:
        seen = volume(connection, period)
        # Every synthetic sender is new; one whose messages cross midnight (UTC) has two conversations.
        days = {
            (s, r.date())
            for s, r in connection.execute(select(InboundMessage.sender_id, InboundMessage.received_at))
        }
        assert seen.conversations == len(days)
        assert 1500 <= seen.conversations < 1500 * 1.02
        assert 0.2 < seen.signed_in / seen.conversations < 0.5
        contained = containment(connection, period)
        assert contained.share is not None and 0.75 < contained.share < 0.95
        assert all(day.total > 0 for day in contained.days)
        missed = not_understood(connection, period).share
        assert missed is not None and 0.03 < missed < 0.25
        handed = handoffs(connection, period)
        assert all(handed.groups[group] > 0 for group in ("requested", "not_understood", "topic"))
        assert set(handed.channels) == {"webchat", "whatsapp"}
        csat = satisfaction(connection, period)
        assert sorted(a.name for a in csat.agents) == ["Bruno Historial", "Irene Historial"]
        latest = connection.scalar(select(func.max(Handoff.resolved_at)))
        assert latest is not None and latest.replace(tzinfo=UTC) < NOW + timedelta(hours=4)
    engine.dispose()
