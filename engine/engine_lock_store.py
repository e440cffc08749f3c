"""A Rasa lock store in a SQLite file: several engine workers on one machine without a Redis server.

Named in the engine's endpoints as `type: engine_lock_store.SQLiteLockStore` with `db: <path>`. Rasa runs
more than one Sanic worker only with a lock store that processes share (its in-memory one is per process);
Redis is the usual choice across machines, this file is enough on one. Each read-modify-write of a
conversation's ticket lock runs in one `BEGIN IMMEDIATE` transaction, so two workers never issue the same
ticket (Rasa's Redis store reads and writes in two steps).
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

T = TypeVar("T")


class SQLiteLockStore(LockStore):
    """Ticket locks in a SQLite table shared by the engine workers of one machine."""

    def __init__(self, endpoint_config: Any = None, db: str | None = None) -> None:
        path = db or (endpoint_config.kwargs.get("db") if endpoint_config is not None else None)
        if not path:
            raise ValueError("SQLiteLockStore needs `db`: the path of its SQLite file")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._transaction() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS locks (conversation_id TEXT PRIMARY KEY, data TEXT)"
            )
        super().__init__()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) where they matter.
            connection = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._enter_wal(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @staticmethod
    def _enter_wal(connection: sqlite3.Connection) -> None:
        # Workers opening a new file at once: switching it to WAL needs the file to themselves, and SQLite
        # answers "locked" at once rather than waiting (its busy timeout does not cover that switch).
        for attempt in range(100):
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 99:
                    raise
                time.sleep(0.01 + random.random() * 0.02)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @staticmethod
    def _read(connection: sqlite3.Connection, conversation_id: str) -> TicketLock | None:
        row = connection.execute(
            "SELECT data FROM locks WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()
        return TicketLock.from_dict(json.loads(row[0])) if row else None

    @staticmethod
    def _write(connection: sqlite3.Connection, lock: TicketLock) -> None:
        connection.execute(
            "INSERT INTO locks (conversation_id, data) VALUES (?, ?) "
            "ON CONFLICT (conversation_id) DO UPDATE SET data = excluded.data",
            (lock.conversation_id, lock.dumps()),
        )

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], T]) -> T:
        """Read the lock, change it and write it back, in one transaction."""
        with self._transaction() as connection:
            lock = self._read(connection, conversation_id)
            result = change(lock)
            if lock is not None:
                self._write(connection, lock)
            return result

    # --- Rasa's LockStore interface ----------------------------------------------------------------------
    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's lock, if it has one."""
        return self._read(self._connection(), conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        """Remove the conversation's lock."""
        with self._transaction() as connection:
            deleted = connection.execute("DELETE FROM locks WHERE conversation_id = ?", (conversation_id,))
        self._log_deletion(conversation_id, deleted.rowcount > 0)

    def save_lock(self, lock: TicketLock) -> None:
        """Store the lock."""
        with self._transaction() as connection:
            self._write(connection, lock)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """A new ticket, issued atomically across workers."""
        try:
            with self._transaction() as connection:
                lock = self._read(connection, conversation_id) or self.create_lock(conversation_id)
                ticket = lock.issue_ticket(lock_lifetime)
                self._write(connection, lock)
                return ticket
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drop the lock's expired tickets."""
        self._change(conversation_id, lambda lock: lock and lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a served ticket."""
        self._change(conversation_id, lambda lock: lock and lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the served ticket, and the lock itself when nobody else waits (one transaction)."""
        with self._transaction() as connection:
            lock = self._read(connection, conversation_id)
            if lock is None:
                return
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self._write(connection, lock)
            else:
                connection.execute("DELETE FROM locks WHERE conversation_id = ?", (conversation_id,))
