"""WhatsApp hand-offs in the agent console, in Chromium, against the whole stack (real engine and action
server, real gateway and store) with the fake Twilio playing the customer's phone: who is writing, the
24-hour window and its template (a hand-off answered 25 hours later), delivery states, a photo each way,
and a customer who sends BAJA in the middle of the queue."""

# ruff: noqa: F811  (the console tests' fixtures, imported by name)
from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.answers.notices import OPTED_OUT, OPTED_OUT_NOTE
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Contact
from testkit.fake_twilio import FakeTwilio
from tests.e2e.chromium import ARTIFACTS, CHROMIUM, dev_sign_in
from tests.e2e.conftest import REOPEN_TEMPLATE_SID, E2EStack
from tests.e2e.test_agent_console import CARLA_EMAIL, LIVE_MS, agent, console  # noqa: F401
from tests.e2e.test_handoff_e2e import Agent
from tests.e2e.test_whatsapp import new_number

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}")]

TRIGGER = "quiero hablar con una persona"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, decodable PNG of one colour."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def twilio(stack: E2EStack) -> Iterator[FakeTwilio]:
    """The fake Twilio reporting each message sent, delivered and read (restored after the test)."""
    fake = stack.twilio
    fake.statuses = ["sent", "delivered", "read"]
    try:
        yield fake
    finally:
        fake.statuses = []


def sign_in(page: Page, gateway_url: str) -> None:
    page.goto(f"{gateway_url}/agent")
    dev_sign_in(page, CARLA_EMAIL)
    expect(page.get_by_test_id("agent-connection")).to_have_attribute("data-state", "live", timeout=LIVE_MS)


def hand_off(stack: E2EStack, agent: Agent, number: str, profile: str) -> dict[str, object]:
    """A WhatsApp customer (unknown number) asks for a person; their hand-off as the console API lists it."""
    assert stack.twilio.inbound_sync(number, TRIGGER, profile_name=profile) == 200
    stack.twilio.wait_for(number, 2, settle=1.0)  # the lead and the queue position
    sender = f"wa:{number.removeprefix('whatsapp:')}"
    agent.senders.add(sender)
    return agent.find(sender)


def age(stack: E2EStack, number: str, hours: float) -> None:
    """Time passes: the customer last wrote `hours` earlier, for the gateway as for Twilio."""
    stack.twilio.advance(hours=hours)
    store = make_engine(stack.settings.database_url)
    with make_sessionmaker(store).begin() as session:
        contact = session.scalars(select(Contact).where(Contact.address == number)).one()
        assert contact.last_inbound_at is not None
        contact.last_inbound_at = contact.last_inbound_at - timedelta(hours=hours)
    store.dispose()


def test_a_hand_off_answered_25_hours_later(
    console: tuple[Page, list[str]], agent: Agent, stack: E2EStack, twilio: FakeTwilio
) -> None:
    page, errors = console
    number = new_number()
    handoff = hand_off(stack, agent, number, "Marta Q.")
    sign_in(page, stack.gateway_url)

    # Who writes: the profile name and the number, all but its last four digits hidden.
    item = page.locator(f"[data-testid=queue-item][data-id='{handoff['id']}']")
    expect(item).to_contain_text(f"Marta Q. · +{'•' * 7}{number[-4:]} (WhatsApp)", timeout=LIVE_MS)
    assert number.removeprefix("whatsapp:+")[:-4] not in page.content()
    item.get_by_test_id("take").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Asignada a ti")
    expect(page.get_by_test_id("writer")).to_contain_text("número sin verificar")
    window = page.get_by_test_id("conversation-window")
    expect(window).to_contain_text("Ventana de WhatsApp: quedan 23 h")

    # Inside the window a reply goes, and the console follows it to "read".
    page.get_by_test_id("agent-reply").fill("Hola Marta, soy Carla. ¿En qué te ayudo?")
    page.get_by_test_id("agent-send").click()
    transcript = page.get_by_test_id("agent-transcript")
    first = transcript.get_by_test_id("transcript-agent").last
    expect(first.locator("[data-testid^=delivery-]")).to_have_attribute("data-state", "read", timeout=LIVE_MS)
    expect(first).to_contain_text("Leído")

    # Friday evening to Saturday evening: the window has closed.
    age(stack, number, 25)
    page.reload()
    expect(page.get_by_test_id("agent-connection")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    page.locator(f"[data-testid=queue-item][data-id='{handoff['id']}']").get_by_test_id("queue-open").click()
    expect(window).to_have_attribute("data-state", "closed", timeout=LIVE_MS)
    expect(window).to_contain_text("La ventana de 24 horas de WhatsApp está cerrada")
    expect(page.get_by_test_id("agent-reply")).to_be_hidden()
    sent_before = len(twilio.messages(number))
    page.get_by_test_id("reopen-template").click()
    expect(page.get_by_test_id("window-closed")).to_contain_text("Plantilla enviada", timeout=LIVE_MS)
    template = twilio.wait_for(number, sent_before + 1)[-1]
    assert template.content_sid == REOPEN_TEMPLATE_SID and "te escribe Zenvia" in template.body

    # What the agent writes now waits for the customer.
    page.get_by_test_id("agent-reply").fill("Ya revisé tu factura: el cobro está corregido.")
    page.get_by_test_id("agent-send").click()
    waiting = transcript.get_by_test_id("transcript-agent").last
    expect(waiting.locator("[data-testid^=delivery-]")).to_have_attribute(
        "data-state", "held", timeout=LIVE_MS
    )
    expect(waiting).to_contain_text("Esperando que el cliente escriba")
    assert twilio.quiet(number, 1.0) == []
    page.screenshot(path=str(ARTIFACTS / "console-window-closed.png"), full_page=True)

    # Monday: she answers the template; the answer that waited reaches her, and she is heard.
    assert twilio.inbound_sync(number, "Sí, aquí estoy") == 200
    released = twilio.wait_for(number, sent_before + 2)[-1]
    assert released.body == "Ya revisé tu factura: el cobro está corregido."
    expect(transcript.get_by_test_id("transcript-user").last).to_contain_text(
        "Sí, aquí estoy", timeout=LIVE_MS
    )
    expect(waiting.locator("[data-testid^=delivery-]")).not_to_have_attribute(
        "data-state", "held", timeout=LIVE_MS
    )
    expect(window).to_have_attribute("data-state", "open", timeout=LIVE_MS)
    assert errors == []


def test_photos_both_ways(
    console: tuple[Page, list[str]], agent: Agent, stack: E2EStack, twilio: FakeTwilio
) -> None:
    page, errors = console
    number = new_number()
    handoff = hand_off(stack, agent, number, "Luis")
    sign_in(page, stack.gateway_url)
    page.locator(f"[data-testid=queue-item][data-id='{handoff['id']}']").get_by_test_id("take").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Asignada a ti")

    # The customer's screenshot of a card error: fetched from Twilio by the gateway, shown to the agent.
    red = png(16, 12, (200, 30, 30))
    assert twilio.inbound_sync(number, "me sale este error", media=[("image/png", red)]) == 200
    line = page.get_by_test_id("agent-transcript").get_by_test_id("transcript-user").last
    expect(line).to_contain_text("me sale este error", timeout=LIVE_MS)
    image = line.locator("img")
    expect(image).to_be_visible(timeout=LIVE_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth === 16", arg=image.element_handle())
    assert image.get_attribute("src", timeout=1000).startswith("blob:")
    assert all(fetch.authorized or fetch.cdn for fetch in twilio.media_fetches())

    # The agent answers with an image of their own: it goes out as WhatsApp media the gateway serves.
    sent_before = len(twilio.messages(number))
    green = png(10, 10, (30, 160, 60))
    page.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "pasos.png", "mimeType": "image/png", "buffer": green}]
    )
    expect(page.get_by_test_id("attachment-chip")).to_contain_text("pasos.png")
    page.get_by_test_id("agent-reply").fill("Sigue estos pasos")
    page.get_by_test_id("agent-send").click()
    message = twilio.wait_for(number, sent_before + 1)[-1]
    assert message.body == "Sigue estos pasos" and len(message.media_urls) == 1
    served = page.request.get(
        stack.gateway_url + message.media_urls[0].removeprefix(stack.settings.public_url)
    )
    assert served.status == 200 and served.body() == green
    expect(
        page.get_by_test_id("agent-transcript").get_by_test_id("transcript-agent").last.locator("img")
    ).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "console-media.png"), full_page=True)
    assert errors == []


def test_a_customer_who_sends_baja_in_the_middle_of_the_queue(
    console: tuple[Page, list[str]], agent: Agent, stack: E2EStack, twilio: FakeTwilio
) -> None:
    page, errors = console
    first, second = new_number(), new_number()
    ahead = hand_off(stack, agent, first, "Primera")
    behind = hand_off(stack, agent, second, "Segunda")
    sign_in(page, stack.gateway_url)
    behind_item = page.locator(f"[data-testid=queue-item][data-id='{behind['id']}']")
    expect(behind_item).to_be_visible(timeout=LIVE_MS)

    before = len(twilio.messages(second))
    assert twilio.inbound_sync(second, "BAJA") == 200
    assert twilio.wait_for(second, before + 1)[-1].body == OPTED_OUT
    expect(behind_item).to_have_count(0, timeout=LIVE_MS)  # her hand-off closed: nobody may write to her

    # The queue moves: the one ahead is taken. Nobody tells her her new place.
    page.locator(f"[data-testid=queue-item][data-id='{ahead['id']}']").get_by_test_id("take").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Asignada a ti")
    assert twilio.quiet(second, 2.0) == []
    agent.opened.discard(int(str(behind["id"])))
    transcript = agent.detail(int(str(behind["id"])))["messages"]
    assert transcript[-1]["text"] == OPTED_OUT_NOTE
    assert errors == []
