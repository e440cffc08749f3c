"""A replica keeps the leases of the messages it is still answering: under overload a message can wait for
an engine slot longer than a lease, and another replica's retry round must not answer it too."""

from __future__ import annotations

import asyncio

from bot.gateway.inbox import Inbox
from bot.store.db import make_engine, make_sessionmaker
from tests.gateway.conftest import FakeEngine, StartGateway


async def test_renewing_extends_only_this_replicas_leases_on_pending_messages(database_url: str) -> None:
    inbox = Inbox(make_sessionmaker(make_engine(database_url)))
    mine, _ = await inbox.record("webchat", "w1", "web:1", None, "hola", {})
    theirs, _ = await inbox.record("webchat", "w2", "web:2", None, "hola", {})
    done, _ = await inbox.record("webchat", "w3", "web:3", None, "hola", {})
    assert (await inbox.take(mine, "replica-a", 0.3)).claimed
    assert (await inbox.take(theirs, "replica-b", 0.3)).claimed
    assert (await inbox.take(done, "replica-a", 0.3)).claimed
    await inbox.answered(done.id, [{"text": "hola"}])
    await inbox.renew([mine.id, theirs.id, done.id], "replica-a", 60)
    await asyncio.sleep(0.5)  # the first leases have run out by now
    assert not (await inbox.take(mine, "replica-b", 30)).claimed  # renewed: still replica-a's
    assert (await inbox.take(theirs, "replica-c", 30)).claimed  # not replica-a's to renew
    assert not (await inbox.get(done.id)).leased  # type: ignore[union-attr]


async def test_a_message_waiting_longer_than_a_lease_stays_with_its_replica(
    start_gateway: StartGateway, engine: FakeEngine, database_url: str
) -> None:
    gateway = await start_gateway(engine_timeout_seconds=5.0)
    scheduler = gateway.pipeline.scheduler
    scheduler.lease_seconds = 0.6  # renewed every 0.2 s
    keeper = asyncio.ensure_future(scheduler._keep_leases())
    engine.delays["hola"] = 1.5  # the answer takes more than two leases
    other = Inbox(make_sessionmaker(make_engine(database_url)))
    try:
        stored, _ = await other.record("webchat", "slow-1", "web:a:slow", None, "hola", {})
        answering = asyncio.ensure_future(gateway.pipeline.answer(stored))
        await asyncio.sleep(1.0)
        assert stored.id in scheduler.holding
        assert not (await other.take(stored, "another-replica", 30)).claimed
        assert await answering == [{"recipient_id": "web:a:slow", "text": "eco: hola"}]
        assert scheduler.holding == set()
    finally:
        keeper.cancel()
    assert engine.messages == ["hola"]
