"""Read-only views of an account's data: what answers are built from (no ORM objects leave the store)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum

# 6-7 digits standing alone: not a slice of a longer number (a card, a phone).
_NUMBER = re.compile(r"(?<!\d)(\d{6,7})(?!\d)")
# A card or phone number, possibly grouped with spaces or dashes ("3782 822463 10005"): never a contract.
_LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


class Denial(Enum):
    """Why account data is not shown."""

    ANONYMOUS = "anonymous"
    UNKNOWN_USER = "unknown_user"
    NOT_ADMIN = "not_admin"


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


def normalize_contract_number(text: str) -> str | None:
    """'zcc 100002', 'ZCC100002', '100002' -> 'ZCC-100002'; None when no contract number is present."""
    match = _NUMBER.search(_LONG_NUMBER.sub(" ", text))
    return None if match is None else f"ZCC-{match.group(1)}"


def find_contract(view: AccountView, number: str | None) -> ContractView | None:
    """The account's contract with this number; None alike for a missing number and another account's."""
    if number is None:
        return None
    return next((c for c in view.contracts if c.number == number), None)
