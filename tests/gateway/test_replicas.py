"""Gateway replicas sharing one store: each message is answered once, in order, and delivered once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy.exc

from bot.gateway.inbox import Inbox
from bot.store.db import make_engine, make_sessionmaker
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ANA_PHONE,
    FakeEngine,
    Gateway,
    StartGateway,
    inbound,
    incoming,
    rows,
)


async def test_a_replayed_webhook_on_the_other_replica_is_not_answered_twice(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    first, second = await start_gateway(), await start_gateway()
    params = incoming("cuantos usuarios trae el expert")
    responses = await asyncio.gather(first.webhook(params), second.webhook(params))
    assert [r.status for r in responses] == [200, 200]
    await asyncio.gather(first.settle(), second.settle())
    assert engine.messages.count("cuantos usuarios trae el expert") == 1
    assert twilio.bodies == ["eco: cuantos usuarios trae el expert"]


async def test_both_replicas_retrying_the_same_backlog_answer_each_message_once_in_order(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    first, second = await start_gateway(), await start_gateway()
    engine.mode = "down"
    texts = [f"mensaje {i}" for i in range(6)]
    for i, text in enumerate(texts):
        await (first if i % 2 else second).webhook(incoming(text))
    await asyncio.gather(first.settle(), second.settle())
    assert all(row.status == "pending" for row in inbound(first.settings.database_url))

    engine.mode = "ok"
    engine.received.clear()
    twilio.clear()
    await asyncio.gather(first.pipeline.retry_pending(), second.pipeline.retry_pending())
    await asyncio.gather(first.settle(), second.settle())
    assert engine.messages == texts  # each once, in arrival order
    assert [b for b in twilio.bodies if b.startswith("eco:")] == [f"eco: {t}" for t in texts]
    assert all(row.status == "answered" for row in inbound(first.settings.database_url))
    sent = rows(first.settings.database_url, "outbound_messages")
    assert all(row["status"] == "sent" for row in sent)


async def test_messages_of_one_sender_split_across_replicas_reach_the_engine_in_order(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    first, second = await start_gateway(), await start_gateway()
    engine.delays["uno"] = 0.3  # the first message is slow: the others must wait for it
    for i, text in enumerate(["uno", "dos", "tres", "cuatro"]):
        await (first if i % 2 == 0 else second).webhook(incoming(text, ANA_PHONE))
    await asyncio.gather(first.settle(), second.settle())
    await asyncio.gather(first.settle(), second.settle())
    assert engine.messages == ["uno", "dos", "tres", "cuatro"]
    assert twilio.bodies == ["eco: uno", "eco: dos", "eco: tres", "eco: cuatro"]


async def test_a_large_backlog_is_retried_senders_side_by_side_each_in_order(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    gateway = await start_gateway(engine_concurrency=8)
    engine.mode = "down"
    phones = [f"+52155{n:08d}" for n in range(40)]
    # Texts without digits, which the card redaction would rewrite.
    names = {phone: "cliente " + chr(97 + n // 26) + chr(97 + n % 26) for n, phone in enumerate(phones)}
    texts = {phone: [f"{names[phone]} dice {word}" for word in ("uno", "dos", "tres")] for phone in phones}
    for i in range(3):
        for phone in phones:
            await gateway.webhook(incoming(texts[phone][i], phone))
    await gateway.settle()
    assert sum(row.status == "pending" for row in inbound(gateway.settings.database_url)) == 120

    engine.mode = "ok"
    engine.received.clear()
    engine.delays = {text: 0.02 for queue in texts.values() for text in queue}
    twilio.clear()
    assert await gateway.pipeline.retry_pending(batch_size=50) == 120  # several batches, one call
    await gateway.settle()
    assert all(row.status == "answered" for row in inbound(gateway.settings.database_url))
    for phone in phones:
        assert [m for m in engine.messages if m.startswith(names[phone] + " ")] == texts[phone]  # in order
        sent = [m["Body"] for m in twilio.sent if m["To"] == f"whatsapp:{phone}"]
        assert [b for b in sent if b.startswith("eco:")] == [f"eco: {t}" for t in texts[phone]]
    assert engine.max_active == 1  # never two messages of one sender at once
    assert 1 < engine.peak <= 8  # senders side by side, within the engine slots


async def test_a_request_whose_message_a_retry_round_took_gets_that_answer(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(engine_timeout_seconds=5.0)
    engine.delays["hola"] = 0.3
    inbox = Inbox(make_sessionmaker(make_engine(gateway.settings.database_url)))
    stored, _ = await inbox.record("webchat", "race-1", "web:a:race", None, "hola", {})
    # The retry round takes the message first; its own request arrives while the engine works on it.
    retry = asyncio.ensure_future(gateway.pipeline.retry_pending())
    await asyncio.sleep(0.05)
    assert stored.id in gateway.pipeline.scheduler.in_flight
    replies = await gateway.pipeline.answer(stored)
    assert replies == [{"recipient_id": "web:a:race", "text": "eco: hola"}]
    assert await retry == 1
    assert engine.messages == ["hola"]  # asked once


async def test_an_answer_is_queued_with_its_message_marked_answered_so_a_failure_sends_nothing_twice(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    # Twilio is down when the answer is ready: the message is answered and its text waits in the outbox.
    twilio.fail()
    assert (await gateway.webhook(incoming("cuantos usuarios trae el expert"))).status == 200
    await gateway.settle()
    [message] = inbound(gateway.settings.database_url)
    assert message.status == "answered"
    [queued] = rows(gateway.settings.database_url, "outbound_messages")
    assert queued["status"] == "pending" and queued["body"] == "eco: cuantos usuarios trae el expert"
    # A retry round finds nothing to answer again, and the outbox sends the text once Twilio is back.
    assert await gateway.pipeline.retry_pending() == 0
    twilio.recover()
    await asyncio.sleep(1.1)  # the outbox's first backoff
    await gateway.settle()
    assert twilio.bodies == ["eco: cuantos usuarios trae el expert"]
    assert engine.messages == ["cuantos usuarios trae el expert"]


async def test_a_store_failure_when_answering_queues_nothing_and_the_retry_sends_once(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = Inbox.answered
    failures = [sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("disk I/O error"))]

    async def fails_once(self: Inbox, *args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await answered(self, *args, **kwargs)

    monkeypatch.setattr(Inbox, "answered", fails_once)
    assert (await gateway.webhook(incoming("que planes tienen"))).status == 200
    await gateway.settle()
    # Nothing was queued with the failed write: the message is still to answer, and nothing went out.
    assert [m.status for m in inbound(gateway.settings.database_url)] == ["pending"]
    assert rows(gateway.settings.database_url, "outbound_messages") == [] and twilio.bodies == []
    await gateway.pipeline.retry_pending()
    await gateway.settle()
    assert twilio.bodies == ["eco: que planes tienen"]
    assert [m.status for m in inbound(gateway.settings.database_url)] == ["answered"]


async def test_an_answer_whose_lease_ran_out_while_another_replica_answered_is_not_sent_twice(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    """On an overloaded machine the engine can take longer than a message's lease: another replica takes
    the message over and answers it too. Only one answer may go out."""
    first, second = (
        await start_gateway(engine_timeout_seconds=5.0),
        await start_gateway(engine_timeout_seconds=5.0),
    )
    first.pipeline.scheduler.lease_seconds = 0.3  # runs out while the engine works on it
    engine.delays["lento"] = 1.0
    assert (await first.webhook(incoming("lento"))).status == 200
    await asyncio.sleep(0.5)
    assert await second.pipeline.retry_pending() == 1  # takes it over after the lease, and answers
    await asyncio.gather(first.settle(), second.settle())
    assert engine.messages == ["lento", "lento"]  # asked twice: the engine cannot be un-asked
    assert twilio.bodies == ["eco: lento"]  # answered once
    [message] = inbound(first.settings.database_url)
    assert message.status == "answered"
