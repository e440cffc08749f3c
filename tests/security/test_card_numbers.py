"""1,000 generated card numbers typed through both channels: none reaches the engine, the store, a log line or
Twilio; only the last four digits survive, in the mask.

Half the cards go through the webchat (anonymous and signed-in users), half through WhatsApp (signed
webhooks from many numbers, a verified user's among them), in batches of 100 at once. The numbers are 13 to
19 digits, Luhn-valid, grouped as people type them (spaces, dashes, no-break spaces, uneven groups, now and
then Unicode digits), inside Spanish sentences, some with an expiry date and a security code. The seed is
printed, so a failure can be replayed with SECURITY_CARD_SEED.

15 to 45 s on a two-core machine, depending on its load: the store's writes and the DEBUG logging (about
150,000 records, every SQL statement with its parameters and rows) take nearly all of it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import pytest

from bot.gateway import tokens
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ANA_PHONE,
    FakeEngine,
    Gateway,
    StartGateway,
    card_notice,
    incoming,
)
from tests.security.conftest import (
    CardMessage,
    card_leaks,
    card_messages,
    every_text,
    logged,
    luhn_valid,
)

CARDS = 1_000
BATCH = 100  # requests in flight at once
MASK = re.compile(r"\[tarjeta terminada en ([0-9]{4})\]")
T = TypeVar("T")


async def in_batches(work: Iterable[Awaitable[T]]) -> list[T]:
    """Await everything, BATCH at a time."""
    pending, done = list(work), []
    for start in range(0, len(pending), BATCH):
        done += await asyncio.gather(*pending[start : start + BATCH])
    return done


def test_the_generated_cards_are_what_the_guarantee_covers(card_seed: int) -> None:
    messages = card_messages(CARDS, card_seed)
    assert len({m.digits for m in messages}) == CARDS
    assert all(luhn_valid(m.digits) and 13 <= len(m.digits) <= 19 for m in messages)
    assert {len(m.digits) for m in messages} == set(range(13, 20))
    assert any(" " in m.text.split("tarjeta")[-1] for m in messages) and any("-" in m.text for m in messages)
    assert sum(m.cvv_phrase is not None for m in messages) > CARDS // 10
    # The leak detector sees every card as typed (and would see it if nothing masked it).
    assert {digits for digits, _ in card_leaks([m.text for m in messages], messages)} == {
        m.digits for m in messages
    }


async def test_a_thousand_card_numbers_leave_no_trace(
    all_logs: pytest.LogCaptureFixture,  # first: the store's engine is created with statement logging on
    start_gateway: StartGateway,
    engine: FakeEngine,
    twilio: FakeTwilio,
    card_seed: int,
) -> None:
    # No rate limit or engine timeout gets in the way of a thousand messages at once on a busy machine.
    gateway: Gateway = await start_gateway(rate_limit_burst=CARDS, engine_timeout_seconds=30.0)
    messages = card_messages(CARDS, card_seed)
    on_webchat, on_whatsapp = messages[0::2], messages[1::2]

    async def webchat(i: int, message: CardMessage) -> list[dict[str, Any]]:
        token = None
        if i % 4 == 0:  # a signed-in user (each its own, as many customers would be)
            token = tokens.mint(10_000 + i, 1, "admin", None, gateway.settings, 10)
        response = await gateway.chat({"message": message.text, "id": f"card-{i}"}, token=token)
        assert response.status == 200, await response.text()
        return list(await response.json())

    async def whatsapp(i: int, message: CardMessage) -> int:
        phone = ANA_PHONE if i % 25 == 0 else f"+1555{i:07d}"  # a verified user's number among them
        response = await gateway.webhook(incoming(message.text, phone))
        return response.status

    replies = await in_batches(webchat(i, m) for i, m in enumerate(on_webchat))
    statuses = await in_batches(whatsapp(i, m) for i, m in enumerate(on_whatsapp))
    await gateway.settle()
    assert statuses == [200] * len(on_whatsapp)

    # Every message reached the engine with its card masked exactly once (none missed, none cut in two),
    # and every user was warned not to share card data.
    assert len(engine.received) == CARDS
    masked = Counter(m for p in engine.received for m in MASK.findall(p["message"]))
    assert masked == Counter(m.digits[-4:] for m in messages)
    notice = card_notice()
    assert all(reply[0]["text"] == notice for reply in replies)
    assert sum(notice.startswith(body) for body in twilio.bodies) == len(on_whatsapp)

    places = {
        "engine": [json.dumps(p, ensure_ascii=False) for p in engine.received],
        "webchat replies": [json.dumps(r, ensure_ascii=False) for r in replies],
        "store": every_text(gateway.settings.database_url),
        "logs": logged(all_logs),
        "twilio": [json.dumps(m, ensure_ascii=False) for m in twilio.sent],
    }
    assert len(places["logs"]) > CARDS  # the logs were really captured (SQL statements included)
    for place, texts in places.items():
        leaks = card_leaks(texts, messages)
        assert leaks == [], f"{len(leaks)} card numbers or codes in the {place}, e.g. {leaks[:3]}"
