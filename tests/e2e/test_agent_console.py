"""The agent console in a real browser, next to a customer's webchat page: a hand-off, live on both sides.

Debian's headless chromium driven by Playwright (never downloads a browser; skipped without
/usr/bin/chromium). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.answers import csat
from bot.answers.notices import RESOLVED
from bot.gateway import tokens
from bot.gateway.channels.webchat import COOKIE
from bot.handoff.triggers import REASONS
from tests.e2e.chromium import ARTIFACTS, CHROMIUM, dev_sign_in, watched_page
from tests.e2e.conftest import E2EStack
from tests.e2e.test_browser import ANSWER_TIMEOUT_MS, Chat
from tests.e2e.test_handoff_e2e import Agent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no {CHROMIUM}: install Debian's chromium with `make browser` "
        "(apt-get install -y chromium fonts-dejavu-core); the tests never download a browser",
    ),
]

CARLA_EMAIL = "carla.soporte@soporte.example"
LIVE_MS = 15_000


@pytest.fixture
def console(browser: Browser, gateway_url: str) -> Iterator[tuple[Page, list[str]]]:
    """The agent console, on a desktop-sized window of its own browser profile."""
    with watched_page(browser, viewport={"width": 1280, "height": 900}, locale="es-ES") as watched:
        yield watched


@pytest.fixture
def customer(browser: Browser, gateway_url: str) -> Iterator[tuple[Chat, BrowserContext]]:
    """A visitor's webchat page, in another browser profile."""
    with watched_page(browser, viewport={"width": 900, "height": 900}, locale="es-ES") as (page, errors):
        yield Chat(page, gateway_url, errors), page.context


@pytest.fixture
def agent(stack: E2EStack) -> Iterator[Agent]:
    """Carla at the API too (to find the conversation's id, and to clean up whatever the test left)."""
    carla = Agent(stack)
    yield carla
    carla.clean_up()


def sender_of(context: BrowserContext, stack: E2EStack) -> str:
    """The visitor's conversation, from the cookie the gateway set in their browser."""
    [cookie] = [c for c in context.cookies() if c["name"] == COOKIE]
    conversation = tokens.read_conversation(cookie["value"], stack.settings)
    assert conversation is not None
    return f"web:a:{conversation}"


def test_an_agent_takes_answers_and_resolves_a_conversation_live(
    console: tuple[Page, list[str]],
    customer: tuple[Chat, BrowserContext],
    agent: Agent,
    stack: E2EStack,
    gateway_url: str,
) -> None:
    page, console_errors = console
    chat, customer_context = customer

    # The agent signs in on the console (development panel).
    page.goto(f"{gateway_url}/agent")
    dev_sign_in(page, CARLA_EMAIL)
    expect(page.get_by_test_id("whoami")).to_have_text("Conectado como Carla Soporte")
    expect(page.get_by_test_id("agent-connection")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    expect(page.get_by_test_id("agent-error")).to_have_text("")
    items = page.get_by_test_id("queue-item")

    # A visitor asks for a person.
    chat.open()
    answer = chat.ask("quiero hablar con una persona")
    expect(answer.first).to_contain_text("te comunico con una persona")
    banner = chat.page.get_by_test_id("handoff-status")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-status", "queued")
    agent.senders.add(sender_of(customer_context, stack))
    handoff = agent.find(sender_of(customer_context, stack))

    # It shows up in the console by itself (no reload, no refresh click).
    item = page.locator(f"[data-testid=queue-item][data-id='{handoff['id']}']")
    expect(item).to_be_visible(timeout=LIVE_MS)
    expect(item.get_by_test_id("queue-reason")).to_have_text(REASONS["requested"])
    expect(item.get_by_test_id("queue-status")).to_contain_text("En espera")
    expect(item.get_by_test_id("queue-channel")).to_have_text("Webchat")
    assert items.count() >= 1

    # The agent takes it: the transcript opens; the visitor is told a person joined.
    item.get_by_test_id("take").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Asignada a ti")
    transcript = page.get_by_test_id("agent-transcript")
    expect(transcript.get_by_test_id("transcript-user").first).to_contain_text(
        "quiero hablar con una persona"
    )
    expect(transcript.get_by_test_id("transcript-bot").first).to_contain_text("te comunico con una persona")
    expect(page.get_by_test_id("conversation-context")).to_contain_text("Sin sesión iniciada")
    expect(chat.page.locator(".msg.system").last).to_contain_text(
        "Carla Soporte del equipo de soporte se unió", timeout=LIVE_MS
    )
    expect(banner).to_have_attribute("data-status", "assigned")

    # The visitor writes; the agent sees it live, answers, and the answer appears on the visitor's page.
    chat.page.get_by_test_id("chat-input").fill("Tengo una duda con mi factura")
    chat.page.get_by_test_id("chat-send").click()
    expect(transcript.get_by_test_id("transcript-user").last).to_have_text(
        re.compile("Tengo una duda con mi factura"), timeout=LIVE_MS
    )
    page.get_by_test_id("agent-reply").fill("Hola, soy Carla. Con gusto reviso tu factura.")
    page.get_by_test_id("agent-send").click()
    expect(transcript.get_by_test_id("transcript-agent").last).to_contain_text("Con gusto reviso tu factura")
    expect(page.get_by_test_id("agent-reply")).to_have_value("")
    agent_bubble = chat.page.locator(".msg.agent")
    expect(agent_bubble).to_have_count(1, timeout=LIVE_MS)
    expect(agent_bubble).to_contain_text("Hola, soy Carla. Con gusto reviso tu factura.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "agent-console.png"), full_page=True)

    # The agent resolves: the visitor is back with the assistant.
    page.get_by_test_id("resolve").click()
    expect(page.get_by_test_id("conversation-status")).to_have_text("Resuelta")
    expect(item).to_have_count(0, timeout=LIVE_MS)
    expect(page.get_by_test_id("agent-reply")).to_be_disabled()
    system = chat.page.locator(".msg.system")
    expect(system.filter(has_text=RESOLVED)).to_have_count(1, timeout=LIVE_MS)
    # Then how it went: five buttons under the question; a tap rates it, and the assistant never hears it.
    expect(system.last).to_have_text(re.compile(re.escape(csat.QUESTION)), timeout=LIVE_MS)
    expect(banner).to_be_hidden()
    agent.opened.discard(handoff["id"])
    rating = chat.page.get_by_test_id("msg-buttons").last.get_by_role("button")
    expect(rating).to_have_text([title for title, _ in csat.OPTIONS])
    thanks = chat.choose("4 · Buena")
    expect(thanks.filter(has_text=csat.THANKS)).to_have_count(1)
    expect(rating.first).to_be_disabled()  # answered: the buttons are spent

    again = chat.ask("cuantos usuarios trae el expert")
    expect(again.filter(has_text="30 usuarios").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(agent_bubble).to_have_count(1)  # nothing from the agent twice
    chat.screenshot("webchat-handoff.png")

    assert console_errors == []
    assert chat.errors == []
