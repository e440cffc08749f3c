"""The synthetic-accounts generator: counts, determinism, unique keys and valid data."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.exc import IntegrityError

from bot.store import bulk
from bot.store.db import make_engine, make_sessionmaker
from bot.store.migrate import current_revision, upgrade
from bot.store.models import (
    CONTRACT_STATUSES,
    INVOICE_STATUSES,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    Account,
    Handoff,
    InboundMessage,
)

TODAY = date(2025, 6, 15)
N = 200
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
TABLES = {table.name: table for table in bulk.TABLES}

MakeStore = Callable[[str], Engine]


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[MakeStore]:
    """Makes empty SQLite stores migrated to head, disposing of them at the end."""
    engines: list[Engine] = []

    def make(name: str) -> Engine:
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def store(make_store: MakeStore) -> tuple[Engine, dict[str, int]]:
    engine = make_store("bulk")
    return engine, bulk.generate(engine, N, seed=7, today=TODAY)


def table_count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table)) or 0


def all_rows(engine: Engine, name: str) -> list[tuple[Any, ...]]:
    table = TABLES[name]
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]


def column(engine: Engine, name: str, key: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.scalars(select(TABLES[name].c[key])))


def test_counts_match_the_tables(store: tuple[Engine, dict[str, int]]) -> None:
    engine, counts = store
    assert set(counts) == set(TABLES)
    assert {name: table_count(engine, table) for name, table in TABLES.items()} == counts
    assert counts["accounts"] == N
    assert N <= counts["users"] <= 3 * N
    assert N <= counts["cards"] <= 2 * N
    assert N <= counts["contracts"] <= 3 * N
    assert counts["contracts"] <= counts["contract_channels"] <= 3 * counts["contracts"]
    assert counts["payments"] == counts["invoices"] == 3 * counts["contracts"]


def test_same_seed_same_rows(make_store: MakeStore) -> None:
    first, second, other = make_store("first"), make_store("second"), make_store("other")
    bulk.generate(first, N, seed=3, today=TODAY, batch=64)
    bulk.generate(second, N, seed=3, today=TODAY, batch=N)  # the batch size does not change the data
    bulk.generate(other, N, seed=4, today=TODAY)
    for name in ("contracts", "users", "payments", "invoices"):
        assert all_rows(first, name) == all_rows(second, name), name
    assert all_rows(first, "contracts") != all_rows(other, "contracts")


def test_unique_keys_hold(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    for name, key in [
        ("users", "email"),
        ("users", "phone"),
        ("contracts", "number"),
        ("invoices", "number"),
    ]:
        values = [value for value in column(engine, name, key) if value is not None]
        assert len(values) == len(set(values)), (name, key)
    numbers = column(engine, "contracts", "number")
    # Seven or more digits: never one of the demo data's six-digit ZCC-1xxxxx .. ZCC-4xxxxx numbers.
    assert all(re.fullmatch(r"ZCC-\d{7,}", number) for number in numbers)
    assert all(re.fullmatch(r"F-\d{7,}-[1-3]", number) for number in column(engine, "invoices", "number"))
    assert all(email.endswith("@bulk.example") for email in column(engine, "users", "email"))


def test_phones_are_e164_or_none(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    with engine.connect() as connection:
        users = connection.execute(select(TABLES["users"].c.phone, TABLES["users"].c.phone_verified)).all()
    phones = [phone for phone, _ in users if phone is not None]
    assert phones and len(phones) < len(users)  # some users have no phone
    assert all(E164.match(phone) and phone.startswith("+52155") and len(phone) == 14 for phone in phones)
    assert {verified for phone, verified in users if phone is not None} == {True, False}
    assert not any(verified for phone, verified in users if phone is None)


def test_accounts_are_well_formed(store: tuple[Engine, dict[str, int]]) -> None:
    engine, _ = store
    with make_sessionmaker(engine)() as session:
        accounts = session.scalars(select(Account).order_by(Account.id)).all()
        assert [a.id for a in accounts] == list(range(1_000_000, 1_000_000 + N))
        plans: Counter[str] = Counter()
        for account in accounts:
            users = sorted(account.users, key=lambda u: u.id)
            assert 1 <= len(users) <= 3
            assert [u.profile for u in users] == ["admin"] + ["member"] * (len(users) - 1)
            assert 1 <= len(account.cards) <= 2
            assert [c.is_default for c in account.cards].count(True) == 1
            for card in account.cards:
                assert card.brand in {"Visa", "Mastercard", "Amex"}
                assert re.fullmatch(r"\d{4}", card.last4) and 1 <= card.exp_month <= 12
            assert 1 <= len(account.contracts) <= 3
            for contract in account.contracts:
                plans[contract.software_plan] += 1
                assert contract.status in CONTRACT_STATUSES
                assert contract.payment_method in PAYMENT_METHODS
                assert TODAY - timedelta(days=3 * 366) <= contract.start_date < TODAY
                keys = [c.channel_key for c in contract.channels]
                assert 1 <= len(keys) <= 3 and set(keys) <= set(bulk.CHANNELS)
                assert all(c.quantity > 0 for c in contract.channels)
                assert len(contract.payments) == len(contract.invoices) == 3
                for payment in contract.payments:
                    assert payment.status in PAYMENT_STATUSES and payment.currency == "MXN"
                    assert isinstance(payment.amount, Decimal) and payment.amount > 0
                    assert payment.date <= TODAY
                for invoice in contract.invoices:
                    assert invoice.status in INVOICE_STATUSES and invoice.currency == "MXN"
                    assert isinstance(invoice.amount, Decimal) and invoice.amount > 0
                    assert invoice.period_start <= invoice.period_end < invoice.issue_date < invoice.due_date
                    assert invoice.issue_date <= TODAY
        assert set(plans) == set(bulk.PLANS)


def test_runs_with_different_start_ids_add_up(make_store: MakeStore) -> None:
    engine = make_store("twice")
    first = bulk.generate(engine, N, seed=1, start_id=1_000_000, today=TODAY)
    # Adjacent ranges, the same seed: still no clash, as every id derives from the account id.
    second = bulk.generate(engine, N, seed=1, start_id=1_000_000 + N, today=TODAY)
    third = bulk.generate(engine, 10, seed=2, start_id=5_000_000, today=TODAY)
    for name, table in TABLES.items():
        assert table_count(engine, table) == first[name] + second[name] + third[name], name
    with pytest.raises(IntegrityError):  # the same ids again are refused, not duplicated
        bulk.generate(engine, 5, seed=1, start_id=1_000_000, today=TODAY)
    assert table_count(engine, TABLES["accounts"]) == 2 * N + 10


def test_main_upgrades_the_schema_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert bulk.main(["--accounts", "25", "--database-url", url, "--seed", "5"]) == 0
    engine = make_engine(url)
    try:
        assert current_revision(engine) is not None
        assert table_count(engine, TABLES["accounts"]) == 25
    finally:
        engine.dispose()
    assert "accounts" in capsys.readouterr().out


def test_main_adds_history_for_the_insights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    assert bulk.main(["--accounts", "5", "--history", "300", "--database-url", url]) == 0
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            senders = connection.scalar(select(func.count(func.distinct(InboundMessage.sender_id))))
            handoffs = connection.scalar(select(func.count()).select_from(Handoff))
        assert senders == 300  # one synthetic sender per conversation
        assert handoffs
    finally:
        engine.dispose()
    assert "inbound_messages" in capsys.readouterr().out


def test_sqlite_synchronous_is_restored(make_store: MakeStore) -> None:
    engine = make_store("pragma")
    with engine.connect() as connection:
        before = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    bulk.generate(engine, 3, today=TODAY)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == before
