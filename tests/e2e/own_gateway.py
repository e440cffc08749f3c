"""A gateway of its own for the supervisors' pages (insights, review): no engine, a fresh store `bot seed`
filled, a test's own rows added before it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection

from bot.settings import PROJECT_ROOT
from bot.store.db import make_engine
from tests.e2e.chromium import ARTIFACTS
from tests.e2e.conftest import free_port


@contextmanager
def supervisor_gateway(
    store: str, jwt_secret: str, name: str, ready_path: str, fill: Callable[[Connection], None]
) -> Iterator[tuple[str, dict[str, str]]]:
    """The gateway in development mode over the SQLite store `store` (seeded, then `fill`ed in one
    transaction), answering at `ready_path`: (its URL, its environment). Its log is
    test-artifacts/<name>-gateway.log."""
    env = {
        **os.environ,
        "DATABASE_URL": store,
        "DEV_MODE": "true",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(free_port()),
        "METRICS_PORT": "0",
        "JWT_SECRET": jwt_secret,
        "TWILIO_ACCOUNT_SID": "",
        "EVENTS_URL": "",
    }
    subprocess.run([sys.executable, "-m", "bot.cli", "seed"], cwd=PROJECT_ROOT, env=env, check=True)
    engine = make_engine(store)
    with engine.begin() as connection:
        fill(connection)
    engine.dispose()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{name}-gateway.log"
    with log_path.open("w") as log:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "bot.gateway"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}{ready_path}", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    if gateway.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"the gateway did not start: see test-artifacts/{log_path.name}")
                    time.sleep(0.2)
            yield url, env
        finally:
            gateway.terminate()
            gateway.wait(timeout=10)
