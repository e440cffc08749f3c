"""Engine and session factory for the store (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

# A partition that drops packets (rather than refusing connections) must fail fast, not hang a request:
# give up connecting after 5 s, notice a dead peer through TCP keepalives within about 20 s, and fail when
# data sent is not acknowledged for 15 s.
POSTGRES_CONNECT_ARGS: dict[str, object] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 2,
    "tcp_user_timeout": 15000,
}


def utc(moment: datetime) -> datetime:
    """A stored moment, aware and in UTC: SQLite returns naive datetimes for timezone-aware columns."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_or_none(moment: datetime | None) -> datetime | None:
    """`utc` of a moment that may be missing."""
    return None if moment is None else utc(moment)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets its folder, WAL mode and foreign keys."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith(("postgresql", "postgres")):
        return create_engine(url, pool_pre_ping=True, connect_args=POSTGRES_CONNECT_ARGS)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL syncs at checkpoints rather than at every commit: a crash of the process loses
    # nothing; a power cut may lose the last commits but never corrupts the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker:  # type: ignore[type-arg]
    """A session factory bound to the engine."""
    return sessionmaker(engine, expire_on_commit=False)


# One thread per SQLite engine runs every store operation of the process, one after the other. SQLite
# takes one writer at a time anyway; threads racing for its lock wait in its busy handler, which sleeps
# 1, 2, 5 ... up to 100 ms between tries whether or not the lock came free meanwhile, so that under load
# the writes queued behind each other far longer than they took.
_SQLITE_THREADS: weakref.WeakKeyDictionary[Engine, ThreadPoolExecutor] = weakref.WeakKeyDictionary()


async def in_store(sessions: sessionmaker[Session], work: Callable[..., T], *args: Any) -> T:
    """Run blocking store work off the event loop: on SQLite in the file's own thread, on a server
    database in a worker thread (its connections are pooled and it handles concurrent writers)."""
    bind: Any = sessions.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        executor = _SQLITE_THREADS.get(bind)
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
            _SQLITE_THREADS[bind] = executor
        return await asyncio.get_running_loop().run_in_executor(executor, work, *args)
    return await asyncio.to_thread(work, *args)


async def read_apart(sessions: sessionmaker[Session], work: Callable[..., T], *args: Any) -> T:
    """Run a long read-only query (a report) in a worker thread of its own, even on SQLite: the file's
    store thread keeps answering messages meanwhile (in WAL mode a reader does not block the writer, and
    sqlite3 releases the GIL while a query runs). Only for work that writes nothing."""
    return await asyncio.to_thread(work, *args)
