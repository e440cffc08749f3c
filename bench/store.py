"""What one message's trips to the store cost the gateway's store thread: `python -m bench.store`.

Every message is stored, claimed and answered in the store (and on WhatsApp its texts are queued and their
sending recorded), one transaction per trip, on SQLite in the store file's single thread: that thread's time
per message bounds how many messages a gateway answers per second, and its queue adds to every answer's
latency. Each trip runs through the gateway's own code (`Inbox`, `Outbox`, `contacts.arrived`) from the event
loop, as in production, on a store that already holds `--messages` messages of `--senders` people; the
table gives the median and p99 time of each trip and of a whole message, per channel (and with
`--postgres`, on a fresh PostgreSQL database too).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine

from bench.scratch import postgres_database
from bot.gateway.contacts import Arrival
from bot.gateway.inbox import Inbox, Outgoing
from bot.gateway.outbound import Draft
from bot.gateway.outbox import Outbox, Outcome
from bot.store.db import in_store, make_engine, make_sessionmaker
from bot.store.migrate import upgrade

T = TypeVar("T")

OWNER = "bench"
LEASE = 50.0
ANSWER = "El plan Expert incluye 30 usuarios y 2.000 InteractionZ al mes. ¿Quieres compararlo con otro?"
# Every other answer offers options to tap (a rich form stored with the text), as the assistant's do.
OPTIONS = {
    "types": {
        "twilio/quick-reply": {
            "body": ANSWER,
            "actions": [{"id": "1", "title": "Starter"}, {"id": "2", "title": "Expert"}],
        }
    }
}


@dataclass
class Trips:
    """Seconds each trip took, per message."""

    names: tuple[str, ...]
    times: dict[str, list[float]]

    @classmethod
    def of(cls, *names: str) -> Trips:
        return cls(names, {name: [] for name in (*names, "message")})


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


async def _timed(trips: Trips, name: str, work: Awaitable[T]) -> T:
    begin = time.perf_counter()
    result = await work
    trips.times[name].append(time.perf_counter() - begin)
    return result


async def run(engine: Engine, messages: int, senders: int) -> dict[str, Trips]:
    """`messages` messages per channel, from `senders` people, through the gateway's store code."""
    sessions = make_sessionmaker(engine)
    outbox = Outbox(sessions, {}, OWNER)
    inbox = Inbox(sessions, outbox.queue)
    results = {
        "whatsapp": Trips.of("record + contact", "take", "answer + queue", "record sending"),
        "webchat": Trips.of("record", "take", "answer"),
    }
    for index in range(messages):
        phone = f"+52155{index % senders:08d}"
        for channel, trips in results.items():
            whatsapp = channel == "whatsapp"
            sender, to = (f"wa:{phone}", f"whatsapp:{phone}") if whatsapp else (f"web:a:{phone}", None)
            arrival = Arrival(channel, to, f"SM{index}", "Ana") if to else None
            begin = time.perf_counter()
            stored, _ = await _timed(
                trips,
                trips.names[0],
                inbox.record(
                    channel,
                    uuid.uuid4().hex,
                    sender,
                    to,
                    "¿cuántos usuarios trae el plan expert?",
                    {"kind": "text"},
                    phone if whatsapp else None,
                    arrival,
                ),
            )
            await _timed(trips, "take", inbox.take(stored, OWNER, LEASE))
            replies = [{"text": ANSWER}]
            if to is None:
                await _timed(trips, "answer", inbox.answered(stored.id, replies, None, OWNER))
            else:
                draft = Draft(ANSWER, content=OPTIONS if index % 2 else None)
                outgoing = Outgoing(channel, to, [draft])
                queued = await _timed(
                    trips, "answer + queue", inbox.answered(stored.id, replies, outgoing, OWNER)
                )
                sent = [Outcome(q.id, "sent", provider_id=f"SM{uuid.uuid4().hex}") for q in queued or []]
                await _timed(trips, "record sending", in_store(sessions, outbox.rows.record, sent, None, []))
            trips.times["message"].append(time.perf_counter() - begin)
    return results


def _report(store: str, results: dict[str, Trips]) -> list[Row]:
    return [
        (store, channel, name, _percentile(values, 0.5), _percentile(values, 0.99))
        for channel, trips in results.items()
        for name, values in trips.times.items()
    ]


Row = tuple[str, str, str, float, float]


def measure(store: str, url: str, messages: int, senders: int, warm: int) -> list[Row]:
    """Warm up (and fill the store), then measure."""
    engine = make_engine(url)
    upgrade(engine)
    asyncio.run(run(engine, warm, senders))
    rows = _report(store, asyncio.run(run(engine, messages, senders)))
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000, help="measured messages per channel")
    parser.add_argument("--warm", type=int, default=20_000, help="messages stored first, per channel")
    parser.add_argument("--senders", type=int, default=500, help="people writing")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (PG_ADMIN's server)")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'store.db'}"
        rows += measure("sqlite", url, args.messages, args.senders, args.warm)
    if args.postgres:
        with postgres_database("zcc_bench_store") as url:
            rows += measure("postgresql", url, args.messages, args.senders, args.warm)
    print(f"\n{'store':<11} {'channel':<9} {'trip':<20} {'p50 ms':>8} {'p99 ms':>8}")
    for store, channel, trip, p50, p99 in rows:
        print(f"{store:<11} {channel:<9} {trip:<20} {p50:>8.3f} {p99:>8.3f}")


if __name__ == "__main__":
    main()
