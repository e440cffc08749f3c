"""End to end in a real browser: Debian's headless chromium, driven by Playwright, on the real gateway page.

Never downloads a browser: it runs /usr/bin/chromium (`make browser` installs it) and is skipped without it.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Response, expect

from tests.e2e.chromium import ARTIFACTS, CHROMIUM

ANSWER_TIMEOUT_MS = 30_000
ANA = "ana.torres@andina.example"
# Any failed request or console error fails the test.

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no {CHROMIUM}: install Debian's chromium with `make browser` "
        "(apt-get install -y chromium fonts-dejavu-core); the tests never download a browser",
    ),
]


@dataclass
class Chat:
    """The webchat page, as a user sees it."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(self.url)
        expect(self.page.get_by_test_id("chat-input")).to_be_visible()

    def entries(self) -> Locator:
        """Every bubble, table and button group of the transcript, in order."""
        return self.page.locator("[data-testid=chat-log] > *")

    def ask(self, question: str, press_enter: bool = False) -> Locator:
        """Type a question, send it, wait for the answer; return the answer's entries."""
        box = self.page.get_by_test_id("chat-input")
        box.fill(question)
        if press_enter:
            box.press("Enter")
        else:
            self.page.get_by_test_id("chat-send").click()
        return self._answer(question)

    def choose(self, title: str) -> Locator:
        """Click the button of the latest group with this title; return the answer's entries."""
        self.page.get_by_test_id("msg-buttons").last.get_by_role("button", name=title, exact=True).click()
        return self._answer(title)

    def _answer(self, shown: str) -> Locator:
        user = self.page.locator(".msg.user").last
        expect(user).to_contain_text(shown)
        typing = self.page.get_by_test_id("typing")
        expect(typing).not_to_have_class(re.compile(r"\bis-active\b"), timeout=ANSWER_TIMEOUT_MS)
        expect(self.page.locator(".msg.error")).to_have_count(0)
        # The entries after the last user bubble.
        start = self.entries().evaluate_all(
            "nodes => nodes.map(n => n.matches('.msg.user')).lastIndexOf(true) + 1"
        )
        answer = self.page.locator(f"[data-testid=chat-log] > :nth-child(n+{start + 1})")
        expect(answer.first).to_be_visible()
        return answer

    def no_horizontal_overflow(self) -> None:
        """The page does not scroll sideways, and nothing sticks out of the viewport (wide tables scroll
        inside their own box)."""
        sizes = self.page.evaluate(
            "() => ({page: document.scrollingElement.scrollWidth, body: document.body.scrollWidth, "
            "width: window.innerWidth})"
        )
        assert sizes["page"] <= sizes["width"], sizes
        assert sizes["body"] <= sizes["width"], sizes
        outside = self.page.evaluate(
            """() => {
              const width = document.documentElement.clientWidth;
              const out = [];
              for (const el of document.querySelectorAll('.app *')) {
                if (el.closest('.table-scroll') !== el && el.closest('.table-scroll')) continue;
                if (el.closest('.visually-hidden, [hidden]')) continue;
                const box = el.getBoundingClientRect();
                if (box.width === 0 || box.height === 0) continue;
                if (box.left < -1 || box.right > width + 1) {
                  out.push(`${el.tagName.toLowerCase()}.${el.className}: ${box.left}..${box.right}`);
                }
              }
              return out;
            }"""
        )
        assert outside == [], f"sticking out of a {sizes['width']} px viewport: {outside[:10]}"

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _chat(browser: Browser, url: str, width: int, height: int) -> Iterator[Chat]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(10_000)
    chat = Chat(page, url)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            chat.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def response(answer: Response) -> None:
        if answer.status >= 400:
            chat.errors.append(f"HTTP {answer.status}: {answer.request.method} {answer.url}")

    page.on("console", console)
    page.on("response", response)
    page.on("pageerror", lambda error: chat.errors.append(f"page error: {error}"))
    try:
        yield chat
    finally:
        context.close()


@pytest.fixture
def chat(browser: Browser, gateway_url: str) -> Iterator[Chat]:
    """A fresh browser profile (no transcript, no session) on a desktop-sized window."""
    yield from _chat(browser, gateway_url, 1280, 900)


@pytest.fixture
def phone(browser: Browser, gateway_url: str) -> Iterator[Chat]:
    """A fresh browser profile on a phone-sized window."""
    yield from _chat(browser, gateway_url, 375, 800)


def test_public_questions_buttons_tables_and_a_kept_transcript(chat: Chat) -> None:
    chat.open()
    expect(chat.page.get_by_test_id("whoami")).to_be_hidden()

    answer = chat.ask("¿qué planes tienen?", press_enter=True)
    expect(answer.filter(has_text="Starter").first).to_be_visible()
    buttons = chat.page.get_by_test_id("msg-buttons").last.get_by_role("button")
    expect(buttons).to_have_text(["Starter", "Specialist", "Expert", "Professional", "Enterprise"])
    expect(buttons.first).to_be_enabled()

    summary = chat.choose("Expert")
    expect(summary.first).to_contain_text("Expert")
    expect(summary.first).to_contain_text("30 usuarios")
    expect(buttons.first).to_be_disabled()  # an answered question's buttons are spent

    comparison = chat.ask("diferencias entre starter y expert")
    table = comparison.get_by_test_id("msg-table")
    expect(table).to_have_count(1)
    expect(table.locator("thead th")).to_have_text(["Recurso", "Starter", "Expert"])
    expect(table.locator("tbody tr").filter(has_text="Usuarios").first).to_contain_text("30 usuarios")
    chat.screenshot("webchat-public.png")

    before = chat.entries().all_inner_texts()
    chat.page.reload()
    expect(chat.entries()).to_have_count(len(before))
    assert chat.entries().all_inner_texts() == before
    expect(chat.page.locator(".msg.user")).to_contain_text(
        ["¿qué planes tienen?", "Expert", "diferencias entre starter y expert"]
    )
    expect(chat.page.get_by_test_id("msg-table")).to_have_count(1)
    assert chat.errors == []


def test_dev_sign_in_as_an_admin_shows_her_contracts(chat: Chat) -> None:
    chat.open()
    panel = chat.page.get_by_test_id("dev-panel")
    expect(panel).to_be_visible()  # development mode is on in the e2e stack
    panel.locator("summary").click()
    chat.page.get_by_test_id("dev-user").select_option(ANA)
    chat.page.get_by_test_id("dev-login").click()
    expect(chat.page.get_by_test_id("whoami")).to_have_text("Conectado como Ana Torres (admin)")

    answer = chat.ask("¿cuál es el estado de mis contratos?")
    expect(answer.filter(has_text="ZCC-100001").first).to_be_visible()
    expect(answer.filter(has_text="Suspendido").first).to_be_visible()
    expect(chat.page.get_by_test_id("msg-buttons").last.get_by_role("button")).to_have_text(
        [
            "ZCC-100001 · Expert · Activo",
            "ZCC-100002 · Specialist · Suspendido",
            "ZCC-100003 · Starter · Cancelado",
        ]
    )
    chat.screenshot("webchat-admin.png")

    # The session survives a reload.
    chat.page.reload()
    expect(chat.page.get_by_test_id("whoami")).to_have_text("Conectado como Ana Torres (admin)")
    expect(chat.page.locator(".msg.bot").filter(has_text="ZCC-100002")).not_to_have_count(0)
    assert chat.errors == []


def test_a_phone_sized_window_never_scrolls_sideways(phone: Chat) -> None:
    phone.open()
    phone.no_horizontal_overflow()
    phone.ask("¿qué planes tienen?")
    phone.ask("diferencias entre starter y expert")
    scroller = phone.page.locator(".table-scroll").last
    expect(scroller).to_be_visible()
    phone.no_horizontal_overflow()
    phone.screenshot("webchat-phone.png")
    assert phone.errors == []


QUESTIONS = (
    "¿qué planes tienen?",
    "diferencias entre starter y expert",
    "¿cuántos usuarios trae el Professional?",
    "¿qué canales tiene el Starter?",
    "¿cómo puedo pagar?",
    "¿qué incluye el plan Enterprise?",
    "¿se acumula el paquete de canales?",
    "¿cómo agrego una tarjeta?",
)


@pytest.mark.parametrize(("width", "height"), [(1100, 900), (390, 800)], ids=["desktop", "phone"])
def test_the_page_fits_its_window_with_a_long_conversation(
    browser: Browser, gateway_url: str, width: int, height: int
) -> None:
    """Nothing scrolls past the app: the document is exactly the window's height, the transcript scrolls
    inside its own box (its screen-reader labels once stretched the page by thousands of pixels)."""
    for chat in _chat(browser, gateway_url, width, height):
        chat.open()
        for question in QUESTIONS:
            chat.ask(question)
        sizes = chat.page.evaluate(
            "() => ({document: document.scrollingElement.scrollHeight, body: document.body.scrollHeight, "
            "window: window.innerHeight, log: document.querySelector('[data-testid=chat-log]').scrollHeight})"
        )
        assert sizes["document"] <= sizes["window"], sizes
        assert sizes["body"] <= sizes["window"], sizes
        assert sizes["log"] > sizes["window"], sizes  # the conversation is long: it scrolls inside the log
        chat.no_horizontal_overflow()
        assert chat.errors == []
