"""Read-only views of an account's data: what answers are built from (no ORM objects leave the store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class PaymentView:
    """A payment of a contract."""

    date: date
    amount: Decimal
    currency: str
    status: str
    description: str


@dataclass(frozen=True)
class InvoiceView:
    """An invoice of a contract."""

    number: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    amount: Decimal
    currency: str
    status: str


@dataclass(frozen=True)
class ContractView:
    """A contract with its channels package, payments (newest first) and invoices (newest first)."""

    number: str
    status: str
    software_plan: str
    start_date: date
    payment_method: str
    channels: tuple[tuple[str, int], ...]
    payments: tuple[PaymentView, ...]
    invoices: tuple[InvoiceView, ...]


@dataclass(frozen=True)
class CardView:
    """A card on file: brand, last 4 digits, holder and expiry only."""

    brand: str
    last4: str
    holder: str
    exp_month: int
    exp_year: int
    is_default: bool


@dataclass(frozen=True)
class AccountView:
    """Everything an Admin may see of their own account."""

    account_id: int
    account_name: str
    user_name: str
    contracts: tuple[ContractView, ...]
    cards: tuple[CardView, ...]
