"""The engine's endpoints file, written from the settings."""

from __future__ import annotations

from typing import Any

import yaml

from bot.engine_config import render
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
