"""Operator metrics: scraped over HTTP from a real gateway (fake engine, fake Twilio) on their own loopback
port and parsed with Prometheus's own parser; the counters move as messages flow on both channels."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.gateway.channels.webchat import COOKIE
from bot.gateway.keys import METRICS_SERVER
from bot.settings import Settings
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import ANA_PHONE, UNKNOWN_PHONE, FakeEngine, Gateway, StartGateway, incoming

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def scrape(gateway: Gateway) -> Samples:
    """GET /metrics on the gateway's metrics port, parsed by prometheus_client's parser."""
    port = gateway.settings.metrics_port
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; a labelled counter nobody touched yet is absent, which reads as 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def metered(start_gateway: StartGateway, **overrides: Any) -> Gateway:
    """A gateway whose metrics listen on a free port (the host left at its default)."""
    return await start_gateway(metrics_port=free_port(), **overrides)


async def test_counters_and_latency_move_when_messages_flow_on_both_channels(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    gateway = await metered(start_gateway)
    before = await scrape(gateway)
    for channel in ("webchat", "whatsapp"):
        assert value(before, "asistente_messages_received_total", channel=channel) == 0
        assert value(before, "asistente_reply_latency_seconds_count", channel=channel) == 0

    first = await gateway.chat({"message": "hola"})
    assert first.status == 200
    engine.answer = lambda p: [
        {"recipient_id": p["sender"], "text": f"uno: {p['message']}"},
        {"recipient_id": p["sender"], "text": "dos"},
    ]
    assert (await gateway.chat({"message": "planes"})).status == 200
    assert (await gateway.webhook(incoming("cuanto cuesta"))).status == 200
    await gateway.settle()
    assert twilio.bodies == ["uno: cuanto cuesta", "dos"]

    after = await scrape(gateway)
    assert value(after, "asistente_messages_received_total", channel="webchat") == 2
    assert value(after, "asistente_messages_received_total", channel="whatsapp") == 1
    # One message answered with one text, one with two: three handed to the webchat in its responses.
    assert value(after, "asistente_messages_sent_total", channel="webchat") == 3
    assert value(after, "asistente_messages_sent_total", channel="whatsapp") == 2
    assert value(after, "asistente_reply_latency_seconds_count", channel="webchat") == 2
    assert value(after, "asistente_reply_latency_seconds_count", channel="whatsapp") == 1
    inf = {"le": "+Inf"}
    assert value(after, "asistente_reply_latency_seconds_bucket", channel="whatsapp", **inf) == 1
    assert 0 < value(after, "asistente_reply_latency_seconds_sum", channel="whatsapp") < 5
    assert value(after, "asistente_engine_errors_total") == 0
    assert value(after, "asistente_outbox_pending") == 0
    assert value(after, "asistente_inbox_pending") == 0


async def test_a_replayed_webhook_is_received_once(start_gateway: StartGateway, twilio: FakeTwilio) -> None:
    gateway = await metered(start_gateway)
    params = incoming("hola")
    assert (await gateway.webhook(params)).status == 200
    assert (await gateway.webhook(params)).status == 200
    await gateway.settle()
    samples = await scrape(gateway)
    assert value(samples, "asistente_messages_received_total", channel="whatsapp") == 1
    assert value(samples, "asistente_messages_sent_total", channel="whatsapp") == len(twilio.bodies) == 1


async def test_rate_limit_refusals_are_counted_per_channel(
    start_gateway: StartGateway, twilio: FakeTwilio
) -> None:
    gateway = await metered(start_gateway, rate_limit_burst=2)
    first = await gateway.chat({"message": "hola"})
    cookie = first.cookies[COOKIE].value
    statuses = [first.status]
    statuses += [(await gateway.chat({"message": f"sigo {i}"}, cookie=cookie)).status for i in range(2)]
    assert statuses == [200, 200, 429]
    for i in range(3):
        await gateway.webhook(incoming(f"mensaje {i}", phone=ANA_PHONE))
    await gateway.settle()

    samples = await scrape(gateway)
    assert value(samples, "asistente_rate_limit_refusals_total", channel="webchat") == 1
    assert value(samples, "asistente_rate_limit_refusals_total", channel="whatsapp") == 1
    # The webchat refuses before storing; WhatsApp stores the message and answers it with the notice.
    assert value(samples, "asistente_messages_received_total", channel="webchat") == 2
    assert value(samples, "asistente_messages_received_total", channel="whatsapp") == 3


async def test_engine_errors_and_the_backlog_they_leave(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await metered(start_gateway)
    engine.mode = "down"
    assert (await gateway.chat({"message": "hola"})).status == 503
    await gateway.webhook(incoming("hola"))
    await gateway.settle()
    down = await scrape(gateway)
    assert value(down, "asistente_engine_errors_total") == 2
    assert value(down, "asistente_inbox_pending") == 2
    assert value(down, "asistente_reply_latency_seconds_count", channel="whatsapp") == 0

    engine.mode = "ok"
    assert await gateway.pipeline.retry_pending() == 2
    await gateway.settle()
    back = await scrape(gateway)
    assert value(back, "asistente_engine_errors_total") == 2
    assert value(back, "asistente_inbox_pending") == 0
    # The kept messages are answered now: their latency counts the outage.
    assert value(back, "asistente_reply_latency_seconds_count", channel="whatsapp") == 1


async def test_action_server_errors_are_counted_when_the_engine_answers_nothing(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    # The action server's address answers nothing (no one listens there).
    gateway = await metered(start_gateway, action_server_url=f"http://127.0.0.1:{free_port()}")
    engine.answer = lambda payload: []
    assert (await gateway.chat({"message": "mis contratos"})).status == 503
    samples = await scrape(gateway)
    assert value(samples, "asistente_action_server_errors_total") == 1
    assert value(samples, "asistente_engine_errors_total") == 0
    assert value(samples, "asistente_inbox_pending") == 1


async def test_store_gauges_are_the_same_on_every_replica_and_counters_are_per_process(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    first, second = await metered(start_gateway), await metered(start_gateway)
    # A hand-off waiting for an agent (asked for by the engine's answer).
    engine.answer = lambda p: [
        {"recipient_id": p["sender"], "text": "Te comunico con una persona."},
        {"recipient_id": p["sender"], "custom": {"type": "handoff", "reason": "requested"}},
    ]
    await first.webhook(incoming("quiero hablar con alguien", phone=ANA_PHONE))
    await first.settle()
    engine.answer = lambda p: [{"recipient_id": p["sender"], "text": "eco"}]
    # A text Twilio refuses (failed), then one that meets an outage (pending, retried later).
    twilio.refuse_next(None)
    await first.webhook(incoming("hola", phone=UNKNOWN_PHONE))
    await first.settle()
    twilio.fail()
    await second.webhook(incoming("hola", phone="+5215577777777"))
    await second.settle()

    scraped = await asyncio.gather(scrape(first), scrape(second))
    for samples in scraped:
        assert value(samples, "asistente_handoff_queue_length") == 1
        assert value(samples, "asistente_handoffs_assigned") == 0
        assert value(samples, "asistente_outbox_failed") == 1
        assert value(samples, "asistente_outbox_pending") == 1
        assert value(samples, "asistente_outbox_oldest_pending_seconds") >= 0
    one, two = scraped
    assert value(one, "asistente_messages_received_total", channel="whatsapp") == 2
    assert value(two, "asistente_messages_received_total", channel="whatsapp") == 1

    twilio.recover()
    # The outboxes' own loops retry it after its backoff; the gauge follows the store.
    for _ in range(100):
        if value(await scrape(second), "asistente_outbox_pending") == 0:
            break
        await asyncio.sleep(0.1)
    assert value(await scrape(first), "asistente_outbox_pending") == 0


async def test_metrics_are_on_loopback_by_default_and_not_on_the_public_port(
    start_gateway: StartGateway,
) -> None:
    defaults = Settings(_env_file=None)
    assert defaults.metrics_host == "127.0.0.1"
    assert defaults.metrics_port not in (0, defaults.gateway_port)

    gateway = await metered(start_gateway)
    server = gateway.app[METRICS_SERVER]
    assert server is not None
    assert server.addresses == [("127.0.0.1", gateway.settings.metrics_port)]
    public = await gateway.client.get("/metrics")
    assert public.status == 404
    assert "asistente_" not in await public.text()
    # From another address of this machine (when it has one) the metrics port does not answer.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, the route picks an address
            own = probe.getsockname()[0]
        except OSError:
            own = "127.0.0.1"
    if not own.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((own, gateway.settings.metrics_port), timeout=2).close()


async def test_metrics_off_with_port_zero(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(metrics_port=0)
    assert gateway.app[METRICS_SERVER] is None
    assert (await gateway.chat({"message": "hola"})).status == 200


async def test_a_taken_metrics_port_does_not_stop_the_gateway(start_gateway: StartGateway) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        gateway = await start_gateway(metrics_port=port)
        server = gateway.app[METRICS_SERVER]
        assert server is not None and server.addresses == []
        assert (await gateway.chat({"message": "hola"})).status == 200
