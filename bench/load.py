"""The load generator's process: one step of load, in its own process, so it never shares a core's event
loop with the stack it measures.

    python -m bench.load < spec.json > result.json

The spec (`testkit.load.Spec`) says what to drive and how: closed loop (N concurrent senders, each waiting
for its answer before its next message), open loop (messages arrive at a fixed mean rate, Poisson, whatever
the answers do) or bare NLU parsing; over the webchat API, signed WhatsApp webhooks, Rasa's REST channel
(the stock bot) or the engine's /model/parse. Each simulated sender is one conversation that follows a
multi-turn script; a sender never has more than one message waiting for its answer. The machinery is the
testing kit's load generator (testkit/load.py), which the soak shares; this module runs one step of it.

For WhatsApp this process also serves the fake Twilio REST API the gateway sends its answers to, so
the time from the webhook POST to the arrival of the answer's last part is measured on one clock. When
the engine is slower than the gateway's ENGINE_TIMEOUT_SECONDS, the gateway sends an apology first and
the answer later: apologies are counted apart, and the latency runs until the answer itself.

Every answer is checked against the calibration (the same script answered once, alone): a message
with no answer within the give-up time is lost, one answered after the timeout (30 s) is slow but
answered (its latency counts), more messages than calibrated are duplicates, different texts are
mismatches (wrong answers under load).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from testkit.fake_twilio import FakeTwilio
from testkit.load import (
    WHATSAPP,
    Channel,
    HttpChannel,
    Spec,
    Stats,
    WhatsAppChannel,
    calibrate,
    run_closed,
    run_open,
)


def pending(store: str) -> int:
    """Messages the gateway stored and has not answered yet."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)) as db:
        row = db.execute("SELECT count(*) FROM inbound_messages WHERE status = 'pending'").fetchone()
    return int(row[0])


async def settle(store: str, limit: float) -> tuple[int, float]:
    """Wait (serving the fake Twilio meanwhile) until the gateway answered everything it stored, at most
    `limit` seconds; (messages still pending, seconds waited)."""
    begin = time.perf_counter()
    left = await asyncio.to_thread(pending, store)
    while left and time.perf_counter() - begin < limit:
        await asyncio.sleep(0.5)
        left = await asyncio.to_thread(pending, store)
    return left, round(time.perf_counter() - begin, 1)


async def run(spec: Spec) -> dict[str, Any]:
    """Run the step and return its result."""
    stats = Stats()
    limit = max(spec.concurrency, int(spec.rate * 4), 10) + 10
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        if spec.kind == "calibrate":
            return {"expected": await calibrate(spec, HttpChannel(spec, session))}
        loop: Callable[[Spec, Channel, Stats], Awaitable[float]] = (
            run_open if spec.kind == "open" else run_closed
        )
        if spec.channel == WHATSAPP:
            assert spec.twilio is not None
            fake = FakeTwilio(spec.twilio.account_sid, spec.twilio.auth_token, port=spec.twilio.port)
            if spec.twilio.statuses:  # Twilio's status callbacks, to the gateway serving the webhooks
                fake.statuses = list(spec.twilio.statuses)
                fake.deliver_callbacks(spec.base_url)
            async with fake.serving():
                whatsapp = WhatsAppChannel(spec, session, fake)
                window = await loop(spec, whatsapp, stats)
                await asyncio.sleep(spec.grace)
                if spec.store:
                    stats.pending_after, stats.settle_s = await settle(spec.store, spec.settle)
                whatsapp.finish(stats)
        else:
            window = await loop(spec, HttpChannel(spec, session), stats)
    return stats.result(spec, window)


def main() -> int:
    """Read the spec on stdin, print the result as JSON on stdout."""
    spec = Spec.from_json(json.loads(sys.stdin.read()))
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    begin = time.process_time()
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(run(spec))
    # Its own CPU time: it shares the machine's cores with the stack it measures.
    result["cpu_s"] = round(time.process_time() - begin, 3)
    json.dump(result, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
