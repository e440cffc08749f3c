"""The store reads behind the insights page, off the event loop."""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy.orm import Session, sessionmaker

from bot.insights.period import Period
from bot.insights.report import Insights, compute
from bot.store.db import in_store, read_apart
from bot.store.review import waiting_count

# A period's figures are kept this long: a page load, its CSV and a colleague's look at the same period
# read the store once (on 100,000 conversations a month's figures take about a second).
FRESH_SECONDS = 60.0
KEPT_PERIODS = 32


class InsightsReader:
    """Computes a period's figures (kept for a minute) and counts the messages waiting for review."""

    def __init__(self, sessions: sessionmaker[Session], fresh_seconds: float = FRESH_SECONDS) -> None:
        self._sessions = sessions
        self._fresh_seconds = fresh_seconds
        self._kept: OrderedDict[Period, tuple[float, Insights]] = OrderedDict()

    async def figures(self, period: Period) -> Insights:
        """Every figure of the period, read in one transaction (or, within a minute, as read then)."""
        kept = self._kept.get(period)
        if kept is not None and time.monotonic() - kept[0] < self._fresh_seconds:
            return kept[1]

        def run() -> Insights:
            with self._sessions() as session:
                return compute(session.connection(), period)

        # A month on 100,000 conversations takes about a second: not on the store thread messages wait for.
        insights = await read_apart(self._sessions, run)
        self._kept[period] = (time.monotonic(), insights)
        self._kept.move_to_end(period)
        while len(self._kept) > KEPT_PERIODS:
            self._kept.popitem(last=False)
        return insights

    async def waiting_for_review(self) -> int:
        """How many not-understood messages wait for a supervisor's review."""

        def run() -> int:
            with self._sessions() as session:
                return waiting_count(session)

        return await in_store(self._sessions, run)
