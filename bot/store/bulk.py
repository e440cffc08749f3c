"""Synthetic accounts in bulk, for benchmarks: `python -m bot.store.bulk --accounts 100000` (with
`--history 100000`, as many synthetic conversations too: see `bot.store.history`).

Rows go in through SQLAlchemy Core (`insert(table)` with a list of parameter dicts, i.e. executemany), one
transaction per batch of accounts; no ORM objects are built. On SQLite the load connection runs with
`PRAGMA synchronous=OFF` (restored afterwards).

Every id is derived from the account id, so runs with different `start_id` never collide:

* account ids are `start_id .. start_id + n - 1`;
* users, cards and contracts of account `a` have ids `a * FANOUT + k` (k < 3);
* payments and invoices of contract `c` have ids `c * FANOUT + k`;
* contract numbers are `ZCC-{id:07d}` and invoice numbers `F-{contract id:07d}-{k}`: at least 7 digits, so
  they never meet the demo data's six-digit `ZCC-1xxxxx` / `F-1xxxxx-0k` numbers;
* emails are `user{id}@bulk.example` and phones `+52155` + 8 digits of the user id (E.164).

The output depends only on `seed`, `start_id`, `n_accounts` and `today`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert

from bot.store.models import CONTRACT_STATUSES, Base

FANOUT = 4
PHONE_PREFIX = "+52155"
# Added to the user id before taking 8 digits, so the default id range stays far from the demo's phones
# (+52155 10000001, 20000003, ...).
PHONE_OFFSET = 50_000_000
EMAIL_DOMAIN = "bulk.example"

PLANS = ("starter", "specialist", "expert", "professional", "enterprise")
PLAN_PRICES = {  # monthly software price, MXN cents
    "starter": 150_000,
    "specialist": 480_000,
    "expert": 1_250_000,
    "professional": 2_500_000,
    "enterprise": 6_000_000,
}
CHANNELS = ("whatsapp", "sms", "rcs", "email", "facebook_messenger", "instagram", "webchat")
QUANTITIES = (500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000)
CARD_BRANDS = ("Visa", "Mastercard", "Amex")
FIRST_NAMES = (
    "Ana", "Luis", "María", "Jorge", "Pedro", "Lucía", "Carlos", "Sofía", "Diego", "Valeria",
    "Miguel", "Camila", "José", "Fernanda", "Andrés", "Daniela", "Ricardo", "Paula", "Héctor", "Elena",
)  # fmt: skip
LAST_NAMES = (
    "Torres", "Gómez", "Ruiz", "Peña", "Díaz", "Hernández", "López", "Martínez", "García", "Sánchez",
    "Ramírez", "Flores", "Castro", "Vargas", "Morales", "Ortega", "Silva", "Reyes", "Navarro", "Rojas",
)  # fmt: skip
COMPANY_WORDS = (
    "Andina", "Montaña", "Pacífico", "Sierra", "Laguna", "Aurora", "Cóndor", "Jaguar", "Maya", "Azteca",
    "Norte", "Sur", "Valle", "Río", "Costa", "Bosque", "Cumbre", "Delta", "Nopal", "Ceiba",
)  # fmt: skip
COMPANY_KINDS = ("Retail", "Logística", "Café", "Servicios", "Comercial", "Salud", "Turismo", "Tecnología")
COMPANY_FORMS = ("S.A.", "S.A. de C.V.", "S. de R.L.", "S.C.")

# Parents before children.
TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[name]
    for name in ("accounts", "users", "cards", "contracts", "contract_channels", "payments", "invoices")
)
# Which invoice status goes with which payment status: an invoice paid was paid, an open one is pending,
# an overdue one had its payment fail.
PAYMENT_FOR_INVOICE = {"paid": "paid", "open": "pending", "overdue": "failed"}


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def phone_for(user_id: int) -> str:
    """The E.164 phone of a bulk user: `+52155` and 8 digits derived from the id."""
    return f"{PHONE_PREFIX}{(user_id + PHONE_OFFSET) % 100_000_000:08d}"


def _cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


class _Rows:
    """The parameter lists of one batch, one per table."""

    def __init__(self) -> None:
        self.by_table: dict[str, list[dict[str, Any]]] = {table.name: [] for table in TABLES}

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.by_table[table].append(row)


def _account(rng: random.Random, account_id: int, today: date, rows: _Rows) -> None:
    """Append the rows of one account (its users, cards, contracts and their history)."""
    company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} {rng.choice(COMPANY_FORMS)}"
    starts = sorted(today - timedelta(days=rng.randint(90, 3 * 365)) for _ in range(rng.randint(1, 3)))
    created = starts[0] - timedelta(days=rng.randint(0, 60))
    rows.add(
        "accounts",
        {
            "id": account_id,
            "name": f"{company} #{account_id}",
            "created_at": datetime(created.year, created.month, created.day, 9, 0, tzinfo=UTC),
        },
    )

    admin_name = ""
    for k in range(rng.randint(1, 3)):
        user_id = account_id * FANOUT + k
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        admin_name = admin_name or name
        has_phone = k == 0 or rng.random() < 0.6
        rows.add(
            "users",
            {
                "id": user_id,
                "account_id": account_id,
                "name": name,
                "email": f"user{user_id}@{EMAIL_DOMAIN}",
                "phone": phone_for(user_id) if has_phone else None,
                "phone_verified": has_phone and rng.random() < 0.7,
                "profile": "admin" if k == 0 else "member",
            },
        )

    for k in range(rng.randint(1, 2)):
        rows.add(
            "cards",
            {
                "id": account_id * FANOUT + k,
                "account_id": account_id,
                "brand": rng.choice(CARD_BRANDS),
                "last4": f"{rng.randint(0, 9999):04d}",
                "holder": (admin_name if k == 0 else company).upper(),
                "exp_month": rng.randint(1, 12),
                "exp_year": today.year + rng.randint(-1, 5),
                "is_default": k == 0,
            },
        )

    for k, start in enumerate(starts):
        _contract(rng, account_id, account_id * FANOUT + k, start, today, rows)


def _contract(
    rng: random.Random, account_id: int, contract_id: int, start: date, today: date, rows: _Rows
) -> None:
    plan = rng.choice(PLANS)
    status = rng.choices(CONTRACT_STATUSES, weights=(70, 10, 10, 10))[0]
    rows.add(
        "contracts",
        {
            "id": contract_id,
            "number": f"ZCC-{contract_id:07d}",
            "account_id": account_id,
            "status": status,
            "software_plan": plan,
            "start_date": start,
            "payment_method": rng.choices(("card", "invoice"), weights=(75, 25))[0],
        },
    )
    monthly = PLAN_PRICES[plan]
    for channel in rng.sample(CHANNELS, rng.randint(1, 3)):
        quantity = rng.choice(QUANTITIES)
        monthly += quantity * 15  # 0.15 MXN a message
        rows.add(
            "contract_channels", {"contract_id": contract_id, "channel_key": channel, "quantity": quantity}
        )

    amount = _cents(monthly)
    this_month = today.replace(day=1)
    for k in range(1, 4):  # the three months before this one, the latest first
        period_start = add_months(this_month, -k)
        issue_date = add_months(this_month, -k + 1)
        due_date = issue_date + timedelta(days=15)
        if due_date >= today:
            invoice_status = "paid" if rng.random() < 0.6 else "open"
        else:
            invoice_status = "paid" if rng.random() < 0.85 else "overdue"
        item = FANOUT * contract_id + k
        number = f"F-{contract_id:07d}-{k}"
        rows.add(
            "invoices",
            {
                "id": item,
                "number": number,
                "contract_id": contract_id,
                "period_start": period_start,
                "period_end": issue_date - timedelta(days=1),
                "issue_date": issue_date,
                "due_date": due_date,
                "amount": amount,
                "currency": "MXN",
                "status": invoice_status,
            },
        )
        payment_status = PAYMENT_FOR_INVOICE[invoice_status]
        rows.add(
            "payments",
            {
                "id": item,
                "contract_id": contract_id,
                "date": min(today, issue_date + timedelta(days=rng.randint(0, 14))),
                "amount": amount,
                "currency": "MXN",
                "status": payment_status,
                "description": f"Invoice {number}",
            },
        )


@contextmanager
def _load_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for the load; on SQLite with `synchronous=OFF`, put back as it was afterwards."""
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            yield connection
            return
        previous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        connection.commit()
        try:
            yield connection
        finally:
            connection.rollback()
            connection.exec_driver_sql(f"PRAGMA synchronous={2 if previous is None else int(previous)}")
            connection.commit()


def generate(
    engine: Engine,
    n_accounts: int,
    *,
    seed: int = 1,
    start_id: int = 1_000_000,
    batch: int = 5000,
    today: date | None = None,
) -> dict[str, int]:
    """Insert `n_accounts` synthetic accounts (ids from `start_id`) and return the rows written per table.

    The schema must be current (see `bot.store.migrate.upgrade`). Each batch of accounts is one transaction.
    """
    if n_accounts < 0 or batch < 1 or start_id < 1:
        raise ValueError("n_accounts must be >= 0, batch and start_id >= 1")
    today = today or date.today()
    rng = random.Random(seed)
    counts = {table.name: 0 for table in TABLES}
    with _load_connection(engine) as connection:
        for first in range(start_id, start_id + n_accounts, batch):
            rows = _Rows()
            for account_id in range(first, min(first + batch, start_id + n_accounts)):
                _account(rng, account_id, today, rows)
            with connection.begin():
                for table in TABLES:
                    params = rows.by_table[table.name]
                    if params:
                        connection.execute(insert(table), params)
                        counts[table.name] += len(params)
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: upgrade the store's schema, then load synthetic accounts into it."""
    from bot.settings import get_settings
    from bot.store import history
    from bot.store.db import make_engine
    from bot.store.migrate import upgrade

    parser = argparse.ArgumentParser(
        prog="python -m bot.store.bulk", description="Load synthetic accounts into the store (benchmarks)."
    )
    parser.add_argument("--accounts", type=int, required=True, help="how many accounts to create")
    parser.add_argument("--database-url", help="store URL (default: the configured database_url)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    parser.add_argument("--start-id", type=int, default=1_000_000, help="id of the first account")
    parser.add_argument("--batch", type=int, default=5000, help="accounts per transaction")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="CONVERSATIONS",
        help="also this many synthetic conversations of the last 30 days (bot.store.history)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 0 or args.batch < 1 or args.start_id < 1 or args.history < 0:
        parser.error("--accounts and --history must be >= 0, --batch and --start-id >= 1")

    engine = make_engine(args.database_url or get_settings().database_url)
    try:
        upgrade(engine)
        began = time.perf_counter()
        counts = generate(engine, args.accounts, seed=args.seed, start_id=args.start_id, batch=args.batch)
        if args.history:
            with _load_connection(engine) as connection, connection.begin():
                messages, handoffs = history.add(
                    connection, args.history, 30, datetime.now(UTC), seed=args.seed, batch=10_000
                )
            counts["inbound_messages"], counts["handoffs"] = messages, handoffs
        elapsed = time.perf_counter() - began
    finally:
        engine.dispose()
    for table, count in counts.items():
        print(f"{table:>18}: {count:>10,}")
    total = sum(counts.values())
    print(f"{'total':>18}: {total:>10,} rows in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
