"""The engine's tracker store (engine/engine_tracker_store.py) reads and writes exactly what Rasa's own
SQLTrackerStore does, on SQLite and on this machine's PostgreSQL: a check run by the engine's Python."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.settings import PROJECT_ROOT
from tests.engine.conftest import check, run_in_engine
from tests.scaled.test_scale_out import PG_ADMIN, _reachable

pytestmark = pytest.mark.e2e
DOMAIN = str(PROJECT_ROOT / "domain.yml")


def test_sqlite_reads_and_writes_like_rasas_store(tmp_path: Path) -> None:
    run_in_engine(check("tracker_store_check.py"), DOMAIN, "sqlite", str(tmp_path / "tracker.db"))


@pytest.mark.skipif(not _reachable("127.0.0.1", 5432), reason="PostgreSQL is not running on 127.0.0.1:5432")
def test_postgresql_reads_and_writes_like_rasas_store() -> None:
    name = f"tracker_check_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run_in_engine(
            check("tracker_store_check.py"), DOMAIN, "postgresql", "127.0.0.1", "5432", "postgres", name
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
