"""The SQLite lock store (engine/engine_lock_store.py) keeps each conversation to one holder at a time
across engine worker processes: a check run by the engine's Python with three processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.model import engine_executable
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def test_one_holder_at_a_time_across_processes(tmp_path: Path) -> None:
    python = engine_executable().with_name("python")
    check = Path(__file__).with_name("lock_store_check.py")
    done = subprocess.run(
        [str(python), str(check), str(tmp_path / "locks.db"), str(tmp_path / "holders.log")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("ok"), done.stdout[-2000:]
