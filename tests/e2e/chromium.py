"""Debian's headless chromium for the browser tests, driven by Playwright (never downloads a browser).

What every browser test shares: where chromium is and how it starts, pages whose script errors are
collected, and the development panel through which a demo user signs in on the staff consoles.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Screenshots and the logs of the gateways the tests start.
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@contextmanager
def launched() -> Iterator[Browser]:
    """Headless chromium, closed after."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watch(page: Page, errors: list[str], failed_requests: bool = True) -> None:
    """Collect console errors, page errors and (unless a test expects refusals) failed requests."""
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    if failed_requests:
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)


@contextmanager
def watched_page(
    browser: Browser, failed_requests: bool = True, **context: Any
) -> Iterator[tuple[Page, list[str]]]:
    """A page in a browser profile of its own (`context`: Playwright's new_context options), with the
    errors `watch` collects; the profile is closed after."""
    profile = browser.new_context(**context)
    page = profile.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    watch(page, errors, failed_requests)
    try:
        yield page, errors
    finally:
        profile.close()


def dev_sign_in(page: Page, email: str) -> None:
    """On a staff console's page, sign in as the demo user `email` with the development panel."""
    panel = page.get_by_test_id("dev-panel")
    expect(panel).to_be_visible()
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    page.get_by_test_id("dev-user").select_option(email)
    page.get_by_test_id("dev-login").click()
