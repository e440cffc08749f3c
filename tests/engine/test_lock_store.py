"""The SQLite lock store (engine/engine_lock_store.py) keeps each conversation to one holder at a time
across engine worker processes: a check run by the engine's Python with three processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_one_holder_at_a_time_across_processes(tmp_path: Path) -> None:
    run_in_engine(check("lock_store_check.py"), str(tmp_path / "locks.db"), str(tmp_path / "holders.log"))
