"""The not-understood review in Chromium: the demo supervisor signs in, sees how many messages wait and
the similar ones grouped, places an entity, assigns an intent to a group and sets another aside as out of
scope; `bot review-export` then writes the examples to a training file, where they are found.

A gateway of its own (no engine: the page reads and writes the store only) over a store `bot seed` filled,
with messages waiting for review. The export writes to a temporary file, never to data/nlu (which would
change the model every other test runs against). Debian's headless chromium driven by Playwright (skipped
without /usr/bin/chromium).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Connection, insert, select

from bot.settings import PROJECT_ROOT
from bot.store.db import make_engine
from bot.store.models import ReviewItem
from tests.e2e.chromium import ARTIFACTS, CHROMIUM, dev_sign_in, watched_page
from tests.e2e.own_gateway import supervisor_gateway

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: install it with `make browser`"),
]

ELENA = "elena.supervision@soporte.example"
JWT_SECRET = "review-e2e-" + "0123456789abcdef" * 3
WAITING = [
    "cuanto sale el expert al mes",
    "y cuánto sale el Expert x mes??",
    "me pueden vender una pizza",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A seeded store with messages waiting for review and a gateway on it: (its URL, its environment)."""
    store = f"sqlite:///{tmp_path_factory.mktemp('review-e2e') / 'bot.db'}"
    now = datetime.now(UTC)

    def waiting(connection: Connection) -> None:
        for index, text in enumerate(WAITING):
            context = [
                {"role": "user", "text": "hola"},
                {"role": "bot", "text": "¡Hola! ¿En qué te ayudo?"},
                {"role": "user", "text": text},
                {"role": "bot", "text": "No estoy seguro de haber entendido."},
            ]
            connection.execute(
                insert(ReviewItem).values(
                    inbound_id=900_000 + index,
                    channel="webchat" if index else "whatsapp",
                    sender_id=f"web:a:review-{index}",
                    text=text,
                    normalized=text,
                    reason="fallback",
                    context=context,
                    received_at=now - timedelta(minutes=10 - index),
                    status="waiting",
                )
            )

    with supervisor_gateway(store, JWT_SECRET, "review", "/insights/review", waiting) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    with watched_page(
        browser, failed_requests=False, viewport={"width": 1280, "height": 1000}, locale="es-MX"
    ) as watched:
        yield watched


def test_a_supervisor_labels_a_group_sets_one_aside_and_the_export_has_them(
    page: tuple[Page, list[str]], site: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    tab, errors = page
    url, env = site
    tab.goto(f"{url}/insights/review")
    expect(tab.get_by_test_id("review-error")).to_have_text(
        "Necesitas iniciar sesión con un perfil de supervisor."
    )
    dev_sign_in(tab, ELENA)
    expect(tab.get_by_test_id("whoami")).to_have_text("Conectado como Elena Supervisión")

    # How many wait, and the two questions about the Expert's price in one group, first.
    expect(tab.get_by_test_id("review-waiting")).to_have_text("3 mensajes en espera de revisión")
    groups = tab.get_by_test_id("review-group")
    expect(groups).to_have_count(2)
    first = groups.nth(0)
    expect(first.get_by_test_id("review-text")).to_have_text(WAITING[:2])
    expect(groups.nth(1).get_by_test_id("review-text")).to_have_text(WAITING[2:])
    # The conversation around a message is one click away.
    first.locator("details summary").first.click()
    expect(first.locator("details ol").first).to_contain_text("¡Hola! ¿En qué te ayudo?")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)

    # The plan named in the first message, then the intent for the whole group.
    item = first.get_by_test_id("review-item").nth(0)
    item.get_by_test_id("entity-type").select_option("plan")
    item.get_by_test_id("entity-words").fill("expert")
    item.get_by_test_id("entity-add").click()
    expect(item.locator(".entity-chip")).to_have_text("plan: expert")
    first.get_by_test_id("intent-select").select_option("ask_price")
    first.get_by_test_id("assign").click()
    expect(tab.get_by_test_id("review-waiting")).to_have_text(
        "2 mensajes revisados. 1 mensaje en espera de revisión"
    )
    expect(groups).to_have_count(1)

    groups.nth(0).get_by_test_id("out-of-scope").click()
    expect(tab.get_by_test_id("review-waiting")).to_have_text(
        "1 mensaje revisado. No hay mensajes en espera. ¡Todo revisado!"
    )
    expect(groups).to_have_count(0)
    assert errors == []  # no script error, no CSP violation

    engine = make_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        decided = connection.execute(select(ReviewItem.text, ReviewItem.status, ReviewItem.intent)).all()
    engine.dispose()
    assert sorted(decided) == sorted(
        [
            (WAITING[0], "labelled", "ask_price"),
            (WAITING[1], "labelled", "ask_price"),
            (WAITING[2], "out_of_scope", None),
        ]
    )

    # The export: a Rasa NLU file with the examples, the entity marked.
    output = tmp_path / "reviewed.yml"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "review-export", "--output", str(output)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(output.read_text(encoding="utf-8"))
    examples = {block["intent"]: block["examples"] for block in data["nlu"]}
    assert examples == {
        "ask_price": f"- cuanto sale el [expert](plan) al mes\n- {WAITING[1]}\n",
        "out_of_scope": f"- {WAITING[2]}\n",
    }
