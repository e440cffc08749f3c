"""The widget on another site, in Chromium: a host page served from another origin embeds the chat with
one <script> tag; an anonymous visitor chats, reloads the host page and the conversation goes on; the host
signs its user in through postMessage; a site not allowed cannot frame the chat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from bot.gateway import tokens
from bot.settings import PROJECT_ROOT
from tests.e2e.chromium import CHROMIUM
from tests.e2e.conftest import E2EStack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}")]

HOST_PAGE = PROJECT_ROOT / "examples" / "widget-host.html"
ANSWER_MS = 30_000


def host_page(gateway_url: str) -> bytes:
    """The example host page, its script tag aimed at the gateway under test."""
    return HOST_PAGE.read_text(encoding="utf-8").replace("http://127.0.0.1:8000", gateway_url).encode()


def serve(origin: str, page: bytes) -> ThreadingHTTPServer:
    """Serve `page` at every path of `origin` (another site than the gateway's)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            return None

    port = urlsplit(origin).port or 80
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def host(stack: E2EStack) -> Iterator[str]:
    """The allowed host site, serving the example page."""
    server = serve(stack.embed_origin, host_page(stack.gateway_url))
    try:
        yield f"{stack.embed_origin}/tienda.html"
    finally:
        server.shutdown()


def open_chat(page: Page) -> FrameLocator:
    page.get_by_test_id("widget-launcher").click()
    expect(page.get_by_test_id("widget-panel")).to_be_visible()
    frame = page.frame_locator("[data-testid=widget-frame]")
    expect(frame.get_by_test_id("chat-input")).to_be_visible()
    return frame


def ask(frame: FrameLocator, text: str, expected: str) -> None:
    frame.get_by_test_id("chat-input").fill(text)
    frame.get_by_test_id("chat-send").click()
    expect(frame.locator(".msg.bot").filter(has_text=expected).last).to_be_visible(timeout=ANSWER_MS)


def test_an_anonymous_visitor_keeps_the_conversation_across_the_hosts_pages(
    browser: Browser, host: str
) -> None:
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(host)
        launcher = page.get_by_test_id("widget-launcher")
        expect(launcher).to_have_text("¿Necesitas ayuda?")
        # The host's own CSS (pink 30 px buttons, red dashed iframes) does not reach the widget.
        assert launcher.evaluate("b => getComputedStyle(b).fontSize") == "15px"
        frame = open_chat(page)
        expect(frame.locator(".welcome")).to_contain_text("Soy el asistente de planes y contratos")
        ask(frame, "¿qué planes hay?", "Starter")

        page.reload()  # another page of the host's site, or the same one again
        frame = open_chat(page)
        expect(frame.locator(".msg.bot").filter(has_text="Enterprise").first).to_be_visible()  # kept
        # The same conversation goes on: the plans offered before the reload are still the choice.
        ask(frame, "el segundo", "Plan Specialist")
        assert errors == []
    finally:
        context.close()


def test_the_host_signs_its_user_in_through_post_message(
    browser: Browser, host: str, stack: E2EStack
) -> None:
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    try:
        page.goto(host)
        frame = open_chat(page)
        token = tokens.mint(1, 1, "admin", "Ana Torres", stack.settings, 10)
        page.evaluate("token => window.AsistenteWidget.signIn(token)", token)
        ask(frame, "¿cuál es el estado de mis contratos?", "ZCC-100002")
        # Never in a URL: not the frame's, not any request's.
        assert all(token not in url for url in [page.url, *[f.url for f in page.frames]])
        page.evaluate("() => window.AsistenteWidget.signOut()")
        ask(frame, "¿cuál es el estado de mis contratos?", "Si inicias sesión")
    finally:
        context.close()


def test_a_site_not_allowed_cannot_frame_the_chat(browser: Browser, stack: E2EStack) -> None:
    other = f"http://localhost:{free_port()}"  # a site EMBED_ORIGINS does not name
    server = serve(other, host_page(stack.gateway_url))
    context = browser.new_context(locale="es-ES")
    page = context.new_page()
    try:
        page.goto(f"{other}/tienda.html")
        page.get_by_test_id("widget-launcher").click()
        frame = page.frame_locator("[data-testid=widget-frame]")
        expect(frame.get_by_test_id("chat-input")).to_have_count(0, timeout=3_000)
    finally:
        context.close()
        server.shutdown()
