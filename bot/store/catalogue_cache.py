"""The catalogue as the action server sees it: read from the store, re-read when its version changes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.catalogue.models import Catalogue
from bot.nlu.resolve import Resolver
from bot.store.catalogue_repo import read_catalogue, stored_version


@dataclass(frozen=True)
class Snapshot:
    """A catalogue with its resolver and the version it was read at."""

    version: str
    catalogue: Catalogue
    resolver: Resolver


class CatalogueCache:
    """Keeps one snapshot in memory; checks the store's version at most every `max_age` seconds."""

    def __init__(self, sessions: sessionmaker[Session], max_age: float = 30.0) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._refreshing = asyncio.Lock()

    async def current(self) -> Snapshot:
        """`get` for async code: the store is read in a worker thread, never on the event loop, and one
        caller at a time checks it while the others wait for that check."""
        if self._snapshot is not None and time.monotonic() - self._checked_at < self._max_age:
            return self._snapshot
        async with self._refreshing:
            return await asyncio.to_thread(self.get)

    def get(self) -> Snapshot:
        """The current snapshot, re-read if the store holds a newer catalogue (blocking: from sync code)."""
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked_at < self._max_age:
            return self._snapshot
        with self._sessions() as session:
            version = stored_version(session)
            if version is None:
                raise LookupError("the store holds no catalogue: run `bot seed` first")
            if self._snapshot is None or self._snapshot.version != version:
                catalogue = read_catalogue(session)
                self._snapshot = Snapshot(version, catalogue, Resolver(catalogue))
        self._checked_at = now
        return self._snapshot
