"""A deterministic demo data set, dated relative to `today`, covering every flow an admin can try.

Re-running replaces the demo accounts (ids 1-4) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.dates import add_months
from bot.store.models import Account, Card, Contract, ContractChannel, Invoice, Payment, User

DEMO_ACCOUNT_IDS = (1, 2, 3, 4)


@dataclass(frozen=True)
class DemoUser:
    """A demo user as the README lists it."""

    email: str
    phone: str | None
    phone_verified: bool
    profile: str
    account: str


def _money(value: str) -> Decimal:
    return Decimal(value)


def _account_andina(today: date) -> Account:
    """Admin with several contracts: active (card expiring this month), suspended (invoice), cancelled."""
    account = Account(id=1, name="Andina Retail S.A.", created_at=datetime(2023, 1, 10, tzinfo=UTC))
    account.users = [
        User(
            id=1,
            name="Ana Torres",
            email="ana.torres@andina.example",
            phone="+5215510000001",
            phone_verified=True,
            profile="admin",
        ),
        User(
            id=2,
            name="Luis Gómez",
            email="luis.gomez@andina.example",
            phone="+5215510000002",
            phone_verified=True,
            profile="member",
        ),
    ]
    account.cards = [
        Card(
            id=1,
            brand="Visa",
            last4="4242",
            holder="ANA TORRES",
            exp_month=today.month,
            exp_year=today.year,
            is_default=True,
        ),
        Card(
            id=2,
            brand="Mastercard",
            last4="5454",
            holder="ANDINA RETAIL SA",
            exp_month=8,
            exp_year=today.year + 2,
            is_default=False,
        ),
    ]
    active = Contract(
        id=1,
        number="ZCC-100001",
        status="active",
        software_plan="expert",
        start_date=today - timedelta(days=400),
        payment_method="card",
    )
    active.channels = [
        ContractChannel(channel_key=k, quantity=q)
        for k, q in (("email", 10000), ("sms", 2000), ("whatsapp", 5000))
    ]
    active.payments = [
        Payment(
            date=add_months(today, -k),
            amount=_money("12500.00"),
            currency="MXN",
            status="paid",
            description="Mensualidad plan Expert",
        )
        for k in (1, 2, 3)
    ] + [
        Payment(
            date=today + timedelta(days=5),
            amount=_money("12500.00"),
            currency="MXN",
            status="pending",
            description="Próxima mensualidad plan Expert",
        )
    ]
    suspended = Contract(
        id=2,
        number="ZCC-100002",
        status="suspended",
        software_plan="specialist",
        start_date=today - timedelta(days=200),
        payment_method="invoice",
    )
    suspended.channels = [
        ContractChannel(channel_key="webchat", quantity=500),
        ContractChannel(channel_key="whatsapp", quantity=1000),
    ]
    # Invoices are issued on the 1st and due on the 16th. Counted from 16 days ago, the overdue one's due date
    # is always past (seeded on the 5th, it is last month's, not one due in eleven days); each payment
    # follows the invoice it pays, so the history reads true on whatever day the demo is seeded.
    billed = today - timedelta(days=16)
    suspended.invoices = [
        Invoice(
            number=f"F-100002-0{k}",
            period_start=add_months(billed, -4 + k).replace(day=1),
            period_end=add_months(billed, -3 + k).replace(day=1) - timedelta(days=1),
            issue_date=add_months(billed, -3 + k).replace(day=1),
            due_date=add_months(billed, -3 + k).replace(day=1) + timedelta(days=15),
            amount=_money("4800.00"),
            currency="MXN",
            status=status,
        )
        for k, status in ((1, "paid"), (2, "paid"), (3, "overdue"))
    ]
    paid_invoice, overdue_invoice = suspended.invoices[1], suspended.invoices[2]
    suspended.payments = [
        Payment(
            date=paid_invoice.issue_date + timedelta(days=4),
            amount=_money("4800.00"),
            currency="MXN",
            status="paid",
            description="Invoice F-100002-02",
        ),
        Payment(
            date=overdue_invoice.issue_date + timedelta(days=4),
            amount=_money("4800.00"),
            currency="MXN",
            status="failed",
            description="Invoice F-100002-03 (pago rechazado)",
        ),
        Payment(
            date=overdue_invoice.due_date,
            amount=_money("4800.00"),
            currency="MXN",
            status="pending",
            description="Invoice F-100002-03 (vencido)",
        ),
    ]
    cancelled = Contract(
        id=3,
        number="ZCC-100003",
        status="cancelled",
        software_plan="starter",
        start_date=today - timedelta(days=700),
        payment_method="card",
    )
    cancelled.channels = [ContractChannel(channel_key="sms", quantity=300)]
    cancelled.payments = [
        Payment(
            date=today - timedelta(days=420),
            amount=_money("990.00"),
            currency="MXN",
            status="paid",
            description="Última mensualidad plan Starter",
        )
    ]
    account.contracts = [active, suspended, cancelled]
    return account


def _account_cafe(today: date) -> Account:
    """A contract younger than a month on card payment, pending payment, with an expired card."""
    account = Account(id=2, name="Café Montaña", created_at=datetime(2024, 3, 2, tzinfo=UTC))
    account.users = [
        User(
            id=3,
            name="María Ruiz",
            email="maria.ruiz@cafemontana.example",
            phone="+5215520000003",
            phone_verified=True,
            profile="admin",
        ),
        User(
            id=4,
            name="Jorge Peña",
            email="jorge.pena@cafemontana.example",
            phone="+5215520000004",
            phone_verified=False,
            profile="member",
        ),
    ]
    expired = add_months(today, -1)
    account.cards = [
        Card(
            id=3,
            brand="Mastercard",
            last4="4444",
            holder="MARIA RUIZ",
            exp_month=expired.month,
            exp_year=expired.year,
            is_default=True,
        )
    ]
    contract = Contract(
        id=4,
        number="ZCC-200001",
        status="pending_payment",
        software_plan="professional",
        start_date=today - timedelta(days=10),
        payment_method="card",
    )
    contract.channels = [
        ContractChannel(channel_key=k, quantity=q)
        for k, q in (("instagram", 3000), ("webchat", 2000), ("whatsapp", 8000))
    ]
    contract.payments = [
        Payment(
            date=today - timedelta(days=10),
            amount=_money("18900.00"),
            currency="MXN",
            status="failed",
            description="Primera mensualidad plan Professional (tarjeta rechazada)",
        ),
        Payment(
            date=today + timedelta(days=2),
            amount=_money("18900.00"),
            currency="MXN",
            status="pending",
            description="Primera mensualidad plan Professional",
        ),
    ]
    account.contracts = [contract]
    return account


def _account_logistica(today: date) -> Account:
    """Enterprise on invoice, paid and open invoices, an admin and a member without phone."""
    account = Account(id=3, name="Logística Sur", created_at=datetime(2022, 6, 15, tzinfo=UTC))
    account.users = [
        User(
            id=5,
            name="Pedro Díaz",
            email="pedro.diaz@logisticasur.example",
            phone="+5215530000005",
            phone_verified=True,
            profile="admin",
        ),
        User(
            id=6,
            name="Sofía Vargas",
            email="sofia.vargas@logisticasur.example",
            phone=None,
            phone_verified=False,
            profile="member",
        ),
    ]
    account.cards = [
        Card(
            id=4,
            brand="American Express",
            last4="1005",
            holder="LOGISTICA SUR",
            exp_month=3,
            exp_year=today.year + 3,
            is_default=True,
        )
    ]
    contract = Contract(
        id=5,
        number="ZCC-300001",
        status="active",
        software_plan="enterprise",
        start_date=today - timedelta(days=900),
        payment_method="invoice",
    )
    contract.channels = [
        ContractChannel(channel_key=k, quantity=q)
        for k, q in (
            ("email", 50000),
            ("facebook_messenger", 4000),
            ("instagram", 4000),
            ("rcs", 5000),
            ("sms", 20000),
            ("webchat", 10000),
            ("whatsapp", 30000),
        )
    ]
    first_of_month = today.replace(day=1)
    contract.invoices = [
        Invoice(
            number=f"F-300001-{k:02d}",
            period_start=add_months(first_of_month, k - 4),
            period_end=add_months(first_of_month, k - 3) - timedelta(days=1),
            issue_date=add_months(first_of_month, k - 3),
            due_date=add_months(first_of_month, k - 3) + timedelta(days=30),
            amount=_money("86400.00"),
            currency="MXN",
            status=status,
        )
        for k, status in ((1, "paid"), (2, "paid"), (3, "open"))
    ]
    contract.payments = [
        Payment(
            date=add_months(first_of_month, k - 3) + timedelta(days=20),
            amount=_money("86400.00"),
            currency="MXN",
            status="paid",
            description=f"Invoice F-300001-{k:02d}",
        )
        for k in (1, 2)
    ] + [
        Payment(
            date=add_months(first_of_month, 0) + timedelta(days=30),
            amount=_money("86400.00"),
            currency="MXN",
            status="pending",
            description="Invoice F-300001-03",
        )
    ]
    account.contracts = [contract]
    return account


def _account_support() -> Account:
    """The support team's own account: an agent for hand-offs and a supervisor for the insights (no
    contracts)."""
    account = Account(id=4, name="Equipo de soporte", created_at=datetime(2022, 1, 1, tzinfo=UTC))
    account.users = [
        User(
            id=7,
            name="Carla Soporte",
            email="carla.soporte@soporte.example",
            phone=None,
            phone_verified=False,
            profile="agent",
        ),
        User(
            id=8,
            name="Elena Supervisión",
            email="elena.supervision@soporte.example",
            phone=None,
            phone_verified=False,
            profile="supervisor",
        ),
    ]
    return account


def demo_accounts(today: date) -> list[Account]:
    """The demo accounts, dated relative to `today`."""
    return [_account_andina(today), _account_cafe(today), _account_logistica(today), _account_support()]


def seed_demo(session: Session, today: date | None = None) -> list[Account]:
    """Replace the demo accounts with a fresh copy dated relative to `today`."""
    accounts = demo_accounts(today or date.today())
    session.execute(delete(Account).where(Account.id.in_(DEMO_ACCOUNT_IDS)))
    session.flush()
    session.add_all(accounts)
    return accounts


def demo_users(today: date | None = None) -> list[DemoUser]:
    """Every demo user, for the README and the development sign-in page."""
    return [
        DemoUser(u.email, u.phone, u.phone_verified, u.profile, a.name)
        for a in demo_accounts(today or date.today())
        for u in a.users
    ]
