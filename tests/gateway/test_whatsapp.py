"""Twilio's WhatsApp webhooks against a fake engine, a fake Twilio REST API and a real SQLite store."""

from __future__ import annotations

import asyncio

import pytest

from bot.answers.notices import APOLOGY, EMPTY, LOCATION, MEDIA_ONLY
from bot.answers.notices import RATE_LIMITED as RATE_LIMIT_MESSAGE
from bot.gateway.outbox import backoff
from bot.gateway.render import WHATSAPP_LIMIT
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ACCOUNT_SID,
    ANA_PHONE,
    AUTH_TOKEN,
    PUBLIC_URL,
    STATUS_PATH,
    UNKNOWN_PHONE,
    UNVERIFIED_PHONE,
    WHATSAPP_FROM,
    WHATSAPP_PATH,
    FakeEngine,
    Gateway,
    StartGateway,
    inbound,
    incoming,
    rows,
    sign,
)

IDENTITY_1 = {"identity": {"user_id": 1, "account_id": 1}}


def status_params(sid: str, status: str, **extra: str) -> dict[str, str]:
    """A delivery status callback as Twilio posts it."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": WHATSAPP_FROM,
        "To": f"whatsapp:{ANA_PHONE}",
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
        **extra,
    }


# --- a message and its answer ---------------------------------------------------------------------------
async def test_a_signed_message_is_acknowledged_at_once_and_answered_through_the_api(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    engine.delays = {"hola": 0.3}  # the engine is still thinking when Twilio gets its acknowledgement
    response = await gateway.webhook(incoming("hola"))
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert (await response.text()).endswith("<Response></Response>")
    assert twilio.sent == []

    await gateway.settle()
    assert engine.received == [{"sender": f"wa:{ANA_PHONE}", "message": "hola", "metadata": IDENTITY_1}]
    assert twilio.sent == [
        {
            "To": f"whatsapp:{ANA_PHONE}",
            "From": WHATSAPP_FROM,
            "Body": "eco: hola",
            "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/status",
            "AccountSid": ACCOUNT_SID,
        }
    ]
    [auth] = twilio.auth
    assert auth is not None and (auth.login, auth.password) == (ACCOUNT_SID, AUTH_TOKEN)
    [stored] = inbound(gateway.settings.database_url)
    assert (stored.channel, stored.sender_id, stored.reply_to) == (
        "whatsapp",
        f"wa:{ANA_PHONE}",
        f"whatsapp:{ANA_PHONE}",
    )
    assert stored.status == "answered"
    assert stored.replies == [{"recipient_id": f"wa:{ANA_PHONE}", "text": "eco: hola"}]


@pytest.mark.parametrize("phone", [UNVERIFIED_PHONE, UNKNOWN_PHONE])
async def test_a_phone_that_is_not_verified_carries_no_identity(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, phone: str
) -> None:
    response = await gateway.webhook(incoming("mis facturas", phone=phone))
    assert response.status == 200
    await gateway.settle()
    assert engine.received == [{"sender": f"wa:{phone}", "message": "mis facturas", "metadata": {}}]
    assert [m["To"] for m in twilio.sent] == [f"whatsapp:{phone}"]


async def test_identity_fields_in_the_form_are_ignored(gateway: Gateway, engine: FakeEngine) -> None:
    params = incoming("hola", phone=UNKNOWN_PHONE, user_id="1", account_id="1", metadata='{"identity": 1}')
    assert (await gateway.webhook(params)).status == 200
    await gateway.settle()
    assert engine.received[0]["metadata"] == {}


# --- signatures -----------------------------------------------------------------------------------------
def _forged(params: dict[str, str], gateway: Gateway, how: str) -> tuple[dict[str, str], str | None]:
    """Params and the signature header of a forged request."""
    if how == "wrong_token":
        return params, sign(WHATSAPP_PATH, params, token="not-our-auth-token")
    if how == "tampered_body":  # signed, then the body was changed
        return {**params, "Body": "otro texto"}, sign(WHATSAPP_PATH, params)
    if how == "other_sender":
        return {**params, "From": f"whatsapp:{ANA_PHONE}"}, sign(
            WHATSAPP_PATH, {**params, "From": f"whatsapp:{UNKNOWN_PHONE}"}
        )
    if how == "request_url":  # what a validator trusting the request's own URL would accept
        return params, sign(WHATSAPP_PATH, params, base=str(gateway.client.make_url("")).rstrip("/"))
    if how == "other_path":
        return params, sign(STATUS_PATH, params)
    if how == "garbage":
        return params, "bm90IGEgc2lnbmF0dXJl"
    assert how == "missing"
    return params, None


@pytest.mark.parametrize(
    "how", ["wrong_token", "tampered_body", "other_sender", "request_url", "other_path", "garbage", "missing"]
)
async def test_a_forged_message_is_refused_and_leaves_no_trace(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, how: str
) -> None:
    params, signature = _forged(incoming("hola", phone=UNKNOWN_PHONE), gateway, how)
    response = await gateway.webhook(params, signature=signature)
    assert response.status == 403
    await gateway.settle()
    assert engine.received == []
    assert twilio.sent == []
    assert inbound(gateway.settings.database_url) == []


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({**incoming("hola"), "MessageSid": ""}, id="no_sid"),
        pytest.param({**incoming("hola"), "MessageSid": "SM123"}, id="bad_sid"),
        pytest.param({**incoming("hola"), "From": "+5215510000001"}, id="not_whatsapp"),
        pytest.param({**incoming("hola"), "From": "whatsapp:ana"}, id="not_a_number"),
    ],
)
async def test_a_signed_message_without_a_valid_sid_or_sender_is_a_400(
    gateway: Gateway, engine: FakeEngine, params: dict[str, str]
) -> None:
    response = await gateway.webhook(params)
    assert response.status == 400
    assert engine.received == []
    assert inbound(gateway.settings.database_url) == []


async def test_a_replayed_message_is_answered_once(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    params = incoming("hola")
    first = await gateway.webhook(params)
    await gateway.settle()
    replay = await gateway.webhook(params)
    await gateway.settle()
    assert (first.status, replay.status) == (200, 200)
    assert (await replay.text()).endswith("<Response></Response>")
    assert len(engine.received) == 1
    assert twilio.bodies == ["eco: hola"]
    assert len(inbound(gateway.settings.database_url)) == 1


async def test_a_replay_while_the_first_is_being_answered_is_ignored(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    engine.delays = {"hola": 0.2}
    params = incoming("hola")
    responses = await asyncio.gather(gateway.webhook(params), gateway.webhook(params))
    await gateway.settle()
    assert [r.status for r in responses] == [200, 200]
    assert len(engine.received) == 1
    assert twilio.bodies == ["eco: hola"]


# --- order, length, options -----------------------------------------------------------------------------
async def test_a_senders_messages_are_answered_in_the_order_they_were_posted(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    texts = [f"mensaje {n}" for n in range(1, 6)]
    engine.delays = {"mensaje 1": 0.3}  # the first takes longest: nothing may overtake it
    messages = [incoming(text) for text in texts]
    responses = await asyncio.gather(*(gateway.webhook(m) for m in messages))
    assert [r.status for r in responses] == [200] * 5
    await gateway.settle()
    assert engine.messages == texts
    assert engine.max_active == 1  # one message of a sender at a time
    assert twilio.bodies == [f"eco: {text}" for text in texts]
    assert [m.text for m in inbound(gateway.settings.database_url)] == texts


async def test_different_senders_are_answered_independently(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    engine.delays = {"lento": 0.3}
    await asyncio.gather(
        gateway.webhook(incoming("lento", phone=ANA_PHONE)),
        gateway.webhook(incoming("rápido", phone=UNKNOWN_PHONE)),
    )
    await gateway.settle()
    # The slow sender does not hold the other back.
    assert twilio.bodies == ["eco: rápido", "eco: lento"]


async def test_a_long_answer_is_sent_in_parts_cut_at_line_ends(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    lines = [f"Línea {n:02d}: el plan incluye canales, usuarios y reportes. Más detalles." for n in range(60)]
    long_text = "\n".join(lines)[:4000].rstrip()
    assert 3990 <= len(long_text) <= 4000
    engine.answer = lambda payload: [{"recipient_id": payload["sender"], "text": long_text}]
    await gateway.webhook(incoming("cuéntame todo"))
    await gateway.settle()
    parts = twilio.bodies
    assert len(parts) == 3
    assert all(0 < len(part) <= WHATSAPP_LIMIT for part in parts)
    assert "\n".join(parts) == long_text  # in order, nothing lost, every cut at a line end
    assert {m["To"] for m in twilio.sent} == {f"whatsapp:{ANA_PHONE}"}


async def test_a_long_paragraph_is_cut_at_sentence_ends(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    sentence = "El plan Profesional incluye WhatsApp, correo y SMS para todo tu equipo."
    paragraph = " ".join([sentence] * 56)
    assert len(paragraph) > 4000
    engine.answer = lambda payload: [{"text": paragraph}]
    await gateway.webhook(incoming("detalles"))
    await gateway.settle()
    assert len(twilio.bodies) == 3
    for part in twilio.bodies:
        assert len(part) <= WHATSAPP_LIMIT
        assert part.startswith("El plan") and part.endswith("equipo.")
    assert " ".join(twilio.bodies) == paragraph


async def test_buttons_become_options_to_tap_and_a_typed_number_reaches_the_dialogue(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    engine.mode = "buttons"
    await gateway.webhook(incoming("quiero un plan"))
    await gateway.settle()
    # One message with its options as quick replies; the table (a custom message) has no place on WhatsApp.
    [sent] = twilio.messages()
    assert sent.content is not None and sent.body == "¿Qué plan te interesa?"
    assert [a["title"] for a in sent.content["actions"]] == ["Básico", "Profesional", "Enterprise"]
    # The numbered text is kept as the fallback (sent if Twilio refused the rich message).
    [row] = rows(gateway.settings.database_url, "outbound_messages")
    assert row["body"] == (
        "¿Qué plan te interesa?\n1. Básico\n2. Profesional\n3. Enterprise\n"
        "Responde con el número de la opción."
    )

    # The dialogue resolves a typed choice on every channel (tests/test_repair.py): the gateway passes it on.
    engine.mode = "ok"
    await gateway.webhook(incoming(" 2. "))
    await gateway.settle()
    assert engine.messages == ["quiero un plan", "2."]
    assert engine.received[1]["metadata"] == IDENTITY_1
    assert inbound(gateway.settings.database_url)[1].text == "2."


async def test_a_number_out_of_range_or_without_options_is_sent_as_typed(
    gateway: Gateway, engine: FakeEngine
) -> None:
    await gateway.webhook(incoming("2", phone=UNKNOWN_PHONE))  # no options offered to this sender
    await gateway.settle()  # two senders' answers may run in any order: one at a time here
    engine.mode = "buttons"
    await gateway.webhook(incoming("planes"))
    await gateway.settle()
    engine.mode = "ok"
    await gateway.webhook(incoming("4"))
    await gateway.settle()
    assert engine.messages == ["2", "planes", "4"]


# --- messages the engine never sees ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "reply"),
    [
        pytest.param(
            {
                "Body": "",
                "NumMedia": "1",
                "MediaUrl0": "https://api.twilio.com/m.jpg",
                "MediaContentType0": "image/jpeg",
            },
            MEDIA_ONLY,
            id="media_without_text",
        ),
        pytest.param({"Body": "   "}, EMPTY, id="empty_body"),
        pytest.param({"Body": "", "NumMedia": "not-a-number"}, EMPTY, id="bad_media_count"),
        pytest.param({"Body": "", "Latitude": "19.4326", "Longitude": "-99.1332"}, LOCATION, id="location"),
    ],
)
async def test_messages_without_text_get_a_canned_reply_without_the_engine(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, extra: dict[str, str], reply: str
) -> None:
    response = await gateway.webhook({**incoming(), **extra})
    assert response.status == 200
    await gateway.settle()
    assert engine.received == []
    assert twilio.bodies == [reply]
    [stored] = inbound(gateway.settings.database_url)
    assert stored.status == "answered"


async def test_a_caption_with_media_goes_to_the_engine(gateway: Gateway, engine: FakeEngine) -> None:
    await gateway.webhook({**incoming("¿esta factura?"), "NumMedia": "1", "MediaUrl0": "https://x/m.jpg"})
    await gateway.settle()
    assert engine.messages == ["¿esta factura?"]


async def test_a_message_over_the_limit_is_answered_without_the_engine(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    limit = gateway.settings.max_message_chars
    await gateway.webhook(incoming("a" * (limit + 1)))
    await gateway.settle()
    assert engine.received == []
    [reply] = twilio.bodies
    assert "demasiado largo" in reply and str(limit) in reply


async def test_a_flooding_sender_is_told_to_slow_down_once(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    gateway = await start_gateway(rate_limit_burst=2, rate_limit_per_second=0.001)
    for n in range(5):
        assert (await gateway.webhook(incoming(f"m{n}"))).status == 200
    await gateway.settle()
    assert engine.messages == ["m0", "m1"]
    assert twilio.bodies == ["eco: m0", "eco: m1", RATE_LIMIT_MESSAGE]


# --- the engine is down ---------------------------------------------------------------------------------
@pytest.mark.parametrize("failure", ["down", "slow"])
async def test_while_the_engine_is_down_the_user_gets_one_apology_and_later_the_answer(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, failure: str
) -> None:
    engine.mode = failure
    assert (await gateway.webhook(incoming("hola"))).status == 200
    await gateway.settle()
    assert twilio.bodies == [APOLOGY]
    assert await gateway.pipeline.retry_pending() == 0  # still down: no second apology
    assert twilio.bodies == [APOLOGY]
    [stored] = inbound(gateway.settings.database_url)
    assert (stored.status, stored.attempts) == ("pending", 2)

    engine.mode = "ok"
    tried = len(engine.received)
    assert await gateway.pipeline.retry_pending() == 1
    assert len(engine.received) == tried + 1
    assert engine.received[-1] == {"sender": f"wa:{ANA_PHONE}", "message": "hola", "metadata": IDENTITY_1}
    assert twilio.bodies == [APOLOGY, "eco: hola"]
    assert await gateway.pipeline.retry_pending() == 0
    assert twilio.bodies == [APOLOGY, "eco: hola"]
    assert inbound(gateway.settings.database_url)[0].status == "answered"


# --- Twilio fails ---------------------------------------------------------------------------------------
async def test_a_twilio_failure_keeps_the_message_and_the_webhook_succeeds(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    twilio.fail()
    response = await gateway.webhook(incoming("hola"))
    assert response.status == 200
    await gateway.settle()
    assert twilio.sent == []
    # The engine's answer is kept in the outbox; the message itself is answered and not asked again.
    assert inbound(gateway.settings.database_url)[0].status == "answered"
    [queued] = rows(gateway.settings.database_url, "outbound_messages")
    assert (queued["status"], queued["body"], queued["attempts"]) == (
        "pending",
        "eco: hola",
        len(twilio.refused()),
    )
    asked = len(engine.received)
    assert await gateway.pipeline.retry_pending() == 0

    twilio.recover()
    await asyncio.sleep(backoff(queued["attempts"]) + 0.1)  # the retry waits for its backoff
    await gateway.settle()
    assert twilio.bodies == ["eco: hola"]
    assert len(engine.received) == asked
    [delivered] = rows(gateway.settings.database_url, "outbound_messages")
    assert delivered["status"] == "sent"
    await gateway.settle()
    assert twilio.bodies == ["eco: hola"]  # never sent twice


async def test_outbound_texts_to_one_recipient_keep_their_order_across_a_failure(
    gateway: Gateway, twilio: FakeTwilio
) -> None:
    outbox = gateway.pipeline.outbox
    twilio.fail()
    for text in ("uno", "dos", "tres"):
        await outbox.send("whatsapp", "whatsapp:+5215599990000", [text])
    assert twilio.sent == []
    twilio.recover()
    await asyncio.sleep(backoff(1) + 0.1)
    await gateway.settle()
    assert twilio.bodies == ["uno", "dos", "tres"]


# --- delivery status callbacks --------------------------------------------------------------------------
async def test_a_signed_status_callback_is_stored(gateway: Gateway) -> None:
    sid = "SM" + "ab" * 16
    response = await gateway.webhook(status_params(sid, "sent"), path=STATUS_PATH)
    assert response.status == 204
    failed = status_params(sid, "undelivered", ErrorCode="63016")
    assert (await gateway.webhook(failed, path=STATUS_PATH)).status == 204
    [row] = rows(gateway.settings.database_url, "delivery_statuses")
    assert (row["message_sid"], row["status"], row["error_code"]) == (sid, "undelivered", "63016")


@pytest.mark.parametrize("how", ["wrong_token", "request_url", "other_path", "missing"])
async def test_a_forged_status_callback_is_refused(gateway: Gateway, how: str) -> None:
    params = status_params("SM" + "cd" * 16, "delivered")
    signature = {
        "wrong_token": sign(STATUS_PATH, params, token="not-our-auth-token"),
        "request_url": sign(STATUS_PATH, params, base=str(gateway.client.make_url("")).rstrip("/")),
        "other_path": sign(WHATSAPP_PATH, params),
        "missing": None,
    }[how]
    response = await gateway.webhook(params, path=STATUS_PATH, signature=signature)
    assert response.status == 403
    assert rows(gateway.settings.database_url, "delivery_statuses") == []


async def test_a_status_callback_without_sid_or_status_is_a_400(gateway: Gateway) -> None:
    for params in ({"MessageStatus": "sent"}, {"MessageSid": "SM" + "ef" * 16}):
        assert (await gateway.webhook(params, path=STATUS_PATH)).status == 400
    assert rows(gateway.settings.database_url, "delivery_statuses") == []


# --- WhatsApp disabled ----------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["twilio_account_sid", "twilio_auth_token", "twilio_whatsapp_from"])
async def test_without_twilio_credentials_the_webhooks_do_not_exist(
    start_gateway: StartGateway, engine: FakeEngine, missing: str
) -> None:
    gateway = await start_gateway(**{missing: None})
    assert not gateway.settings.twilio_enabled
    for path in (WHATSAPP_PATH, STATUS_PATH):
        response = await gateway.webhook(incoming("hola"), path=path)
        assert response.status in (404, 405)
    assert engine.received == []
    assert inbound(gateway.settings.database_url) == []
    # The rest of the gateway works.
    assert (await gateway.client.get("/")).status == 200
    assert (await gateway.chat({"message": "hola"})).status == 200
