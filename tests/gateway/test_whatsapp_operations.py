"""WhatsApp as operators run it, through the real gateway (fake engine and Twilio, real SQLite store):
opting out and back in (also across replicas), taps on options, files customers send, who is writing."""

# ruff: noqa: F811  (the hand-off tests' fixtures, imported by name)
from __future__ import annotations

import json
import uuid

import pytest

from bot.answers import notices
from bot.gateway.app import create_app
from tests.gateway.conftest import ACCOUNT_SID, ANA_PHONE, WHATSAPP_PATH, incoming, rows, sign
from tests.gateway.test_handoff import (  # noqa: F401  (fixtures)
    ANA_WHATSAPP,
    TRIGGER,
    Hub,
    StartHub,
    hub,
    start_hub,
)

STRANGER = "+5215587654321"  # no user has this number
STRANGER_WHATSAPP = f"whatsapp:{STRANGER}"


def media_url() -> str:
    """A media URL as Twilio gives it for our account."""
    return (
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{uuid.uuid4().hex}"
        f"/Media/ME{uuid.uuid4().hex}"
    )


async def post(hub: Hub, params: dict[str, str]) -> None:
    response = await hub.client.post(
        WHATSAPP_PATH, data=params, headers={"X-Twilio-Signature": sign(WHATSAPP_PATH, params)}
    )
    assert response.status == 200, await response.text()


def events(hub: Hub, address: str) -> list[tuple[str, str]]:
    found = [r for r in rows(hub.database_url, "contact_events") if r["address"] == address]
    return [(r["event"], r["message_id"]) for r in sorted(found, key=lambda r: r["id"])]


# --- opting out -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "words", ["STOP", "Baja", "baja por favor", "No me escriban más", "dejen de escribirme"]
)
async def test_an_opt_out_gets_one_confirmation_and_nothing_after_it(hub: Hub, words: str) -> None:
    await hub.whatsapp("hola")
    await hub.settle()
    params = incoming(words)
    await post(hub, params)
    await post(hub, params)  # Twilio retries the webhook: still one confirmation
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP) == ["eco: hola", notices.OPTED_OUT]
    assert hub.engine.messages() == ["hola"]  # the engine never sees the opt-out
    assert events(hub, ANA_WHATSAPP) == [("opt_out", params["MessageSid"])]
    # Whatever the gateway would write now is suppressed, not sent.
    await hub.handoffs.delivery.notify("whatsapp", ANA_WHATSAPP, "Aviso")
    assert hub.sent_to(ANA_WHATSAPP)[-1] == notices.OPTED_OUT
    assert rows(hub.database_url, "outbound_messages")[-1]["status"] == "suppressed"


@pytest.mark.parametrize("words", ["quiero darme de baja", "dar de baja mi contrato", "cancelar", "para"])
async def test_questions_about_cancelling_are_not_opt_outs(hub: Hub, words: str) -> None:
    await hub.whatsapp(words)
    await hub.settle()
    assert hub.engine.messages() == [words]
    assert events(hub, ANA_WHATSAPP) == []


async def test_writing_again_opts_back_in(hub: Hub) -> None:
    await hub.whatsapp("STOP")
    await hub.whatsapp("¿cuánto cuesta el plan Expert?")  # any question lifts it, and is answered
    await hub.whatsapp("BAJA")
    await hub.whatsapp("ALTA")
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP) == [
        notices.OPTED_OUT,
        "eco: ¿cuánto cuesta el plan Expert?",
        notices.OPTED_OUT,
        notices.OPTED_IN,
    ]
    assert [event for event, _ in events(hub, ANA_WHATSAPP)] == ["opt_out", "opt_in", "opt_out", "opt_in"]


async def test_stop_in_the_middle_of_a_queue_closes_the_hand_off_and_stops_its_notices(hub: Hub) -> None:
    await hub.whatsapp(TRIGGER, STRANGER)  # first in the queue
    await hub.whatsapp(TRIGGER)  # Ana: second
    await hub.settle()
    ana = next(h for h in await hub.queue() if h["user_name"] == "Ana Torres")
    assert ana["position"] == 2
    await hub.whatsapp("STOP")
    await hub.settle()
    assert hub.sent_to(ANA_WHATSAPP)[-1] == notices.OPTED_OUT
    assert [h["reply_to"] for h in await hub.queue()] == ["+•••••••••4321"]
    assert hub.transcript(ana["id"])[-1] == ("system", notices.OPTED_OUT_NOTE)
    before = len(hub.sent_to(ANA_WHATSAPP))
    stranger = (await hub.queue())[0]
    assert (await hub.take(stranger["id"]))[0] == 200  # the queue moves: nobody tells Ana
    assert (await hub.reply(ana["id"], "¿Sigues ahí?"))[0] == 409  # nobody may write to her
    await hub.settle()
    assert len(hub.sent_to(ANA_WHATSAPP)) == before


async def test_an_opt_out_on_one_replica_is_honoured_by_the_other(start_hub: StartHub) -> None:
    first, second = await start_hub(), await start_hub()  # one store
    await first.whatsapp("BAJA")
    await first.settle()
    await second.pipeline.outbox.send("whatsapp", ANA_WHATSAPP, ["Un aviso desde la otra réplica"])
    assert first.sent_to(ANA_WHATSAPP) == [notices.OPTED_OUT]
    await second.whatsapp("hola de nuevo")
    await second.settle()
    assert first.sent_to(ANA_WHATSAPP)[-1] == "eco: hola de nuevo"


# --- taps -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tap",
    [
        {"ButtonPayload": '/elegir_plan{"plan": "expert"}', "ButtonText": "Expert", "Body": "Expert"},
        {"ListId": '/elegir_plan{"plan": "expert"}', "ListTitle": "Expert", "Body": "Expert"},
        {"ListId": "2", "ListTitle": "Plan Expert", "Body": "Plan Expert"},  # a payload too long for an id
    ],
)
async def test_a_tap_on_an_option_reaches_the_engine_as_the_option(hub: Hub, tap: dict[str, str]) -> None:
    await post(hub, incoming(**tap))
    await hub.settle()
    expected = tap.get("ButtonPayload") or tap["ListId"]
    assert hub.engine.messages() == [expected]


# --- files ------------------------------------------------------------------------------------------------
async def test_a_caption_is_answered_and_the_file_acknowledged(hub: Hub) -> None:
    await post(
        hub,
        incoming(
            "me sale este error al pagar", NumMedia="1", MediaUrl0=media_url(), MediaContentType0="image/jpeg"
        ),
    )
    await hub.settle()
    assert hub.engine.messages() == ["me sale este error al pagar"]
    assert hub.sent_to(ANA_WHATSAPP) == ["eco: me sale este error al pagar", notices.ATTACHMENT_UNREAD]


async def test_a_file_without_words_gets_the_explanation(hub: Hub) -> None:
    await post(hub, incoming("", NumMedia="1", MediaUrl0=media_url(), MediaContentType0="application/pdf"))
    await hub.settle()
    assert hub.engine.messages() == []
    assert hub.sent_to(ANA_WHATSAPP) == [notices.MEDIA_ONLY]


async def test_files_reach_the_agent_during_a_hand_off_and_foreign_urls_are_dropped(hub: Hub) -> None:
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    ours = media_url()
    await post(
        hub,
        incoming(
            "",
            NumMedia="2",
            MediaUrl0=ours,
            MediaContentType0="image/png",
            MediaUrl1="https://evil.example/steal",
            MediaContentType1="image/png",
        ),
    )
    await hub.settle()
    [handoff] = await hub.queue()
    status, detail = await hub.agent("GET", f"/api/agent/handoffs/{handoff['id']}")
    assert status == 200
    line = detail["messages"][-1]
    assert line["role"] == "user" and line["text"] == ""
    assert line["media"] == [{"url": f"/api/agent/media/{line['id']}/0", "content_type": "image/png"}]
    stored = json.loads(hub.inbound_rows(f"wa:{ANA_PHONE}")[-1]["meta"])["media"]
    assert [item["url"] for item in stored] == [ours]  # never a URL the gateway would fetch for anyone
    assert "evil.example" not in str(detail)


# --- who is writing -----------------------------------------------------------------------------------------
async def test_agents_see_an_unverified_senders_masked_number_and_profile_name(hub: Hub) -> None:
    await post(hub, incoming(TRIGGER, STRANGER, ProfileName="Marta Q."))
    await hub.whatsapp(TRIGGER)  # Ana's number is verified: she is named
    await hub.settle()
    writers = {h["reply_to"][-4:]: (h["user_name"], h["writer"]) for h in await hub.queue()}
    name, writer = writers[STRANGER[-4:]]
    assert name is None
    assert writer == {
        "channel": "whatsapp",
        "number": "+•••••••••4321",
        "profile_name": "Marta Q.",
        "verified": False,
    }
    assert STRANGER not in str(await hub.queue())
    name, writer = writers[ANA_PHONE[-4:]]
    assert name == "Ana Torres" and writer["verified"] is True


def test_the_app_builds_with_a_messaging_service_instead_of_a_from_number(database_url: str) -> None:
    from tests.gateway.conftest import make_settings

    settings = make_settings(
        database_url, "http://127.0.0.1:9", "http://127.0.0.1:9", twilio_messaging_service_sid="MG" + "a" * 32
    )
    assert create_app(settings) is not None
    with pytest.raises(ValueError):
        make_settings(
            database_url, "http://127.0.0.1:9", "http://127.0.0.1:9", twilio_messaging_service_sid="x"
        )
