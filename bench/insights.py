"""How long the insights figures take on a store of 100,000 conversations: `python -m bench.insights`
(`make bench-insights`; `--postgres` for PostgreSQL too).

The store is filled with the synthetic history generator (`bot.store.history`: about 300,000 user messages
and 16,000 hand-offs for 100,000 conversations over 30 days, both channels), then each figure is computed
`--repeat` times for the last 7 and the last 30 days, every channel and WhatsApp only; the table gives the
median and the worst time of each, and of the whole page (every figure, as `/api/insights` reads them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from bench.scratch import postgres_database
from bot.insights import figures
from bot.insights.period import Period, last_days
from bot.insights.report import compute
from bot.store import history
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Handoff, InboundMessage

FIGURES: dict[str, Callable[[Connection, Period], Any]] = {
    "volume": figures.volume,
    "containment": figures.containment,
    "not_understood": figures.not_understood,
    "handoffs": figures.handoffs,
    "queue_wait": figures.queue_wait,
    "resolution_time": figures.resolution_time,
    "satisfaction": figures.satisfaction,
    "top_intents": figures.top_intents,
    "top_plans": figures.top_plans,
    "whole page": compute,
}


@dataclass(frozen=True)
class Timing:
    store: str
    period: str
    figure: str
    median_ms: float
    max_ms: float


def fill(engine: Engine, conversations: int) -> tuple[int, int, float]:
    """Migrate and add the history; returns the messages and hand-offs written and the seconds it took."""
    upgrade(engine)
    began = time.perf_counter()
    with engine.begin() as connection:
        history.add(connection, conversations, 30, datetime.now(UTC), batch=10_000)
    elapsed = time.perf_counter() - began
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a store this old: statistics, and the visibility map index-only scans need.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    with engine.connect() as connection:
        messages = int(connection.scalar(select(func.count()).select_from(InboundMessage)) or 0)
        handoffs = int(connection.scalar(select(func.count()).select_from(Handoff)) or 0)
    return messages, handoffs, elapsed


def measure(name: str, engine: Engine, repeat: int) -> list[Timing]:
    today = datetime.now(UTC).date()
    periods = {
        "7 days, all": last_days(7, today),
        "30 days, all": last_days(30, today),
        "30 days, whatsapp": last_days(30, today, "whatsapp"),
    }
    timings = []
    with engine.connect() as connection:
        for label, period in periods.items():
            for figure, run in FIGURES.items():
                run(connection, period)  # warm the caches once, as a running gateway has them
                times = []
                for _ in range(repeat):
                    began = time.perf_counter()
                    run(connection, period)
                    times.append((time.perf_counter() - began) * 1000)
                timings.append(Timing(name, label, figure, statistics.median(times), max(times)))
    return timings


def run(name: str, url: str, conversations: int, repeat: int) -> list[Timing]:
    engine = make_engine(url)
    try:
        messages, handoffs, seconds = fill(engine, conversations)
        print(
            f"{name}: {conversations:,} conversations, {messages:,} messages, {handoffs:,} hand-offs "
            f"written in {seconds:.1f} s"
        )
        return measure(name, engine, repeat)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100_000, help="synthetic conversations")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each figure")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (PG_ADMIN's server)")
    args = parser.parse_args()
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory() as folder:
        timings += run("sqlite", f"sqlite:///{Path(folder) / 'insights.db'}", args.conversations, args.repeat)
    if args.postgres:
        with postgres_database("zcc_bench_insights") as url:
            timings += run("postgresql", url, args.conversations, args.repeat)
    print(f"\n{'store':<11} {'period':<18} {'figure':<16} {'p50 ms':>9} {'max ms':>9}")
    for t in timings:
        print(f"{t.store:<11} {t.period:<18} {t.figure:<16} {t.median_ms:>9.1f} {t.max_ms:>9.1f}")


if __name__ == "__main__":
    main()
