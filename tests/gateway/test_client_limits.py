"""Rate limits per client, not only per conversation: a client dropping its cookie (a new conversation on
every request) is still one client; several replicas count together through Redis."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import pytest
from aiohttp.test_utils import make_mocked_request
from limits.aio.storage import MemoryStorage

from bot.answers import notices
from bot.gateway.channels.webchat import client_address
from bot.gateway.limits import ClientLimits, window
from bot.settings import Settings
from tests.gateway.conftest import FakeEngine, Gateway, StartGateway, token_settings

CONNECTION = "the connection's own address"
REDIS = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/2")


def _redis_running() -> bool:
    host, _, port = REDIS.removeprefix("redis://").split("/")[0].partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=0.5):
            return True
    except OSError:
        return False


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_a_burst_then_the_rate() -> None:
    item = window(1.0, 8)
    assert (item.amount, item.get_expiry()) == (8, 8)
    assert window(0.5, 3).get_expiry() == 6


async def test_every_key_of_a_message_is_counted() -> None:
    limits = ClientLimits(_settings(rate_limit_burst=3, rate_limit_per_second=0.01), MemoryStorage())
    results = [await limits.allow(f"web:a:{n}", "ip:203.0.113.7") for n in range(5)]
    assert results == [True, True, True, False, False]  # five conversations, one client
    assert await limits.allow("web:a:other", "ip:198.51.100.2")  # another client is not affected


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "203.0.113.7", CONNECTION),  # no trusted proxy: the header is the client's word, ignored
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "10.9.9.9, 203.0.113.7", "203.0.113.7"),  # a forged entry left of the proxy's is ignored
        (2, "203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", CONNECTION),  # fewer entries than trusted hops: the connection's address
    ],
)
def test_the_client_address_behind_trusted_proxies(hops: int, forwarded: str, expected: str) -> None:
    request = make_mocked_request("POST", "/api/chat", headers={"X-Forwarded-For": forwarded})
    settings = token_settings(trusted_proxy_hops=hops)
    connection = request.remote or "unknown"
    assert client_address(request, settings) == (connection if expected == CONNECTION else expected)


async def parallel_without_cookies(gateway: Gateway, count: int, forwarded: str | None = None) -> list[int]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else None
    responses = await asyncio.gather(
        *(gateway.chat({"message": f"hola {n}"}, headers=headers) for n in range(count))
    )
    for response in responses:
        if response.status == 429:
            body = await response.json()
            assert body == {"error": "rate_limited", "message": notices.RATE_LIMITED}
    return sorted(r.status for r in responses)


async def test_a_client_without_cookies_is_one_client(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(rate_limit_burst=8, rate_limit_per_second=0.01)
    statuses = await parallel_without_cookies(gateway, 12)
    assert statuses == [200] * 8 + [429] * 4
    assert len(engine.received) == 8  # the refused ones never reached the engine


async def test_clients_behind_a_trusted_proxy_are_told_apart(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(rate_limit_burst=3, rate_limit_per_second=0.01, trusted_proxy_hops=1)
    assert await parallel_without_cookies(gateway, 4, "203.0.113.7") == [200] * 3 + [429]
    assert await parallel_without_cookies(gateway, 3, "198.51.100.2") == [200] * 3


@pytest.mark.skipif(not _redis_running(), reason=f"Redis is not running at {REDIS}")
async def test_one_client_across_two_replicas_is_limited_once(start_gateway: StartGateway) -> None:
    shared = {
        "rate_limit_url": REDIS,
        "rate_limit_burst": 6,
        "rate_limit_per_second": 0.01,
        "trusted_proxy_hops": 1,
    }
    first, second = await start_gateway(**shared), await start_gateway(**shared)
    client = f"203.0.113.{uuid.uuid4().int % 200 + 1}"  # a fresh client: Redis outlives test runs
    first_statuses, second_statuses = await asyncio.gather(
        parallel_without_cookies_as(first, 5, client), parallel_without_cookies_as(second, 5, client)
    )
    assert sorted(first_statuses + second_statuses) == [200] * 6 + [429] * 4


async def parallel_without_cookies_as(gateway: Gateway, count: int, client: str) -> list[int]:
    """From one address, as a load balancer (one trusted hop) reports it."""
    return await parallel_without_cookies(gateway, count, client)
