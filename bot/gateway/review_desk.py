"""The store work behind the not-understood review page, off the event loop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.store import review as store
from bot.store.db import in_store, read_apart


class ReviewDesk:
    """Reads the messages waiting for review and records supervisors' decisions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def waiting(self, limit: int) -> tuple[int, list[store.Item]]:
        """How many wait, and the oldest `limit` of them."""

        def run() -> tuple[int, list[store.Item]]:
            with self._sessions() as session:
                return store.waiting_count(session), store.items(session, store.WAITING, limit)

        # Hundreds of rows with their conversations: read beside the store thread messages wait for.
        return await read_apart(self._sessions, run)

    async def texts(self, ids: Sequence[int]) -> dict[int, str]:
        """The texts of the waiting items among `ids` (entities are placed in them)."""

        def run() -> dict[int, str]:
            with self._sessions() as session:
                return store.waiting_texts(session, ids)

        return await in_store(self._sessions, run)

    async def decide(
        self,
        ids: Sequence[int],
        status: str,
        user_id: int,
        intent: str | None = None,
        entities: dict[int, list[dict[str, Any]]] | None = None,
    ) -> tuple[int, int]:
        """Label or set aside waiting items; how many changed, and how many still wait."""

        def run() -> tuple[int, int]:
            with self._sessions.begin() as session:
                changed = store.review(session, ids, status, user_id, intent, entities)
                return changed, store.waiting_count(session)

        return await in_store(self._sessions, run)
