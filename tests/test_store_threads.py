"""A long report does not hold up the messages: on SQLite every store operation of a process runs on the
file's one thread, so a report read there would make every message wait for it."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store, read_apart
from bot.store.models import PlanRow


def test_a_report_read_apart_lets_store_work_through(sessions: sessionmaker[Session]) -> None:
    written = threading.Event()

    def report() -> int:
        with sessions() as session:
            plans = int(session.scalar(select(func.count()).select_from(PlanRow)) or 0)
            # The report's transaction stays open until the store thread has done other work.
            assert written.wait(timeout=10), "the store thread waited for the report"
            return plans

    def store_work() -> None:
        with sessions.begin() as session:  # a write, beside the report's open read transaction
            session.execute(update(PlanRow).where(PlanRow.key == "starter").values(name=PlanRow.name))
        written.set()

    async def scenario() -> int:
        reading = asyncio.ensure_future(read_apart(sessions, report))
        await asyncio.sleep(0.05)  # the report is under way
        await asyncio.wait_for(in_store(sessions, store_work), timeout=10)
        return await reading

    assert asyncio.run(scenario()) > 0


def test_on_the_store_thread_the_same_report_would_block_it(sessions: sessionmaker[Session]) -> None:
    """The control: what `read_apart` avoids (the store thread is taken until the report ends)."""
    started, release = threading.Event(), threading.Event()

    def report() -> None:
        started.set()
        release.wait(timeout=10)

    def store_work() -> str:
        return "done"

    async def scenario() -> bool:
        reading = asyncio.ensure_future(in_store(sessions, report))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        try:
            await asyncio.wait_for(asyncio.shield(in_store(sessions, store_work)), timeout=0.5)
            blocked = False
        except TimeoutError:
            blocked = True
        release.set()
        await reading
        return blocked

    assert asyncio.run(scenario())
