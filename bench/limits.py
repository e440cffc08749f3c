"""How many chat requests one client gets admitted per second: with and without its conversation cookie, on
one gateway and on two gateways sharing their limits through Redis. `python -m bench.limits`.

Each gateway runs in this process against a stand-in engine that answers at once (the limits, not the
engine, are measured); one client sends as fast as the gateways answer for a few seconds; the table gives
the admitted (200) and refused (429) requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.catalogue.loader import load_catalogue
from bot.gateway.app import create_app
from bot.settings import Settings
from bot.store.catalogue_repo import save_catalogue
from bot.store.db import make_engine, make_sessionmaker
from bot.store.migrate import upgrade

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")


@dataclass(frozen=True)
class Row:
    replicas: int
    cookies: bool
    admitted: float
    refused: float


def _redis_running() -> bool:
    host, _, port = REDIS.removeprefix("redis://").split("/")[0].partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=0.5):
            return True
    except OSError:
        return False


async def _engine() -> tuple[web.AppRunner, str]:
    async def webhook(request: web.Request) -> web.Response:
        payload = await request.json()
        return web.json_response([{"recipient_id": payload["sender"], "text": "ok"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _gateway(settings: Settings) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _measure(urls: list[str], cookies: bool, seconds: float) -> tuple[float, float]:
    """One client, sending back to back (alternating between the replicas) for `seconds`."""
    jar: aiohttp.abc.AbstractCookieJar = (
        aiohttp.CookieJar(unsafe=True) if cookies else aiohttp.DummyCookieJar()
    )
    client = f"203.0.113.{uuid.uuid4().int % 250 + 1}"  # a fresh client, as its load balancer reports it
    statuses = {200: 0, 429: 0}
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < seconds:
            url = urls[sent % len(urls)]
            async with session.post(
                f"{url}/api/chat", json={"message": "hola"}, headers={"X-Forwarded-For": client}
            ) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
            sent += 1
        elapsed = time.monotonic() - started
    return statuses[200] / elapsed, statuses[429] / elapsed


async def run(seconds: float) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="bench-limits-"))
    database_url = f"sqlite:///{folder / 'bot.db'}"
    store = make_engine(database_url)
    upgrade(store)
    with make_sessionmaker(store).begin() as session:
        save_catalogue(session, load_catalogue())
    store.dispose()
    engine_runner, engine_url = await _engine()
    rows: list[Row] = []
    try:
        topologies = [1, 2] if _redis_running() else [1]
        for replicas in topologies:
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                engine_url=engine_url,
                trusted_proxy_hops=1,
                rate_limit_url=REDIS if replicas > 1 else None,
                retry_interval_seconds=3600.0,
            )
            gateways = [await _gateway(settings) for _ in range(replicas)]
            try:
                for cookies in (True, False):
                    admitted, refused = await _measure([url for _, url in gateways], cookies, seconds)
                    rows.append(Row(replicas, cookies, admitted, refused))
            finally:
                for runner, _ in gateways:
                    await runner.cleanup()
    finally:
        await engine_runner.cleanup()
    return rows


def table(rows: list[Row], settings: Settings) -> str:
    """The printed table."""
    lines = [
        f"rate limit: {settings.rate_limit_burst} at once, then {settings.rate_limit_per_second:g}/s per "
        "conversation and per client",
        f"{'replicas':>8} | {'cookie':>6} | {'admitted/s':>10} | {'refused/s':>9}",
        "-" * 44,
    ]
    for row in rows:
        cookie = "kept" if row.cookies else "none"
        lines.append(f"{row.replicas:>8} | {cookie:>6} | {row.admitted:>10.2f} | {row.refused:>9.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each measurement lasts")
    args = parser.parse_args()
    rows = asyncio.run(run(args.seconds))
    print(table(rows, Settings(_env_file=None)))


if __name__ == "__main__":
    main()
