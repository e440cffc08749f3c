"""Checks that run in the engine's environment (python3.10 + rasa 3.6), started from the app's tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot.model import engine_executable
from bot.settings import PROJECT_ROOT

HERE = Path(__file__).parent


def run_in_engine(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run the engine's Python with these arguments (a check script of this folder, or `-c`); fail the
    test with its error output unless it exits 0 and its last line starts with 'ok'. Return that line."""
    done = subprocess.run(
        [str(engine_executable().with_name("python")), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stderr[-3000:]
    assert lines and lines[-1].startswith("ok"), done.stdout[-2000:] + done.stderr[-2000:]
    return lines[-1]


def check(name: str) -> str:
    """The path of a check script of this folder."""
    return str(HERE / name)
