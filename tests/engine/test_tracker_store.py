"""The engine's tracker store (engine/engine_tracker_store.py) reads and writes exactly what Rasa's own
SQLTrackerStore does, on SQLite and on this machine's PostgreSQL: a check run by the engine's Python."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.model import engine_executable
from bot.settings import PROJECT_ROOT
from tests.scaled.test_scale_out import PG_ADMIN, _reachable

pytestmark = pytest.mark.e2e

CHECK = Path(__file__).with_name("tracker_store_check.py")


def _run(*args: str) -> None:
    python = engine_executable().with_name("python")
    done = subprocess.run(
        [str(python), str(CHECK), str(PROJECT_ROOT / "domain.yml"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_sqlite_reads_and_writes_like_rasas_store(tmp_path: Path) -> None:
    _run("sqlite", str(tmp_path / "tracker.db"))


@pytest.mark.skipif(not _reachable("127.0.0.1", 5432), reason="PostgreSQL is not running on 127.0.0.1:5432")
def test_postgresql_reads_and_writes_like_rasas_store() -> None:
    name = f"tracker_check_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _run("postgresql", "127.0.0.1", "5432", "postgres", name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
