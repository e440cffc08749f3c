"""Two gateway replicas sharing one store: each message is answered once, in order, and delivered once."""

from __future__ import annotations

import asyncio

from tests.gateway.conftest import ANA_PHONE, FakeEngine, FakeTwilio, StartGateway, inbound, incoming, rows


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
    twilio.sent.clear()
    await asyncio.gather(first.conversations.retry_pending(), second.conversations.retry_pending())
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
