"""The store reads behind the insights page, off the event loop."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.insights.period import Period
from bot.insights.report import Insights, compute
from bot.store.db import in_store
from bot.store.models import ReviewItem


class InsightsReader:
    """Computes a period's figures and counts the messages waiting for review."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def figures(self, period: Period) -> Insights:
        """Every figure of the period, read in one transaction."""

        def run() -> Insights:
            with self._sessions() as session:
                return compute(session.connection(), period)

        return await in_store(self._sessions, run)

    async def waiting_for_review(self) -> int:
        """How many not-understood messages wait for a supervisor's review."""

        def run() -> int:
            with self._sessions() as session:
                query = select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "waiting")
                return int(session.scalar(query) or 0)

        return await in_store(self._sessions, run)
