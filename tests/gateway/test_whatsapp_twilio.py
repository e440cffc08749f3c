"""WhatsApp against a fake Twilio that keeps WhatsApp's rules: its own clock and the 24-hour window (63016),
the Content API and taps coming back as webhooks, media behind the account's credentials, and status
callbacks. Each test drives the real gateway (fake engine, real SQLite store) and reads what reached the
fake, in order."""

# ruff: noqa: F811  (the hand-off tests' fixtures, imported by name)
from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.answers.notices import OPTIONS_HINT
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Contact
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import ANA_PHONE, rows
from tests.gateway.test_handoff import (  # noqa: F401
    ANA_WHATSAPP,
    CARLA,
    TRIGGER,
    Hub,
    StartHub,
    start_hub,
)

TEMPLATE_SID = "HX" + "1" * 32
TEMPLATE = "Hola {{1}}, tenemos una respuesta a tu consulta. Responde a este mensaje para continuar."
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2048
PDF = b"%PDF-1.7\n" + b"0" * 1024


@pytest.fixture
async def wa(start_hub: StartHub, twilio: FakeTwilio) -> Hub:
    """The gateway with a reopen template, and the fake posting webhooks and callbacks to it."""
    twilio.templates[TEMPLATE_SID] = TEMPLATE
    twilio.enforce_window = True
    hub: Hub = await start_hub(
        whatsapp_reopen_template_sid=TEMPLATE_SID, whatsapp_reopen_template_variables={"1": "Ana"}
    )
    twilio.webhooks_to(base_url(hub), hub.settings.public_url)
    twilio.deliver_callbacks(base_url(hub))
    return hub


@pytest.fixture
async def posted(start_hub: StartHub, twilio: FakeTwilio) -> Hub:
    """The gateway as it starts, and the fake posting customers' messages to it."""
    hub: Hub = await start_hub()
    twilio.webhooks_to(base_url(hub), hub.settings.public_url)
    return hub


def base_url(hub: Hub) -> str:
    """Where the test's gateway listens."""
    return str(hub.client.make_url("")).rstrip("/")


async def settle(hub: Hub) -> None:
    """Twilio's callbacks and the gateway's answers, until both are quiet."""
    for _ in range(3):
        await hub.twilio.settle()
        await hub.settle()


def wire(twilio: FakeTwilio, since: float = 0.0) -> list[str]:
    """What crossed the wire between the gateway and Twilio since a moment (time.monotonic()), in order,
    one line each: the gateway's requests to Twilio, and Twilio's webhooks and callbacks to the gateway."""
    lines: list[tuple[float, str]] = []
    for request in twilio.wire():
        form, at = request.form, request.at
        if request.path.endswith("/Messages.json") and request.method == "POST":
            what = (
                f"ContentSid={form['ContentSid']}"
                if form.get("ContentSid")
                else repr(form.get("Body", "")[:40])
            )
            lines.append((at, f"gateway -> Twilio  POST Messages {what} -> {request.status}"))
        elif request.path.startswith("/v1/Content"):
            lines.append((at, f"gateway -> Twilio  {request.method} {request.path} -> {request.status}"))
        elif "/Media/" in request.path:
            auth = "with credentials" if request.authorized else "without credentials"
            lines.append((at, f"gateway -> Twilio  GET media ({auth}) -> {request.status}"))
    for post in twilio.posts():
        form = post.form
        if post.kind == "inbound":
            tap = form.get("ButtonPayload") or form.get("ListId")
            what = f"tap {tap!r}" if tap else repr(form.get("Body", ""))
        else:
            what = f"status {form.get('MessageStatus')}" + (
                f" {form['ErrorCode']}" if form.get("ErrorCode") else ""
            )
        lines.append((post.at, f"Twilio -> gateway  {post.kind} {what} -> {post.status}"))
    return [line for at, line in sorted(lines) if at >= since]


def age_contact(hub: Hub, hours: float) -> None:
    """Time passes for the gateway too: the customer last wrote `hours` earlier than it thinks."""
    store = make_engine(hub.database_url)
    with make_sessionmaker(store).begin() as session:
        contact = session.get(Contact, ("whatsapp", ANA_WHATSAPP))
        assert contact is not None and contact.last_inbound_at is not None
        earlier = contact.last_inbound_at - timedelta(hours=hours)
        session.execute(
            update(Contact).where(Contact.address == ANA_WHATSAPP).values(last_inbound_at=earlier)
        )
    store.dispose()


async def taken_handoff(hub: Hub) -> int:
    await hub.twilio.inbound(ANA_WHATSAPP, TRIGGER)
    await settle(hub)
    [handoff] = await hub.queue()
    assert (await hub.take(handoff["id"]))[0] == 200
    await settle(hub)
    return int(handoff["id"])


# --- the 24-hour window ----------------------------------------------------------------------------------
async def test_a_hand_off_answered_25_hours_later_reaches_the_customer_after_the_template(wa: Hub) -> None:
    twilio = wa.twilio
    handoff_id = await taken_handoff(wa)
    twilio.advance(hours=25)  # Friday evening to Saturday evening: for Twilio, and for the gateway
    age_contact(wa, 25)

    status, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    assert status == 200
    contact = detail["contact"]
    assert contact["window"]["open"] is False and contact["template"] is True
    assert contact["number"].endswith("0001") and ANA_PHONE not in json.dumps(detail)

    twilio.clear()
    before = time.monotonic()
    status, body = await wa.reply(handoff_id, "Hola Ana, ya revisé tu factura: el cobro está corregido.")
    assert status == 200
    await settle(wa)
    # No free text reached Twilio: the template went, the answer waits.
    [template] = twilio.messages(ANA_WHATSAPP)
    assert template.content_sid == TEMPLATE_SID and template.content_variables == {"1": "Ana"}
    assert template.body.startswith("Hola Ana, tenemos una respuesta")
    _, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    line = next(m for m in detail["messages"] if m["id"] == body["message"]["id"])
    assert line["delivery"]["state"] == "held"
    assert detail["contact"]["template_sent_at"] is not None
    # Writing more does not send a second template.
    assert (await wa.reply(handoff_id, "¿Me confirmas que te llegó?"))[0] == 200
    await settle(wa)
    assert len(twilio.messages(ANA_WHATSAPP)) == 1

    # Monday: the customer answers the template; what waited goes out, in order, then she is heard.
    await twilio.inbound(ANA_WHATSAPP, "Sí, aquí estoy")
    await settle(wa)
    assert twilio.bodies[-2:] == [
        "Hola Ana, ya revisé tu factura: el cobro está corregido.",
        "¿Me confirmas que te llegó?",
    ]
    assert wa.transcript(handoff_id)[-1] == ("user", "Sí, aquí estoy")
    _, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    assert detail["contact"]["window"]["open"] is True
    print("\n25-hour hand-off, on the wire:\n  " + "\n  ".join(wire(twilio, before)))


async def test_the_agent_can_send_the_template_from_the_console_once(wa: Hub) -> None:
    handoff_id = await taken_handoff(wa)
    path = f"/api/agent/handoffs/{handoff_id}/reopen"
    status, body = await wa.agent("POST", path)
    assert (status, body["error"]) == (409, "window_open")
    wa.twilio.advance(hours=30)
    age_contact(wa, 30)
    status, body = await wa.agent("POST", path)
    assert status == 200 and body["message"]["role"] == "system"
    await settle(wa)
    status, again = await wa.agent("POST", path)
    assert (status, again["error"]) == (409, "template_sent")
    assert [m.content_sid for m in wa.twilio.messages(ANA_WHATSAPP)][-1] == TEMPLATE_SID
    _, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    line = next(m for m in detail["messages"] if m["id"] == body["message"]["id"])
    assert line["delivery"]["state"] in ("sent", "delivered", "read")


async def test_twilios_window_verdict_holds_an_answer_the_gateway_thought_in_time(wa: Hub) -> None:
    """The gateway's clock says open, Twilio's says closed: the 63016 callback holds the text."""
    handoff_id = await taken_handoff(wa)
    wa.twilio.advance(hours=26)  # only Twilio's clock moves
    status, body = await wa.reply(handoff_id, "¿Sigues ahí?")
    assert status == 200
    await settle(wa)
    _, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    line = next(m for m in detail["messages"] if m["id"] == body["message"]["id"])
    assert line["delivery"]["state"] == "held" and line["delivery"]["error_code"] == "63016"
    assert "ventana de 24 horas" in line["delivery"]["error_text"]
    assert wa.twilio.messages(ANA_WHATSAPP)[-1].content_sid == TEMPLATE_SID


# --- taps ---------------------------------------------------------------------------------------------------
def options(count: int, title: str = "Plan") -> list[dict[str, str]]:
    return [{"title": f"{title} {n}", "payload": f'/elegir{{"n": {n}}}'} for n in range(1, count + 1)]


def answering_with(hub: Hub, buttons: list[dict[str, str]]) -> None:
    """From now on the engine answers every message with these options."""
    hub.engine.scripted = [{"text": "¿Cuál prefieres?", "buttons": buttons}]


async def test_options_become_quick_replies_created_once_and_a_tap_picks_one(
    posted: Hub, twilio: FakeTwilio
) -> None:
    hub = posted
    await hub.whatsapp("hola")  # opens Ana's window for the fake too
    twilio.customer_wrote(ANA_WHATSAPP)
    await settle(hub)
    answering_with(hub, options(3))
    before = time.monotonic()
    for _ in range(2):
        await twilio.inbound(ANA_WHATSAPP, "¿qué planes hay?")
        await settle(hub)
    sent = twilio.messages(ANA_WHATSAPP)[-2:]
    assert sent[0].content_sid and sent[0].content_sid == sent[1].content_sid  # one content, reused
    quick = twilio.content(sent[0].content_sid)
    assert quick is not None and quick.kind == "twilio/quick-reply"
    assert len(rows(hub.database_url, "content_templates")) == 1
    await twilio.inbound(ANA_WHATSAPP, "Plan 2", button=('/elegir{"n": 2}', "Plan 2"))
    await settle(hub)
    assert hub.engine.messages()[-1] == '/elegir{"n": 2}'
    print("\nOptions and a tap, on the wire:\n  " + "\n  ".join(wire(twilio, before)))


async def test_up_to_ten_options_become_a_list_and_more_stay_numbered_text(
    posted: Hub, twilio: FakeTwilio
) -> None:
    hub = posted
    answering_with(hub, options(7, "Comparar el plan Specialist con"))
    await twilio.inbound(ANA_WHATSAPP, "compara")
    await settle(hub)
    listed = twilio.messages(ANA_WHATSAPP)[-1]
    content = twilio.content(listed.content_sid or "")
    assert content is not None and content.kind == "twilio/list-picker"
    items = content.types["twilio/list-picker"]["items"]
    assert all(len(item["item"]) <= 24 for item in items)
    assert items[0]["description"] == "Comparar el plan Specialist con 1"  # the whole title, kept
    await twilio.inbound(ANA_WHATSAPP, items[3]["item"], list_item=(items[3]["id"], items[3]["item"]))
    await settle(hub)
    assert hub.engine.messages()[-1] == '/elegir{"n": 4}'

    answering_with(hub, options(12))
    await twilio.inbound(ANA_WHATSAPP, "más")
    await settle(hub)
    numbered = twilio.messages(ANA_WHATSAPP)[-1]
    assert numbered.content_sid is None and "12. Plan 12" in numbered.body and OPTIONS_HINT in numbered.body


async def test_a_refused_rich_message_falls_back_to_numbered_text(posted: Hub, twilio: FakeTwilio) -> None:
    hub = posted
    answering_with(hub, options(2))
    twilio.refuse_next(ANA_WHATSAPP, 400, 21656, "The Content Variables parameter is invalid")
    await twilio.inbound(ANA_WHATSAPP, "planes")
    await settle(hub)
    last = twilio.messages(ANA_WHATSAPP)[-1]
    assert last.content_sid is None and "1. Plan 1\n2. Plan 2" in last.body
    assert [r["status"] for r in rows(hub.database_url, "outbound_messages")][-1] == "sent"
    assert len(twilio.messages(ANA_WHATSAPP)) == 2  # the refused rich message, then the text; no retry


async def test_a_content_deleted_at_twilio_is_created_again_once(posted: Hub, twilio: FakeTwilio) -> None:
    hub = posted
    answering_with(hub, options(3))
    await twilio.inbound(ANA_WHATSAPP, "planes")
    await settle(hub)
    first = twilio.messages(ANA_WHATSAPP)[-1].content_sid
    assert first and twilio.contents.delete(first)  # someone deletes it in Twilio's console

    await twilio.inbound(ANA_WHATSAPP, "planes otra vez")
    await settle(hub)
    refused, again = twilio.messages(ANA_WHATSAPP)[-2:]
    assert refused.form.get("ContentSid") == first and not refused.accepted
    assert again.accepted and again.content_sid and again.content_sid != first
    assert twilio.content(again.content_sid) is not None
    assert [r["content_sid"] for r in rows(hub.database_url, "content_templates")] == [again.content_sid]
    assert len(content_creations(twilio)) == 2

    # Refused again after its re-creation: numbered text, not a loop of creations.
    for _ in range(2):
        twilio.refuse_next(ANA_WHATSAPP, 400, 21655, "The ContentSid is Invalid")
    await twilio.inbound(ANA_WHATSAPP, "y ahora")
    await settle(hub)
    last = twilio.messages(ANA_WHATSAPP)[-1]
    assert last.accepted and last.content_sid is None and "1. Plan 1" in last.body
    assert len(content_creations(twilio)) == 3
    assert sum(m.accepted for m in twilio.messages(ANA_WHATSAPP)) == 3  # one per question, none twice

    # Refused even when new: the same options go as numbered text for a while, without trying again.
    tried = len(twilio.messages(ANA_WHATSAPP))
    await twilio.inbound(ANA_WHATSAPP, "¿y ahora?")
    await settle(hub)
    [numbered] = twilio.messages(ANA_WHATSAPP)[tried:]
    assert numbered.accepted and numbered.content_sid is None and "1. Plan 1" in numbered.body
    assert len(content_creations(twilio)) == 3


def content_creations(twilio: FakeTwilio) -> list[Any]:
    return [r for r in twilio.wire("/v1/Content") if r.method == "POST"]


# --- delivery states --------------------------------------------------------------------------------------
async def test_each_agent_message_shows_its_delivery_and_failures_say_why(wa: Hub) -> None:
    wa.twilio.statuses = ["sent", "delivered", "read"]
    handoff_id = await taken_handoff(wa)
    _, delivered = await wa.reply(handoff_id, "Hola Ana")
    await settle(wa)
    wa.twilio.fail_next(ANA_WHATSAPP, 63024)
    _, failed = await wa.reply(handoff_id, "¿Me lees?")
    await settle(wa)
    _, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    by_id = {m["id"]: m for m in detail["messages"]}
    assert by_id[delivered["message"]["id"]]["delivery"]["state"] == "read"
    failure = by_id[failed["message"]["id"]]["delivery"]
    assert failure["state"] == "failed" and failure["error_code"] == "63024"
    assert "no es válido para WhatsApp" in failure["error_text"]
    assert detail["last_answer"] is not None  # the assistant's answer before the hand-off
    # A refused send does not block what follows.
    wa.twilio.refuse_next(ANA_WHATSAPP, 400, 21211)
    assert (await wa.reply(handoff_id, "uno"))[0] == 200
    assert (await wa.reply(handoff_id, "dos"))[0] == 200
    await settle(wa)
    assert wa.twilio.bodies[-1] == "dos"
    statuses = [(r["body"], r["status"]) for r in rows(wa.database_url, "outbound_messages")][-2:]
    assert statuses == [("uno", "failed"), ("dos", "sent")]


# --- files ------------------------------------------------------------------------------------------------
async def test_a_customers_photo_reaches_the_agent_through_the_gateway_only(wa: Hub) -> None:
    handoff_id = await taken_handoff(wa)
    await wa.twilio.inbound(
        ANA_WHATSAPP, "me sale esto al pagar 4111 1111 1111 1111", media=[("image/jpeg", JPEG)]
    )
    await settle(wa)
    _, detail = await wa.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    line = detail["messages"][-1]
    assert "4111 1111 1111 1111" not in line["text"]  # the caption is redacted like any message
    [media] = line["media"]
    assert "twilio" not in media["url"]
    response = await wa.client.get(media["url"], headers={"Authorization": f"Bearer {wa.token(CARLA)}"})
    assert response.status == 200 and await response.read() == JPEG
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # With the account's credentials on Twilio's path; none on the CDN URL Twilio redirects to.
    fetches = wa.twilio.media_fetches()
    assert [(f.cdn, f.authorized, f.status) for f in fetches] == [(False, True, 307), (True, False, 200)]
    assert (await wa.client.get(media["url"])).status == 401  # agents only
    customer = await wa.client.get(
        media["url"], headers={"Authorization": f"Bearer {wa.token((1, 'Ana Torres'), 'admin', 1)}"}
    )
    assert customer.status == 403


async def test_an_agents_file_goes_out_as_media_within_whatsapps_limits(wa: Hub) -> None:
    handoff_id = await taken_handoff(wa)
    headers = {"Authorization": f"Bearer {wa.token(CARLA)}"}
    path = f"/api/agent/handoffs/{handoff_id}/attachments"

    async def attach(name: str, kind: str, data: bytes, text: str = "") -> tuple[int, Any]:
        from aiohttp import FormData

        form = FormData()
        form.add_field("text", text)
        form.add_field("file", data, filename=name, content_type=kind)
        response = await wa.client.post(path, data=form, headers=headers)
        return response.status, await response.json()

    status, body = await attach("factura.pdf", "application/pdf", PDF, "Tu factura corregida")
    assert status == 200, body
    await settle(wa)
    sent = wa.twilio.messages(ANA_WHATSAPP)[-1]
    assert sent.body == "Tu factura corregida" and len(sent.media_urls) == 1
    url = sent.media_urls[0]
    assert url.startswith(wa.settings.public_url + "/media/")
    served = await wa.client.get(url.removeprefix(wa.settings.public_url))
    assert served.status == 200 and await served.read() == PDF
    assert (await attach("virus.exe", "application/x-msdownload", b"MZ" + b"0" * 100))[0] == 415
    assert (await attach("foto.jpg", "image/jpeg", PDF))[0] == 415  # not what it claims to be
    assert (await attach("grande.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024)))[0] == 415
    assert wa.twilio.messages(ANA_WHATSAPP)[-1] == sent  # nothing refused went out
    assert (await wa.client.get("/media/" + "0" * 32)).status == 404


# --- the Messaging Service --------------------------------------------------------------------------------
async def test_texts_go_through_the_messaging_service_when_one_is_set(
    start_hub: StartHub, twilio: FakeTwilio
) -> None:
    service = "MG" + "2" * 32
    hub: Hub = await start_hub(twilio_messaging_service_sid=service)
    await hub.whatsapp("hola")
    await settle(hub)
    [sent] = twilio.messages(ANA_WHATSAPP)
    assert sent.messaging_service_sid == service and "From" not in sent.form
