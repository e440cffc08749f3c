"""`bot serve` stops cleanly: every process closes its SQLite connections, so SQLite checkpoints its
write-ahead log and no `-wal` or `-shm` file is left beside the store or the engine's tracker store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

QUESTIONS = ("hola", "¿cuántos usuarios trae el Expert?", "¿qué planes hay?", "gracias")


def ask(port: int, text: str) -> list[dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/chat",
        data=json.dumps({"message": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return list(json.loads(response.read()))


def keep_asking(port: int, client: int) -> int:
    """Ask until the gateway stops answering; return how many answers came."""
    answered = 0
    while True:
        try:
            ask(port, f"{QUESTIONS[(answered + client) % len(QUESTIONS)]} ({client})")
        except (OSError, ValueError):
            return answered
        answered += 1


def test_bot_serve_leaves_no_write_ahead_log_behind(tmp_path: Path) -> None:
    store, tracker = tmp_path / "bot.db", tmp_path / "tracker.db"
    gateway, engine, actions = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{store}",
        "TRACKER_STORE_URL": f"sqlite:///{tracker}",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(gateway),
        "PUBLIC_URL": f"http://127.0.0.1:{gateway}",
        "ENGINE_URL": f"http://127.0.0.1:{engine}",
        "ACTION_SERVER_PORT": str(actions),
        "TWILIO_ACCOUNT_SID": "",
        "RATE_LIMIT_BURST": "10000",
    }
    seeded = subprocess.run([sys.executable, "-m", "bot.cli", "seed"], cwd=PROJECT_ROOT, env=env, check=False)
    assert seeded.returncode == 0
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "bot.serve"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                assert ask(gateway, QUESTIONS[0])
                break
            except OSError:
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the stack did not answer within 3 minutes"
                time.sleep(1)
        for question in QUESTIONS[1:]:
            assert ask(gateway, question)
        assert store.with_name("bot.db-wal").exists()  # the log is in use while the stack runs
        # Stopped while conversations are still under way: the clean stop must hold under load too.
        with ThreadPoolExecutor(max_workers=6) as pool:
            busy = [pool.submit(keep_asking, gateway, n) for n in range(6)]
            time.sleep(3)
            serve.send_signal(signal.SIGTERM)
            for client in busy:
                client.result()
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=90)
        log.close()
    assert serve.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm")))
    assert left == [], (left, (tmp_path / "serve.log").read_text()[-3000:])
