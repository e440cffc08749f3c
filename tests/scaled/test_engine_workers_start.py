"""Two engine workers starting at once on a fresh PostgreSQL tracker store: `bot serve` creates Rasa's
events table before they start, so neither races to create it (before, one logged a `UniqueViolation` from
`CREATE TABLE events` and retried). Skipped, saying why, when PostgreSQL is not running."""

from __future__ import annotations

import os
import re
import secrets
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from bot import engine_config
from bot.model import model_path
from bot.serve import Stack, services
from bot.settings import Settings
from testkit.stack import wait_until

pytestmark = pytest.mark.e2e

PG_ADMIN = os.environ.get(
    "BOT_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINE_PORT = 6125
# What a worker logs when something went wrong at its start (Rasa logs the lost race as an ERROR).
TROUBLE = re.compile(r"\bERROR\b|UniqueViolation|Could not create tables|Traceback|duplicate key")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards): its tracker store URL."""
    if not _reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    name = f"zcc_workers_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = urllib.parse.urlsplit(PG_ADMIN)
    try:
        yield f"postgresql://{base.netloc}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_events_table_is_created_as_rasa_would(fresh_database: str) -> None:
    engine_config.prepare_tracker_store(fresh_database)
    engine_config.prepare_tracker_store(fresh_database)  # again: nothing changes, nothing fails
    database = create_engine("postgresql+psycopg://" + fresh_database.split("://", 1)[1])
    try:
        found = inspect(database)
        columns = {c["name"]: str(c["type"]) for c in found.get_columns("events")}
        assert columns == {
            "id": "INTEGER",
            "sender_id": "VARCHAR(255)",
            "type_name": "VARCHAR(255)",
            "timestamp": "DOUBLE PRECISION",
            "intent_name": "VARCHAR(255)",
            "action_name": "VARCHAR(255)",
            "data": "TEXT",
        }
        assert found.get_pk_constraint("events")["constrained_columns"] == ["id"]
        assert [i["column_names"] for i in found.get_indexes("events")] == [["sender_id"]]
        with database.begin() as connection:  # the id fills itself in (SERIAL), as Rasa's inserts expect
            connection.execute(text("INSERT INTO events (sender_id, type_name) VALUES ('u', 'user')"))
            assert connection.scalar(text("SELECT id FROM events")) == 1
    finally:
        database.dispose()


def test_two_engine_workers_start_on_a_fresh_database_without_an_error(
    fresh_database: str, tmp_path: Path
) -> None:
    model = model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make model` first")
    settings = Settings(
        _env_file=None,
        engine_url=f"http://127.0.0.1:{ENGINE_PORT}",
        tracker_store_url=fresh_database,
        lock_store_url=f"sqlite:///{tmp_path / 'locks.db'}",
        engine_workers=2,
    )
    engine = next(s for s in services(settings, model) if s.name == "engine")
    stack = Stack([engine], log_dir=tmp_path)
    log = tmp_path / "engine.log"
    try:
        stack.start(timeout=240)
        both = wait_until(lambda: log.read_text().count("Rasa server is up and running") == 2, timeout=120)
        assert both, log.read_text()[-3000:]
    finally:
        stack.stop()
    trouble = [line for line in log.read_text().splitlines() if TROUBLE.search(line)]
    assert trouble == [], trouble
