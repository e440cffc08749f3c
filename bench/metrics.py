"""What a Prometheus scrape of `/metrics` costs on a large store: the store's figures are read at scrape
time, so their queries must stay cheap however much history the store holds. `python -m bench.metrics`.

A store is filled with `--rows` outbound texts and as many inbound messages (a few pending, a few failed,
the rest done, as in production) and a tenth as many hand-offs (mostly resolved), on SQLite and, with
`--postgres`, on a fresh PostgreSQL database; the table gives the median and worst time of the store's
figures alone and of a whole scrape over HTTP from a gateway running in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import Engine, insert, text

from bench.scratch import postgres_database
from bot.gateway.app import create_app
from bot.gateway.metrics import read_store
from bot.settings import Settings
from bot.store.db import make_engine, make_sessionmaker
from bot.store.migrate import upgrade
from bot.store.models import Handoff, InboundMessage, OutboundMessage

BATCH = 10_000


@dataclass(frozen=True)
class Row:
    store: str
    rows: int
    figures_ms: tuple[float, float]
    scrape_ms: tuple[float, float]


def _outbound(index: int, moment: datetime) -> dict[str, Any]:
    # 1 in 1,000 pending, 1 in 100 failed, 1 in 500 held: the rest went out.
    status = (
        "pending"
        if index % 1000 == 0
        else "failed"
        if index % 100 == 1
        else "held"
        if index % 500 == 2
        else "sent"
    )
    return {
        "recipient": f"whatsapp:+52155{index % 100_000:08d}",
        "body": "texto de la respuesta",
        "status": status,
        "next_attempt_at": moment,
        "created_at": moment,
    }


def _inbound(index: int, moment: datetime) -> dict[str, Any]:
    return {
        "channel": "whatsapp" if index % 2 else "webchat",
        "external_id": f"bench-{index}",
        "sender_id": f"wa:+52155{index % 100_000:08d}",
        "text": "cuanto cuesta el plan",
        "meta": {},
        "status": "pending" if index % 1000 == 0 else "answered",
        "received_at": moment,
    }


def _handoff(index: int, moment: datetime) -> dict[str, Any]:
    status = "queued" if index % 200 == 0 else "assigned" if index % 200 == 1 else "resolved"
    return {
        "sender_id": f"wa:+52155{index % 100_000:08d}",
        "channel": "whatsapp",
        "reason": "requested",
        "status": status,
        "created_at": moment,
    }


def fill(engine: Engine, rows: int) -> None:
    """Migrate the store and add the history, in batches."""
    upgrade(engine)
    start = datetime.now(UTC) - timedelta(days=30)
    tables: list[tuple[Any, int, Callable[[int, datetime], dict[str, Any]]]] = [
        (OutboundMessage.__table__, rows, _outbound),
        (InboundMessage.__table__, rows, _inbound),
        (Handoff.__table__, rows // 10, _handoff),
    ]
    for table, count, make in tables:
        step = timedelta(days=30) / max(1, count)
        for first in range(0, count, BATCH):
            values = [make(i, start + step * i) for i in range(first, min(count, first + BATCH))]
            with engine.begin() as connection:
                connection.execute(insert(table), values)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _figures(url: str, repeat: int) -> list[float]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times = []
    try:
        for run in range(repeat + 1):
            begin = time.perf_counter()
            with sessions() as session:
                read_store(session)
            if run:  # the first run opens the connection: not what a scrape costs
                times.append((time.perf_counter() - begin) * 1000)
    finally:
        engine.dispose()
    return times


async def _scrapes(url: str, repeat: int) -> list[float]:
    port = _free_port()
    # No engine (a port nobody listens on) and no retry rounds: the bench's pending messages stay pending.
    settings = Settings(
        _env_file=None,
        database_url=url,
        metrics_port=port,
        engine_url=f"http://127.0.0.1:{_free_port()}",
        retry_interval_seconds=3600.0,
    )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()  # the metrics' own server starts with the gateway's resources
    times = []
    try:
        async with aiohttp.ClientSession() as session:
            for run in range(repeat + 1):
                begin = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert response.status == 200, response.status
                    await response.read()
                if run:
                    times.append((time.perf_counter() - begin) * 1000)
    finally:
        await runner.cleanup()
    return times


def _summary(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), max(times)


def measure(name: str, url: str, rows: int, repeat: int) -> Row:
    """Fill the store, then time the figures and whole scrapes."""
    engine = make_engine(url)
    try:
        fill(engine, rows)
    finally:
        engine.dispose()
    figures = _figures(url, repeat)
    scrapes = asyncio.run(_scrapes(url, repeat))
    return Row(name, rows, _summary(figures), _summary(scrapes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="outbound texts and inbound messages")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (PG_ADMIN's server)")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'metrics.db'}"
        results.append(measure("sqlite", url, args.rows, args.repeat))
    if args.postgres:
        with postgres_database("zcc_bench_metrics") as url:
            results.append(measure("postgresql", url, args.rows, args.repeat))
    print(f"{'store':<11} {'rows':>8} {'figures p50/max ms':>20} {'scrape p50/max ms':>19}")
    for row in results:
        figures = f"{row.figures_ms[0]:.1f} / {row.figures_ms[1]:.1f}"
        scrape = f"{row.scrape_ms[0]:.1f} / {row.scrape_ms[1]:.1f}"
        print(f"{row.store:<11} {row.rows:>8} {figures:>20} {scrape:>19}")


if __name__ == "__main__":
    main()
