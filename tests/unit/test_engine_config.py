"""The engine's endpoints file, written from the settings."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from bot.engine_config import clear_locks, render
from bot.settings import Settings


def endpoints(**values: Any) -> dict[str, Any]:
    settings = Settings(_env_file=None, **values)
    loaded: dict[str, Any] = yaml.safe_load(render(settings))
    return loaded


def test_the_default_is_one_worker_with_the_sqlite_tracker_store_and_no_shared_locks() -> None:
    found = endpoints(tracker_store_url="sqlite:////srv/bot/var/tracker.db", action_server_port=5055)
    assert found["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}
    assert found["tracker_store"] == {
        "type": "engine_tracker_store.FastSQLTrackerStore",
        "dialect": "sqlite",
        "db": "/srv/bot/var/tracker.db",
    }
    assert "lock_store" not in found


def test_postgresql_tracker_store_and_redis_lock_store() -> None:
    found = endpoints(
        tracker_store_url="postgresql://rasa:s3cret@db.internal:6543/conversations",
        lock_store_url="redis://:pw@cache.internal:6380/2",
        engine_workers=4,
    )
    assert found["tracker_store"] == {
        "type": "engine_tracker_store.FastSQLTrackerStore",
        "dialect": "postgresql",
        "url": "db.internal",
        "db": "conversations",
        "port": 6543,
        "username": "rasa",
        "password": "s3cret",
    }
    assert found["lock_store"] == {
        "type": "redis",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "password": "pw",
    }


def test_several_workers_without_a_lock_store_share_a_sqlite_file_beside_the_tracker_store() -> None:
    found = endpoints(tracker_store_url="sqlite:////srv/bot/var/tracker.db", engine_workers=2)
    assert found["lock_store"] == {
        "type": "engine_lock_store.SQLiteLockStore",
        "db": "/srv/bot/var/tracker-locks.db",
    }


def test_an_explicit_sqlite_lock_store() -> None:
    found = endpoints(lock_store_url="sqlite:////tmp/locks.db", engine_workers=2)
    assert found["lock_store"] == {"type": "engine_lock_store.SQLiteLockStore", "db": "/tmp/locks.db"}


def test_several_workers_with_a_postgresql_tracker_store_get_a_lock_file_per_engine_port() -> None:
    found = endpoints(
        tracker_store_url="postgresql://postgres@127.0.0.1:5432/test",
        engine_workers=2,
        engine_url="http://127.0.0.1:6105",
    )
    assert found["lock_store"]["type"] == "engine_lock_store.SQLiteLockStore"
    assert found["lock_store"]["db"].endswith("var/engine-locks-6105.db")


def _locks(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT conversation_id FROM locks")]


def test_the_engine_starts_with_no_conversation_lock_left_by_a_killed_one(tmp_path: Path) -> None:
    """A killed engine's tickets stay in the shared lock file; before the next start they go (no worker
    runs then), or its conversations would wait for Rasa's 60 s ticket lifetime."""
    settings = Settings(
        _env_file=None, tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}", engine_workers=2
    )
    path = tmp_path / "tracker-locks.db"
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE locks (conversation_id TEXT PRIMARY KEY, data TEXT)")
        connection.executemany("INSERT INTO locks VALUES (?, '{}')", [("a",), ("b",)])
    assert _locks(path) == ["a", "b"]
    clear_locks(settings)
    assert _locks(path) == []
    clear_locks(settings)  # nothing to clear: nothing fails
    clear_locks(
        Settings(_env_file=None, tracker_store_url=f"sqlite:///{tmp_path / 'new.db'}", engine_workers=2)
    )
    assert not (tmp_path / "new-locks.db").exists()  # no file is created for nothing


def test_stale_locks_in_redis_go_and_nothing_else_does() -> None:
    url = "redis://127.0.0.1:6379/3"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    try:
        client.set("lock:whatsapp:+5215512345678", "{}")
        client.set("lock:web-1", "{}")
        client.set("limits:someone", "1")
        clear_locks(Settings(_env_file=None, lock_store_url=url, engine_workers=2))
        assert client.keys("lock:*") == []
        assert client.get("limits:someone") == b"1"
    finally:
        client.delete("lock:whatsapp:+5215512345678", "lock:web-1", "limits:someone")
        client.close()
