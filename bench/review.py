"""What the review and the satisfaction survey cost: `python -m bench.review` (`make bench-review`;
`--postgres` for PostgreSQL too).

On a store of `--conversations` synthetic conversations (`bot.store.history`, as `make bench-insights`),
with `--waiting` messages waiting for review:
- the survey check every text message now goes through before the assistant (`Surveys.open_for`: the
  sender's latest asked hand-off, and whether a message came in between), for senders with and without a
  hand-off;
- what `GET /api/insights/review` does: count the waiting messages, read the oldest 500 and group them.
The table gives the median and the 99th percentile of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from bench.insights import fill
from bench.scratch import postgres_database
from bot.gateway.review import SHOWN
from bot.handoff.csat import Surveys
from bot.nlu.resolve import fold
from bot.review.grouping import group
from bot.store import review
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Handoff, InboundMessage, ReviewItem

WORDS = " ".join(
    (
        "cuanto sale el plan expert starter specialist precio al mes usuarios whatsapp canal factura",
        "pagar tarjeta cancelar contrato como donde puedo quiero saber tiene incluye bot api soporte nose q",
    )
).split()


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def prepare(engine: Engine, waiting: int) -> tuple[list[str], list[str], int]:
    """Mark every resolved hand-off asked (the survey's worst case) and add messages waiting for review;
    return senders with a hand-off, senders without, and the highest message id."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            update(Handoff).where(Handoff.status == "resolved").values(csat_asked_at=Handoff.resolved_at)
        )
        texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(waiting)]
        connection.execute(
            insert(ReviewItem),
            [
                {
                    "inbound_id": 10_000_000 + i,
                    "channel": "webchat",
                    "sender_id": f"web:a:bench-{i}",
                    "text": t,
                    "normalized": fold(t),
                    "reason": "fallback",
                    "context": [{"role": "user", "text": t}],
                    "received_at": now,
                    "status": "waiting",
                }
                for i, t in enumerate(texts)
            ],
        )
        with_handoff = list(connection.scalars(select(Handoff.sender_id).distinct().limit(2000)))
        everyone = list(connection.scalars(select(InboundMessage.sender_id).distinct().limit(20000)))
        top = int(
            connection.scalar(select(InboundMessage.id).order_by(InboundMessage.id.desc()).limit(1)) or 0
        )
    without = sorted(set(everyone) - set(with_handoff))[:2000]
    return with_handoff, without, top


async def timed(work: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    await work()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await work()
        times.append((time.perf_counter() - began) * 1000)
    return _percentiles(times)


async def measure(
    name: str, engine: Engine, waiting: int, repeat: int
) -> list[tuple[str, str, float, float]]:
    with_handoff, without, top = prepare(engine, waiting)
    sessions = make_sessionmaker(engine)
    surveys = Surveys(sessions)
    rng = random.Random(11)
    rows: list[tuple[str, str, float, float]] = []
    for label, senders in (
        ("survey check, sender with a hand-off", with_handoff),
        ("survey check, other sender", without),
    ):

        async def check(senders: list[str] = senders) -> object:
            return await surveys.open_for(rng.choice(senders), top + 1)

        rows.append((name, label, *await timed(check, repeat)))

    def read() -> list[review.Item]:
        with sessions() as session:
            review.waiting_count(session)
            return review.items(session, review.WAITING, SHOWN)

    async def page() -> object:
        items = await asyncio.to_thread(read)
        return group(items, [i.text for i in items])

    rows.append(
        (
            name,
            f"review page data ({waiting:,} waiting, {SHOWN} shown and grouped)",
            *await timed(page, max(5, repeat // 20)),
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=100_000, help="synthetic conversations")
    parser.add_argument("--waiting", type=int, default=10_000, help="messages waiting for review")
    parser.add_argument("--repeat", type=int, default=200, help="timed runs of each survey check")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (PG_ADMIN's server)")
    args = parser.parse_args()
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'review.db'}")
        messages, handoffs, _ = fill(engine, args.conversations)
        print(f"sqlite: {args.conversations:,} conversations, {messages:,} messages, {handoffs:,} hand-offs")
        rows += asyncio.run(measure("sqlite", engine, args.waiting, args.repeat))
        engine.dispose()
    if args.postgres:
        with postgres_database("zcc_bench_review") as url:
            engine = make_engine(url)
            messages, handoffs, _ = fill(engine, args.conversations)
            print(
                f"postgresql: {args.conversations:,} conversations, {messages:,} messages, "
                f"{handoffs:,} hand-offs"
            )
            rows += asyncio.run(measure("postgresql", engine, args.waiting, args.repeat))
            engine.dispose()
    print(f"\n{'store':<11} {'what':<64} {'p50 ms':>8} {'p99 ms':>8}")
    for store, what, p50, p99 in rows:
        print(f"{store:<11} {what:<64} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
