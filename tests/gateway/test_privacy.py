"""Card data typed by a user never reaches the engine, the store, the logs or Twilio; the user is warned."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ANA_PHONE,
    FakeEngine,
    Gateway,
    card_notice,
    every_stored_value,
    inbound,
    incoming,
)

CARD = "4111 1111 1111 1111"
CVV = "123"
MESSAGES = [
    f"mi tarjeta es {CARD} cvv {CVV}",
    f"Mi tarjeta es {CARD.replace(' ', '')} y el código de seguridad es {CVV}",
    f"pago con la visa {CARD.replace(' ', '-')} 12/27 {CVV}",
]
# Any of these in a text means card digits leaked (the last four, "1111", may appear: they are the mask).
_LEAKS = [
    re.compile(r"4\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1"),  # the first six digits, however separated
    re.compile(r"1(?:\D{0,3}1){7}"),  # eight of its ones: more than the mask's four
    re.compile(r"(?:cvv|seguridad es|12/27)\W{0,3}" + CVV, re.IGNORECASE),
]


def leaks(text: str) -> list[str]:
    """What looks like card data in `text`."""
    return [m.group() for pattern in _LEAKS for m in pattern.finditer(text)]


def assert_clean(texts: list[str], *, cvv_anywhere: bool = False) -> None:
    """No card number (nor, with cvv_anywhere, the code alone) in any of `texts`."""
    found = [(t[:80], leak) for t in texts for leak in leaks(t)]
    assert found == []
    if cvv_anywhere:
        assert [t for t in texts if CVV in t] == []


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (SQL statements and their parameters included)."""
    caplog.set_level(logging.DEBUG)
    for name in ("bot", "aiohttp", "twilio", "sqlalchemy", "sqlalchemy.engine", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


def stored_message_texts(gateway: Gateway) -> list[str]:
    """The text, metadata and replies of every stored inbound message."""
    return [
        str(value)
        for row in inbound(gateway.settings.database_url)
        for value in (row.text, row.meta, row.replies)
        if value is not None
    ]


def engine_texts(engine: FakeEngine) -> list[str]:
    return [str(payload["message"]) for payload in engine.received] + [str(p) for p in engine.received]


def test_the_leak_detector_sees_what_it_must() -> None:
    for message in MESSAGES:
        assert leaks(message), message
    assert leaks("mi tarjeta es [tarjeta terminada en 1111] cvv [CVV oculto]") == []


# --- webchat --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("message", MESSAGES)
async def test_card_data_on_the_webchat_is_masked_everywhere(
    gateway: Gateway, engine: FakeEngine, all_logs: pytest.LogCaptureFixture, message: str
) -> None:
    response = await gateway.chat({"message": message, "id": "card-1"})
    assert response.status == 200
    replies: list[dict[str, Any]] = await response.json()

    [payload] = engine.received
    assert "[tarjeta terminada en 1111]" in payload["message"]
    assert_clean(engine_texts(engine), cvv_anywhere=True)
    assert_clean(stored_message_texts(gateway), cvv_anywhere=True)
    assert_clean(every_stored_value(gateway.settings.database_url))
    assert_clean([str(replies)])
    assert len(all_logs.records) > 0
    assert_clean(logged(all_logs))

    notice = card_notice()
    assert "no compartas" in notice
    assert replies[0]["text"] == notice
    assert [r.get("text") for r in replies].count(notice) == 1


async def test_card_data_sent_while_the_engine_is_down_is_stored_masked(
    gateway: Gateway, engine: FakeEngine, all_logs: pytest.LogCaptureFixture
) -> None:
    engine.mode = "down"
    response = await gateway.chat({"message": MESSAGES[0], "id": "card-2"})
    assert response.status == 503
    cookie = response.cookies["zcc_conversation"].value
    engine.mode = "ok"
    assert await gateway.pipeline.retry_pending() == 1
    again = await gateway.chat({"message": MESSAGES[0], "id": "card-2"}, cookie=cookie)
    assert again.status == 200
    replies = await again.json()
    assert replies[0]["text"] == card_notice()
    assert_clean(engine_texts(engine), cvv_anywhere=True)
    assert_clean(stored_message_texts(gateway), cvv_anywhere=True)
    assert_clean(logged(all_logs))


async def test_the_notice_is_not_repeated_when_the_engine_gives_it_too(
    gateway: Gateway, engine: FakeEngine
) -> None:
    notice = card_notice()
    engine.answer = lambda payload: [{"text": notice}, {"text": "¿Algo más?"}]
    replies = await (await gateway.chat({"message": MESSAGES[0]})).json()
    assert [r["text"] for r in replies] == [notice, "¿Algo más?"]


async def test_a_message_without_card_data_gets_no_notice(gateway: Gateway, engine: FakeEngine) -> None:
    replies = await (await gateway.chat({"message": "mi factura 2024-0001 por 1500 pesos"})).json()
    assert "no compartas" not in str(replies)
    assert engine.messages == ["mi factura 2024-0001 por 1500 pesos"]


# --- WhatsApp -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("message", MESSAGES)
async def test_card_data_on_whatsapp_is_masked_everywhere(
    gateway: Gateway,
    engine: FakeEngine,
    twilio: FakeTwilio,
    all_logs: pytest.LogCaptureFixture,
    message: str,
) -> None:
    response = await gateway.webhook(incoming(message))
    assert response.status == 200
    await gateway.settle()

    [payload] = engine.received
    assert payload["sender"] == f"wa:{ANA_PHONE}"
    assert "[tarjeta terminada en 1111]" in payload["message"]
    assert_clean(engine_texts(engine), cvv_anywhere=True)
    assert_clean(stored_message_texts(gateway), cvv_anywhere=True)
    assert_clean(every_stored_value(gateway.settings.database_url))
    assert_clean(twilio.bodies, cvv_anywhere=True)
    assert len(all_logs.records) > 0
    assert_clean(logged(all_logs))

    notice = card_notice()
    assert twilio.bodies[0].startswith("Por tu seguridad, no compartas")
    assert notice.startswith(twilio.bodies[0])
    assert twilio.bodies[-1].startswith("eco: ")


async def test_card_data_on_whatsapp_while_the_engine_is_down_is_stored_masked(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, all_logs: pytest.LogCaptureFixture
) -> None:
    engine.mode = "down"
    await gateway.webhook(incoming(MESSAGES[0]))
    await gateway.settle()
    engine.mode = "ok"
    assert await gateway.pipeline.retry_pending() == 1
    assert "no compartas" in twilio.bodies[1]
    assert_clean(engine_texts(engine), cvv_anywhere=True)
    assert_clean(stored_message_texts(gateway), cvv_anywhere=True)
    assert_clean(every_stored_value(gateway.settings.database_url))
    assert_clean(twilio.bodies, cvv_anywhere=True)
    assert_clean(logged(all_logs))
