"""Card data is limited by construction: no column of any table can hold a full card number or a CVV."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, Engine, String, insert, inspect, select
from sqlalchemy.exc import DBAPIError

from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Account, Base

CARD_COLUMNS = {"id", "account_id", "brand", "last4", "holder", "exp_month", "exp_year", "is_default"}
# Whole-word tokens of a column name (split on "_") and substrings that would mean card secrets.
FORBIDDEN_TOKENS = {"pan", "pans", "cvv", "cvv2", "cvc", "cvc2", "cid", "csc", "pin"}
FORBIDDEN_SUBSTRINGS = ("card_number", "cardnumber", "card_no", "cardno", "security_code", "securitycode")
FULL_NUMBER = "4111111111111111"
CARDS = Base.metadata.tables["cards"]


def is_forbidden(column: str) -> bool:
    name = column.lower()
    tokens = set(re.split(r"[_\W]+", name))
    return bool(tokens & FORBIDDEN_TOKENS) or any(part in name for part in FORBIDDEN_SUBSTRINGS)


@pytest.mark.parametrize(
    ("name", "forbidden"),
    [
        ("pan", True),
        ("card_pan", True),
        ("card_number", True),
        ("cardNumber", True),
        ("cvv", True),
        ("cvc2", True),
        ("security_code", True),
        ("last4", False),
        ("company", False),
        ("span_days", False),
    ],
)
def test_the_name_check_itself(name: str, forbidden: bool) -> None:
    assert is_forbidden(name) is forbidden


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite store migrated to head, with one account."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(insert(Account), [{"id": 1, "name": "Acme", "created_at": datetime.now(UTC)}])
    yield engine
    engine.dispose()


def card(last4: str, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "account_id": 1,
        "brand": "Visa",
        "last4": last4,
        "holder": "ANA TORRES",
        "exp_month": 12,
        "exp_year": 2030,
        "is_default": True,
    }
    return row | changes


def test_cards_have_exactly_the_allowed_columns(engine: Engine) -> None:
    assert set(CARDS.columns.keys()) == CARD_COLUMNS
    assert {column["name"] for column in inspect(engine).get_columns("cards")} == CARD_COLUMNS


def test_no_column_anywhere_is_named_like_a_card_secret(engine: Engine) -> None:
    in_models = [f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns]
    reflected = inspect(engine)
    in_store = [
        f"{table}.{column['name']}"
        for table in reflected.get_table_names()
        for column in reflected.get_columns(table)
    ]
    assert len(in_store) >= len(in_models)
    assert [name for name in in_models + in_store if is_forbidden(name.split(".", 1)[1])] == []


def test_last4_is_four_characters_with_a_length_check() -> None:
    column = CARDS.c.last4
    assert isinstance(column.type, String) and column.type.length == 4
    checks = [str(c.sqltext) for c in CARDS.constraints if isinstance(c, CheckConstraint)]
    assert "length(last4) = 4" in checks


def test_the_store_rejects_a_full_card_number(engine: Engine) -> None:
    with pytest.raises(DBAPIError, match=r"(?i)check constraint.*last4"), engine.begin() as connection:
        connection.execute(insert(CARDS), [card(FULL_NUMBER)])
    with engine.connect() as connection:
        assert connection.scalars(select(CARDS.c.last4)).all() == []


@pytest.mark.parametrize("last4", ["411", "41111", "4111 1111 1111 1111", ""])
def test_the_store_rejects_any_other_length(engine: Engine, last4: str) -> None:
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(insert(CARDS), [card(last4)])


def test_the_store_accepts_four_digits(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(CARDS), [card("1111")])
    with engine.connect() as connection:
        assert connection.scalars(select(CARDS.c.last4)).all() == ["1111"]
