"""The insights page in Chromium: the demo supervisor signs in, reads the figures of the demo history,
switches period and channel, downloads the CSV; an agent's or an admin's token is refused.

A gateway of its own (no engine: the page reads the store only) over a store `bot seed` filled, with its
30 days of synthetic history. What the page shows is checked against the figures computed from that store.
Debian's headless chromium driven by Playwright (skipped without /usr/bin/chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Connection, insert

from bot.gateway import tokens
from bot.insights.period import Period, last_days
from bot.insights.report import Insights, as_csv, compute
from bot.settings import Settings
from bot.store.db import make_engine
from bot.store.models import ReviewItem
from tests.e2e.chromium import ARTIFACTS, CHROMIUM, dev_sign_in, watched_page
from tests.e2e.own_gateway import supervisor_gateway

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: install it with `make browser`"),
]

ELENA = "elena.supervision@soporte.example"
JWT_SECRET = "insights-e2e-" + "0123456789abcdef" * 3


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A seeded store (demo accounts and history, one message waiting for review) and a gateway on it:
    (its URL, the store's URL)."""
    store = f"sqlite:///{tmp_path_factory.mktemp('insights-e2e') / 'bot.db'}"

    def one_waiting(connection: Connection) -> None:
        connection.execute(
            insert(ReviewItem).values(
                inbound_id=1,
                channel="webchat",
                sender_id="web:a:x",
                text="asdf",
                normalized="asdf",
                reason="fallback",
                context=[],
                received_at=datetime.now(UTC),
                status="waiting",
            )
        )

    with supervisor_gateway(store, JWT_SECRET, "insights", "/insights", one_waiting) as (url, _):
        yield url, store


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    # Failed requests are not errors here: a refused token is what one test checks.
    with watched_page(
        browser,
        failed_requests=False,
        viewport={"width": 1280, "height": 1000},
        locale="es-MX",
        accept_downloads=True,
    ) as watched:
        yield watched


def figures(store: str, period: Period) -> Insights:
    engine = make_engine(store)
    try:
        with engine.connect() as connection:
            return compute(connection, period)
    finally:
        engine.dispose()


def percent(share: float | None) -> str:
    """As the page shows a share: the API's four decimals, as a percentage with one."""
    return "–" if share is None else f"{round(share, 4) * 100:.1f} %".replace(".", ",")


def expect_figures(page: Page, expected: Insights) -> None:
    """The page shows this period's figures: the cards, the table and the charts."""
    period = expected.period
    loaded = f"{period.first.isoformat()}/{period.last.isoformat()}/{period.channel or 'all'}"
    expect(page.locator("body")).to_have_attribute("data-loaded", loaded)
    expect(page.get_by_test_id("figure-conversations")).to_have_text(f"{expected.volume.conversations:,}")
    expect(page.get_by_test_id("figure-messages")).to_have_text(f"{expected.volume.user_messages:,}")
    expect(page.get_by_test_id("figure-containment")).to_have_text(percent(expected.containment.share))
    expect(page.get_by_test_id("figure-not-understood")).to_have_text(percent(expected.not_understood.share))
    expect(page.get_by_test_id("figure-handoffs")).to_have_text(f"{expected.handoffs.total:,}")
    table = page.get_by_test_id("figures-table")
    expect(table.get_by_role("row").filter(has_text="Conversaciones anónimas")).to_contain_text(
        str(expected.volume.anonymous)
    )
    days = len(period.days())
    assert page.evaluate("() => Chart.getChart('chart-daily').data.labels.length") == days
    assert page.evaluate("() => Chart.getChart('chart-reasons').data.datasets[0].data") == list(
        expected.handoffs.groups.values()
    )


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/insights")
    dev_sign_in(page, ELENA)
    expect(page.get_by_test_id("whoami")).to_have_text("Conectado como Elena Supervisión")


def test_a_supervisor_reads_switches_and_downloads(
    page: tuple[Page, list[str]], site: tuple[str, str], tmp_path: Path
) -> None:
    tab, errors = page
    url, store = site
    today = datetime.now(UTC).date()
    sign_in(tab, url)

    week = figures(store, last_days(7, today))
    assert week.volume.conversations > 50 and week.handoffs.total > 0  # the demo history is there
    expect_figures(tab, week)
    expect(tab.get_by_test_id("review-count")).to_have_text("1 mensaje en espera")
    expect(tab.get_by_test_id("review-link")).to_have_attribute("href", "/insights/review")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "insights.png"), full_page=True)

    tab.get_by_test_id("period").select_option("30d")
    expect_figures(tab, figures(store, last_days(30, today)))

    tab.get_by_test_id("channel").select_option("whatsapp")
    month_whatsapp = figures(store, last_days(30, today, "whatsapp"))
    expect_figures(tab, month_whatsapp)
    assert month_whatsapp.volume.conversations < figures(store, last_days(30, today)).volume.conversations

    tab.get_by_test_id("period").select_option("custom")
    first, last = today - timedelta(days=13), today - timedelta(days=2)
    tab.get_by_test_id("from").fill(first.isoformat())
    tab.get_by_test_id("to").fill(last.isoformat())
    tab.get_by_test_id("apply").click()
    custom = figures(store, Period(first, last, "whatsapp"))
    expect_figures(tab, custom)

    with tab.expect_download() as download:
        tab.get_by_test_id("download-csv").click()
    saved = tmp_path / "figures.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"indicadores_{first}_{last}_whatsapp.csv"
    assert saved.read_bytes().decode("utf-8") == as_csv(custom)
    assert errors == []


@pytest.mark.parametrize(
    ("user_id", "account_id", "profile", "name"),
    [(7, 4, "agent", "Carla Soporte"), (1, 1, "admin", "Ana Torres")],
    ids=["agent", "admin"],
)
def test_an_agent_or_admin_token_is_refused(
    page: tuple[Page, list[str]],
    site: tuple[str, str],
    user_id: int,
    account_id: int,
    profile: str,
    name: str,
) -> None:
    tab, _ = page
    url, _ = site
    settings = Settings(_env_file=None, jwt_secret=JWT_SECRET, jwt_issuer=None)
    token = tokens.mint(user_id, account_id, profile, name, settings, 5)
    with tab.expect_response(lambda r: r.url.startswith(f"{url}/api/insights?")) as answer:
        tab.goto(f"{url}/insights#token={token}")
    assert answer.value.status == 403
    expect(tab.get_by_test_id("insights-error")).to_have_text(
        "Necesitas iniciar sesión con un perfil de supervisor."
    )
    expect(tab.get_by_test_id("figure-conversations")).to_have_text("–")
