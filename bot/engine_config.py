"""The engine's endpoints file, written from our settings: action server, tracker store and lock store."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import yaml
from sqlalchemy import create_engine, text

from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import POSTGRES_CONNECT_ARGS

# Rasa's SQL tracker store doing less per message (engine/engine_tracker_store.py, installed beside the
# engine): the same table and rows as `type: SQL`, so either reads what the other wrote.
TRACKER_STORE_TYPE = "engine_tracker_store.FastSQLTrackerStore"


def tracker_store(url: str) -> dict[str, Any]:
    """The engine's SQL tracker store from a URL: sqlite:///var/tracker.db or postgresql://u:pw@host/db."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return {"type": TRACKER_STORE_TYPE, "dialect": "sqlite", "db": url.split(":///", 1)[1]}
    dialect = parts.scheme.split("+", 1)[0]
    config: dict[str, Any] = {
        "type": TRACKER_STORE_TYPE,
        "dialect": "postgresql" if dialect in ("postgres", "postgresql") else dialect,
        "url": parts.hostname or "localhost",
        "db": parts.path.lstrip("/"),
    }
    if parts.port:
        config["port"] = parts.port
    if parts.username:
        config["username"] = parts.username
    if parts.password:
        config["password"] = parts.password
    return config


# Several engine workers on one machine without Redis (engine/engine_lock_store.py).
SQLITE_LOCK_STORE_TYPE = "engine_lock_store.SQLiteLockStore"


def lock_store(url: str | None) -> dict[str, Any] | None:
    """The engine's lock store: Redis from redis://host:port/db, a SQLite file shared by the workers of one
    machine from sqlite:///path; None keeps Rasa's in-memory default (one worker)."""
    if not url:
        return None
    if url.startswith("sqlite:///"):
        return {"type": SQLITE_LOCK_STORE_TYPE, "db": url.split(":///", 1)[1]}
    parts = urlsplit(url)
    config: dict[str, Any] = {
        "type": "redis",
        "url": parts.hostname or "localhost",
        "port": parts.port or 6379,
    }
    if parts.path.strip("/"):
        config["db"] = int(parts.path.strip("/"))
    if parts.password:
        config["password"] = parts.password
    return config


def default_lock_store(settings: Settings) -> str | None:
    """With several engine workers and no lock store configured, a SQLite file beside the tracker store
    (or under var/): Rasa would otherwise quietly run a single worker with per-process locks."""
    if settings.engine_workers <= 1:
        return None
    if settings.tracker_store_url.startswith("sqlite:///"):
        tracker = Path(settings.tracker_store_url.split(":///", 1)[1])
        return f"sqlite:///{tracker.with_name(tracker.stem + '-locks.db')}"
    port = settings.engine_url.rsplit(":", 1)[-1].rstrip("/")
    return f"sqlite:///{PROJECT_ROOT / 'var' / f'engine-locks-{port}.db'}"


def render(settings: Settings) -> str:
    """The endpoints YAML for these settings."""
    endpoints: dict[str, Any] = {
        "action_endpoint": {"url": f"http://127.0.0.1:{settings.action_server_port}/webhook"},
        "tracker_store": tracker_store(settings.tracker_store_url),
    }
    lock = lock_store(settings.lock_store_url or default_lock_store(settings))
    if lock is not None:
        endpoints["lock_store"] = lock
    return "# Written by `bot serve` from the settings; do not edit.\n" + yaml.safe_dump(
        endpoints, sort_keys=False
    )


# Rasa's events table, as its SQLTrackerStore creates it (the id is SERIAL on PostgreSQL: its sequence is
# optional there). Several engine workers starting at once would otherwise race to create it: on SQLite one
# of them logs an error, on PostgreSQL a `UniqueViolation` from `CREATE TABLE events`.
_EVENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS events (id {id} NOT NULL, sender_id VARCHAR(255) NOT NULL, "
    "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
    "action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))"
)
_EVENTS_INDEX = "CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)"


def prepare_sqlite(url: str) -> None:
    """Put a SQLite tracker store in WAL mode before the engine opens it (the mode persists in the file),
    with its table.

    Rasa opens it in the default rollback-journal mode, which syncs the disk twice per message.
    """
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.split(":///", 1)[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(_EVENTS_TABLE.format(id="INTEGER"))
        connection.execute(_EVENTS_INDEX)


def prepare_postgresql(url: str) -> None:
    """Create Rasa's events table in a PostgreSQL tracker store (in POSTGRESQL_SCHEMA when set, as Rasa
    does) before the engine's workers start, so none of them races to create it."""
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        return
    schema = os.environ.get("POSTGRESQL_SCHEMA")
    search_path = {"options": f"-csearch_path={schema}"} if schema else {}
    # The store's connection limits: a database that drops packets fails the start, never hangs it.
    engine = create_engine(
        "postgresql+psycopg://" + url.split("://", 1)[1],
        connect_args={**POSTGRES_CONNECT_ARGS, **search_path},
    )
    try:
        with engine.begin() as connection:
            # One creator at a time even if two stacks start together on one database.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('rasa events table'))"))
            connection.execute(text(_EVENTS_TABLE.format(id="SERIAL")))
            connection.execute(text(_EVENTS_INDEX))
    finally:
        engine.dispose()


def prepare_tracker_store(url: str) -> None:
    """The tracker store's table (and SQLite's WAL mode) before the engine starts."""
    prepare_sqlite(url)
    prepare_postgresql(url)


def clear_locks(settings: Settings) -> None:
    """Drop every conversation lock in the engine's lock store. Called only before the engine (all its
    workers) starts, when none can hold a lock: the tickets of an engine that was killed mid-message would
    otherwise hold those conversations for Rasa's ticket lifetime (60 s) after it is back."""
    url = settings.lock_store_url or default_lock_store(settings)
    if not url:
        return
    if url.startswith("sqlite:///"):
        path = Path(url.split(":///", 1)[1])
        if not path.exists():
            return
        with contextlib.closing(sqlite3.connect(path, timeout=10.0)) as connection, connection:
            exists = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'locks'"
            ).fetchone()
            if exists:
                connection.execute("DELETE FROM locks")
        return
    # Bounded like the gateway's Redis clients: an unreachable lock store fails this engine start (the
    # supervisor counts it) instead of freezing the supervision loop.
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        # Rasa's RedisLockStore keys (its default prefix: we configure none).
        stale = list(client.scan_iter(match="lock:*", count=1000))
        for start in range(0, len(stale), 1000):
            client.delete(*stale[start : start + 1000])
    finally:
        client.close()


def write(settings: Settings, root: Path = PROJECT_ROOT) -> Path:
    """Write the endpoints file for this engine's port under var/ and return its path."""
    prepare_tracker_store(settings.tracker_store_url)
    port = settings.engine_url.rsplit(":", 1)[-1].rstrip("/")
    path = root / "var" / f"endpoints-{port}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(settings), encoding="utf-8")
    return path
