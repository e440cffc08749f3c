"""End to end over the webchat: a typed card number reaches no tracker store, store or log."""

from __future__ import annotations

import sqlite3
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import E2EStack

pytestmark = pytest.mark.e2e

CARD = "5555 5555 5555 4444"
DIGITS = CARD.replace(" ", "")


def _every_text(database: Path) -> str:
    """All text stored in every table of a SQLite file."""
    with sqlite3.connect(database) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(
            str(value)
            for table in tables
            for row in connection.execute(f'SELECT * FROM "{table}"')
            for value in row
        )


def test_card_number_in_the_webchat_is_masked_everywhere(stack: E2EStack) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    body = f'{{"message": "mi tarjeta es {CARD} y el cvv 123, me la registras?"}}'.encode()
    request = urllib.request.Request(
        f"{stack.gateway_url}/api/chat", data=body, headers={"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=30) as response:
        reply = response.read().decode()
    assert "no compartas" in reply
    assert DIGITS not in reply and CARD not in reply
    stores = [
        Path(stack.settings.tracker_store_url.split(":///", 1)[1]),
        Path(stack.settings.database_url.split(":///", 1)[1]),
    ]
    for database in stores:
        text = _every_text(database)
        assert DIGITS not in text and CARD not in text and "cvv 123" not in text, f"card data in {database}"
    for log in (PROJECT_ROOT / "var" / "log" / "e2e").glob("*.log"):
        content = log.read_text(errors="replace")
        assert DIGITS not in content and CARD not in content, f"card number in {log}"
