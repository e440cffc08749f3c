"""Live updates across gateway replicas through Redis publish/subscribe (EVENTS_URL), and without Redis.

Two gateways share one store, as replicas behind a load balancer do: a console or a customer's webchat
connected to one replica must see what happens on the other. Needs this machine's Redis; skipped, saying
so, when it is not running.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

import pytest

from bot.answers.notices import position_text
from bot.handoff.events import AGENTS, conversation_topic
from bot.handoff.redis_events import RedisBroker
from tests.gateway.test_handoff import ANA_WHATSAPP, DIEGO, LEAD, TRIGGER, Hub, StartHub, message_event
from tests.gateway.test_handoff import start_hub as start_hub  # the fixture, shared with the hand-off tests

REDIS = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _redis_running() -> bool:
    host, _, port = REDIS.removeprefix("redis://").split("/")[0].partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=1):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_running(), reason=f"Redis is not running at {REDIS}")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def replicas(start_hub: StartHub) -> tuple[Hub, Hub]:
    """Two gateway replicas on one store, sharing live updates through a channel of their own on Redis."""
    shared = {"events_url": REDIS, "events_channel": f"test-events:{uuid.uuid4().hex}"}
    first: Hub = await start_hub(**shared)
    second: Hub = await start_hub(**shared)
    for hub in (first, second):
        broker = hub.handoffs.broker
        assert isinstance(broker, RedisBroker) and broker.listening
    return first, second


@needs_redis
async def test_a_console_on_one_replica_follows_a_hand_off_on_the_other(replicas: tuple[Hub, Hub]) -> None:
    front, back = replicas
    console = await back.agent_events()
    assert (await console.next())[0] == "queue"  # the snapshot on connecting

    cookie, sender = await front.new_customer()
    customer = await front.customer_events(cookie)
    await front.subscribed(sender)
    _, answer, _ = await front.chat(TRIGGER, cookie)
    assert answer[-2]["text"] == position_text(1)

    queued = await console.until(lambda name, data: name == "queue" and bool(data["handoffs"]))
    handoff = queued[-1][1]["handoffs"][0]
    assert handoff["sender_id"] == sender and handoff["position"] == 1

    # The agent works on the other replica; the customer's stream on the first replica hears it all.
    assert (await back.take(handoff["id"]))[0] == 200
    assert (await back.reply(handoff["id"], "Hola, soy Carla."))[0] == 200
    heard = await customer.until(message_event("agent", "Hola, soy Carla."))
    assert ("handoff", {"status": "assigned"}) in heard

    # And the customer's answer, taken by the first replica, reaches the console on the second.
    await front.chat("gracias, es sobre mi factura", cookie)
    said = await console.until(
        lambda name, data: name == "message" and data["message"]["text"] == "gracias, es sobre mi factura"
    )
    assert said[-1][1]["handoff_id"] == handoff["id"]


@needs_redis
async def test_each_change_of_place_is_announced_once_across_replicas(replicas: tuple[Hub, Hub]) -> None:
    front, back = replicas
    first, _ = await front.new_customer()
    _, answer, _ = await front.chat(TRIGGER, first)
    assert answer[-2]["text"] == position_text(1)
    await back.whatsapp(TRIGGER)  # second in line, on WhatsApp, through the other replica
    await back.settle()
    assert back.sent_to(ANA_WHATSAPP) == [LEAD, position_text(2)]
    queue = await front.queue()
    assert [h["position"] for h in queue] == [1, 2]

    # The take happens on one replica and both notice the change: the customer is told once.
    assert (await back.take(queue[0]["id"], DIEGO))[0] == 200
    await asyncio.gather(front.handoffs.publish_queue(), back.handoffs.publish_queue())
    await asyncio.gather(front.settle(), back.settle())
    assert back.sent_to(ANA_WHATSAPP) == [LEAD, position_text(2), position_text(1)]
    told = [line for line in front.transcript(queue[1]["id"]) if line[0] == "system"]
    assert told == [("system", position_text(1))]


@needs_redis
async def test_events_published_on_one_broker_reach_subscribers_of_another() -> None:
    channel = f"test-events:{uuid.uuid4().hex}"
    one, two = RedisBroker(REDIS, channel), RedisBroker(REDIS, channel)
    await one.start()
    await two.start()
    try:
        async with two.subscribe(AGENTS) as agents, one.subscribe(AGENTS) as own:
            for i in range(50):
                one.publish(AGENTS, "message", {"n": i, "text": "ñandú €"})
            one.publish(conversation_topic("nobody"), "message", {"n": -1})
            received = [await asyncio.wait_for(agents.get(), 5) for _ in range(50)]
            assert received == [("message", {"n": i, "text": "ñandú €"}) for i in range(50)]  # in order
            assert (await asyncio.wait_for(own.get(), 5))[1]["n"] == 0  # the publisher's own subscribers
            assert agents.empty() or (await agents.get())[1]["n"] != -1  # other topics stay out
    finally:
        await one.close()
        await two.close()


async def test_without_redis_events_still_reach_the_replicas_own_subscribers() -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{_closed_port()}/0", "test-events:down")
    await broker.start()  # gives up waiting after its timeout; keeps retrying in the background
    try:
        assert not broker.listening
        async with broker.subscribe(AGENTS) as agents:
            broker.publish(AGENTS, "queue", {"handoffs": []})
            assert await asyncio.wait_for(agents.get(), 5) == ("queue", {"handoffs": []})
    finally:
        await broker.close()


async def test_a_gateway_whose_redis_is_down_still_serves_hand_offs(start_hub: StartHub) -> None:
    hub: Hub = await start_hub(events_url=f"redis://127.0.0.1:{_closed_port()}/0")
    console = await hub.agent_events()
    assert (await console.next())[0] == "queue"
    cookie, _ = await hub.new_customer()
    status, answer, _ = await hub.chat(TRIGGER, cookie)
    assert status == 200 and answer[-2]["text"] == position_text(1)
    found: list[tuple[str, dict[str, Any]]] = await console.until(
        lambda name, data: name == "queue" and bool(data["handoffs"])
    )
    assert found[-1][1]["handoffs"][0]["position"] == 1
