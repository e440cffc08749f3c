"""Rasa's SQL tracker store doing less per message: same table, same rows, same answers.

Installed next to the engine (like engine_speedups) and named in the engine's endpoints as
`type: engine_tracker_store.FastSQLTrackerStore`, with the usual SQL keys (dialect, db, url, port, ...).

Profiled under load, Rasa 3.6's `SQLTrackerStore` took about 30% of the engine's time per message:
- SQLite under SQLAlchemy 1.4 gets no connection pool, so every read and every write opened the file,
  set it up and closed it again;
- every commit synced the disk;
- saving first counted the stored events of the session (one more query) to know which are new;
- each query was rebuilt through the ORM on every call.

This store keeps one pooled connection per thread, runs SQLite in WAL mode with `synchronous=NORMAL`
(a crash of the engine loses nothing; a power cut may lose the last commits but never corrupts the file),
issues prebuilt Core statements, and remembers how many events of the session it just read, so the save
that follows in the same turn inserts the rest without counting. Rasa's lock store keeps a conversation
on one worker at a time, so that number is always read under the same lock as the save that uses it;
a save with no read before it counts as Rasa does.

It also keeps each conversation's tracker in memory between turns: a read that finds the stored session
unchanged since this process saved it (the same number of events and the same last row, which another
worker's or another store's write would change) returns the kept tracker instead of decoding every event
of the session and replaying it again, work that grows with the conversation. A kept tracker is handed
out once (whoever reads it, saves it back), and only when it holds exactly the stored events.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from typing import Any, NamedTuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

# Conversations whose session length is remembered between a read and the save that follows it.
_REMEMBERED = 10_000
# Conversations whose tracker is kept in memory between turns (the least recently saved go first).
_KEPT = 1_000


class _Kept(NamedTuple):
    """A tracker as this process saved it, and the stored session it matches."""

    tracker: DialogueStateTracker
    count: int
    last_id: int
    domain: Domain


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")  # several engine workers may share the file
    cursor.execute("PRAGMA journal_mode=WAL")  # already so: `bot serve` prepares the file before they start
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class FastSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with pooled connections, prebuilt statements and no count before each save."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            # One connection per thread, kept open (Rasa reads and writes from its event loop's thread).
            self.engine = sa.create_engine(
                url, poolclass=sa.pool.SingletonThreadPool, connect_args={"check_same_thread": False}
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        events = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        session_start = (
            sa.select(sa.func.max(events.c.timestamp))
            .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        in_session = sa.and_(
            events.c.sender_id == sender,
            sa.or_(session_start.is_(None), events.c.timestamp >= session_start),
        )
        # The same rows as Rasa's query: this conversation's events since its latest session start.
        self._session_events = sa.select(events.c.data).where(in_session).order_by(events.c.id)
        self._session_count = sa.select(sa.func.count()).select_from(events).where(in_session)
        self._session_mark = (
            sa.select(sa.func.count(), sa.func.max(events.c.id)).select_from(events).where(in_session)
        )
        self._insert = events.insert()
        self._stored: OrderedDict[str, int] = OrderedDict()
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        # Reads answered from memory and from the database (diagnostics and the engine checks).
        self.kept_reads = 0
        self.stored_reads = 0

    def _remember(self, sender_id: str, count: int) -> None:
        self._stored[sender_id] = count
        self._stored.move_to_end(sender_id)
        if len(self._stored) > _REMEMBERED:
            self._stored.popitem(last=False)

    def _unchanged(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker kept for the conversation, if the stored session is still the one it holds."""
        kept = self._kept.pop(sender_id, None)  # handed out once: whoever reads it saves it back
        # Events added to it after its save (a turn that failed before saving) make it unusable.
        if kept is None or kept.domain is not self.domain or len(kept.tracker.events) != kept.count:
            return None
        with self.engine.connect() as connection:
            count, last_id = connection.execute(self._session_mark, {"sender_id": sender_id}).one()
        return kept.tracker if (count, last_id) == (kept.count, kept.last_id) else None

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session (None for a new conversation)."""
        tracker = self._unchanged(sender_id)
        if tracker is not None:
            self.kept_reads += 1
            self._remember(sender_id, len(tracker.events))
            return tracker
        self.stored_reads += 1
        with self.engine.connect() as connection:
            rows = connection.execute(self._session_events, {"sender_id": sender_id}).scalars().all()
        self._remember(sender_id, len(rows))
        if not rows or not self.domain:
            return None
        events = [json.loads(data) for data in rows]
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Insert the events the store does not hold yet, in one statement and one commit."""
        await self.stream_events(tracker)
        stored = self._stored.pop(tracker.sender_id, None)
        with self.engine.begin() as connection:
            if stored is None:
                stored = connection.execute(self._session_count, {"sender_id": tracker.sender_id}).scalar()
            rows: list[dict[str, Any]] = []
            for event in itertools.islice(tracker.events, stored or 0, None):
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                connection.execute(self._insert, rows)
            count, last_id = connection.execute(self._session_mark, {"sender_id": tracker.sender_id}).one()
        self._keep(tracker, count, last_id)
        logger.debug(f"Tracker with sender_id '{tracker.sender_id}' stored to database")

    def _keep(self, tracker: DialogueStateTracker, count: int, last_id: int | None) -> None:
        """Keep the saved tracker for the next turn when it holds exactly the stored session's events (not
        after a new session started within the turn: a read returns the new session's events only)."""
        sender_id = tracker.sender_id
        self._kept.pop(sender_id, None)
        if self.domain is None or last_id is None or len(tracker.events) != count:
            return
        self._kept[sender_id] = _Kept(tracker, count, last_id, self.domain)
        if len(self._kept) > _KEPT:
            self._kept.popitem(last=False)
