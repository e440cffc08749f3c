"""The satisfaction question after a hand-off, through the real gateway (fake engine and Twilio, real
SQLite store): asked once when the agent resolves, as buttons on the webchat and a list to tap on WhatsApp;
the rating and an optional comment kept on the hand-off; never a trap — a question goes to the assistant,
the survey lapses, and a number typed later is the assistant's again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from bot.answers import csat
from bot.gateway.csat import BUTTONS
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Contact, Handoff
from tests.gateway import test_handoff as handoff_tests
from tests.gateway.conftest import ANA_PHONE, WHATSAPP_PATH, incoming, sign
from tests.gateway.test_handoff import (
    ANA_WHATSAPP,
    TRIGGER,
    Hub,
    StartHub,
    message_event,
    sender_of,
)

# The fixtures of test_handoff.py, shared.
start_hub = handoff_tests.start_hub
hub = handoff_tests.hub


async def resolved_webchat(hub: Hub) -> tuple[str, str, int]:
    """A webchat customer handed off, taken and resolved: (cookie, sender, hand-off id)."""
    status, _, cookie = await hub.chat(TRIGGER)
    assert status == 200 and cookie is not None
    sender = sender_of(cookie, hub.settings)
    [row] = hub.handoff_rows(sender)
    assert (await hub.take(row["id"]))[0] == 200
    assert (await hub.resolve(row["id"]))[0] == 200
    return cookie, sender, row["id"]


async def resolved_whatsapp(hub: Hub) -> tuple[str, int]:
    """Ana handed off on WhatsApp, taken and resolved: (sender, hand-off id)."""
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    [row] = [r for r in hub.handoff_rows() if r["channel"] == "whatsapp" and r["status"] == "queued"]
    assert (await hub.take(row["id"]))[0] == 200
    assert (await hub.resolve(row["id"]))[0] == 200
    await hub.settle()
    return row["sender_id"], row["id"]


def survey(hub: Hub, handoff_id: int) -> tuple[Any, ...]:
    [row] = [r for r in hub.handoff_rows() if r["id"] == handoff_id]
    return (
        row["csat_asked_at"] is not None,
        row["csat_rating"],
        row["csat_comment"],
        row["csat_rated_at"] is not None,
    )


def change(hub: Hub, statement: Any) -> None:
    store = make_engine(hub.database_url)
    try:
        with make_sessionmaker(store).begin() as session:
            session.execute(statement)
    finally:
        store.dispose()


async def tap(hub: Hub, list_id: str, title: str) -> None:
    """Ana taps an item of a WhatsApp list."""
    params = incoming(title, ANA_PHONE, ListId=list_id, ListTitle=title)
    response = await hub.client.post(
        WHATSAPP_PATH, data=params, headers={"X-Twilio-Signature": sign(WHATSAPP_PATH, params)}
    )
    assert response.status == 200


# --- webchat ------------------------------------------------------------------------------------------
async def test_webchat_asks_once_with_buttons_and_keeps_the_rating_and_a_comment(hub: Hub) -> None:
    status, _, cookie = await hub.chat(TRIGGER)
    assert status == 200
    assert cookie is not None
    sender = sender_of(cookie, hub.settings)
    [row] = hub.handoff_rows(sender)
    stream = await hub.customer_events(cookie)
    await hub.subscribed(sender)
    await hub.take(row["id"])
    assert survey(hub, row["id"]) == (False, None, None, False)
    await hub.resolve(row["id"])
    events = await stream.until(message_event("system", "calificarías"))
    question = events[-1][1]
    assert question["text"] == csat.QUESTION
    assert question["buttons"] == BUTTONS and [b["payload"] for b in BUTTONS] == ["1", "2", "3", "4", "5"]
    assert survey(hub, row["id"])[:2] == (True, None)
    asked = len(hub.engine.received)

    # A tap sends the payload: the gateway keeps it, the assistant never hears it.
    assert await hub.chat("4", cookie) == (200, [{"text": csat.THANKS}], cookie)
    assert survey(hub, row["id"]) == (True, 4, None, True)
    # The next message, not a question, is the optional comment.
    assert await hub.chat("la agente fue muy amable", cookie) == (
        200,
        [{"text": csat.COMMENT_THANKS}],
        cookie,
    )
    assert survey(hub, row["id"]) == (True, 4, "la agente fue muy amable", True)
    assert len(hub.engine.received) == asked
    # Not an answer to the assistant: no intent, no verdict of understanding for those turns.
    last_two = hub.inbound_rows(sender)[-2:]
    assert [(r["intent"], r["understood"]) for r in last_two] == [(None, None), (None, None)]

    # A rating is recorded once: a number now is the assistant's again.
    _, answer, _ = await hub.chat("2", cookie)
    assert answer == [{"recipient_id": sender, "text": "eco: 2"}]
    assert survey(hub, row["id"]) == (True, 4, "la agente fue muy amable", True)


async def test_a_question_instead_of_a_rating_goes_to_the_assistant_and_ends_the_survey(hub: Hub) -> None:
    cookie, sender, handoff_id = await resolved_webchat(hub)
    _, answer, _ = await hub.chat("¿cuánto cuesta el plan expert?", cookie)
    assert answer == [{"recipient_id": sender, "text": "eco: ¿cuánto cuesta el plan expert?"}]
    # The number that follows picks whatever the assistant offered: never taken for a late rating.
    _, answer, _ = await hub.chat("3", cookie)
    assert answer == [{"recipient_id": sender, "text": "eco: 3"}]
    assert survey(hub, handoff_id) == (True, None, None, False)


async def test_a_question_after_the_rating_is_never_swallowed_as_a_comment(hub: Hub) -> None:
    cookie, sender, handoff_id = await resolved_webchat(hub)
    assert (await hub.chat("5 estrellas", cookie))[1] == [{"text": csat.THANKS}]
    for message in ("como agrego una tarjeta", "gracias"):
        _, answer, _ = await hub.chat(message, cookie)
        assert answer == [{"recipient_id": sender, "text": f"eco: {message}"}]
    assert survey(hub, handoff_id) == (True, 5, None, True)


async def test_a_rating_with_a_comment_or_with_a_question_in_one_message(hub: Hub) -> None:
    cookie, _, first = await resolved_webchat(hub)
    assert (await hub.chat("2, tardaron mucho en contestar", cookie))[1] == [
        {"text": csat.THANKS_WITH_COMMENT}
    ]
    assert survey(hub, first) == (True, 2, "tardaron mucho en contestar", True)

    cookie, sender, second = await resolved_webchat(hub)
    _, answer, _ = await hub.chat("4, ¿y cómo pago mi factura?", cookie)
    # The rating counts; the question is answered by the assistant.
    assert answer == [{"recipient_id": sender, "text": "eco: 4, ¿y cómo pago mi factura?"}]
    assert survey(hub, second) == (True, 4, None, True)


async def test_the_survey_lapses(hub: Hub) -> None:
    cookie, sender, handoff_id = await resolved_webchat(hub)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    change(hub, update(Handoff).where(Handoff.id == handoff_id).values(csat_asked_at=long_ago))
    _, answer, _ = await hub.chat("5", cookie)
    assert answer == [{"recipient_id": sender, "text": "eco: 5"}]
    assert survey(hub, handoff_id)[1] is None


async def test_a_card_number_in_the_comment_is_kept_redacted(hub: Hub) -> None:
    cookie, _, handoff_id = await resolved_webchat(hub)
    await hub.chat("3", cookie)
    await hub.chat("me pidieron la tarjeta 4929 4205 7395 4518 por aqui", cookie)
    comment = survey(hub, handoff_id)[2]
    assert comment is not None and "4929420573954518" not in comment.replace(" ", "")


# --- WhatsApp -----------------------------------------------------------------------------------------
async def test_whatsapp_asks_with_a_list_to_tap_and_reads_the_tap(hub: Hub) -> None:
    _, handoff_id = await resolved_whatsapp(hub)
    question = hub.twilio.messages(ANA_WHATSAPP)[-1]
    assert question.body == csat.QUESTION
    assert question.content is not None
    items = question.content.get("items") or []
    assert [i["item"] for i in items] == [title for title, _ in csat.OPTIONS]
    await tap(hub, "5", "5 · Excelente")
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP)[-1] == csat.THANKS
    assert survey(hub, handoff_id) == (True, 5, None, True)


async def test_whatsapp_takes_a_typed_number_once_across_replicas(start_hub: StartHub) -> None:
    first: Hub = await start_hub()
    second: Hub = await start_hub()
    _, handoff_id = await resolved_whatsapp(first)
    await second.whatsapp("3")  # the other replica reads the survey from the store
    await second.settle()
    assert survey(first, handoff_id) == (True, 3, None, True)
    await first.whatsapp("1")
    await first.settle()
    assert first.engine.messages()[-1] == "1"  # the assistant's now
    assert survey(first, handoff_id)[1] == 3


async def test_a_customer_who_opted_out_is_not_asked(hub: Hub) -> None:
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    [row] = [r for r in hub.handoff_rows() if r["channel"] == "whatsapp"]
    await hub.take(row["id"])
    # Suppressed between the take and the resolution (e.g. a BAJA handled on another replica).
    moment = datetime.now(UTC)
    change(
        hub,
        update(Contact)
        .where(Contact.channel == "whatsapp", Contact.address == ANA_WHATSAPP)
        .values(opted_out_at=moment),
    )
    before = len(hub.twilio.messages(ANA_WHATSAPP))
    assert (await hub.resolve(row["id"]))[0] == 200
    await hub.settle()
    assert survey(hub, row["id"])[0] is False
    assert all(m.body != csat.QUESTION for m in hub.twilio.messages(ANA_WHATSAPP)[before:])


async def test_a_customer_whose_window_closed_is_not_asked(hub: Hub) -> None:
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    [row] = [r for r in hub.handoff_rows() if r["channel"] == "whatsapp"]
    await hub.take(row["id"])
    # Resolved 25 hours after Ana last wrote: the question would wait for her next message. Not asked.
    long_ago = datetime.now(UTC) - timedelta(hours=25)
    change(
        hub,
        update(Contact)
        .where(Contact.channel == "whatsapp", Contact.address == ANA_WHATSAPP)
        .values(last_inbound_at=long_ago),
    )
    assert (await hub.resolve(row["id"]))[0] == 200
    await hub.settle()
    assert survey(hub, row["id"])[0] is False
