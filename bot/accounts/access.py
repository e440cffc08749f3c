"""Who may see what: a known user, of the Admin profile, and only contracts of their own account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.accounts.identity import Identity
from bot.accounts.views import AccountView, CardView, ContractView, Denial, InvoiceView, PaymentView
from bot.store.models import Account, Contract, User

ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """A verified Admin of one account."""

    user_id: int
    account_id: int
    name: str


def authorize(session: Session, identity: Identity | None) -> Principal | Denial:
    """Admit a verified Admin; the store, not the message, says which account and profile they have."""
    if identity is None:
        return Denial.ANONYMOUS
    user = session.get(User, identity.user_id)
    if user is None or user.account_id != identity.account_id:
        return Denial.UNKNOWN_USER
    if user.profile != ADMIN:
        return Denial.NOT_ADMIN
    return Principal(user.id, user.account_id, user.name)


def load_account(session: Session, principal: Principal) -> AccountView:
    """The principal's account, contracts with payments and invoices, and cards."""
    account = session.scalars(
        select(Account)
        .where(Account.id == principal.account_id)
        .options(
            selectinload(Account.contracts).selectinload(Contract.channels),
            selectinload(Account.contracts).selectinload(Contract.payments),
            selectinload(Account.contracts).selectinload(Contract.invoices),
            selectinload(Account.cards),
        )
    ).one()
    return AccountView(
        account_id=account.id,
        account_name=account.name,
        user_name=principal.name,
        contracts=tuple(_contract(c) for c in account.contracts),
        cards=tuple(
            CardView(c.brand, c.last4, c.holder, c.exp_month, c.exp_year, c.is_default) for c in account.cards
        ),
    )


def _contract(contract: Contract) -> ContractView:
    return ContractView(
        number=contract.number,
        status=contract.status,
        software_plan=contract.software_plan,
        start_date=contract.start_date,
        payment_method=contract.payment_method,
        channels=tuple((c.channel_key, c.quantity) for c in contract.channels),
        payments=tuple(
            PaymentView(p.date, p.amount, p.currency, p.status, p.description) for p in contract.payments
        ),
        invoices=tuple(
            InvoiceView(
                i.number,
                i.period_start,
                i.period_end,
                i.issue_date,
                i.due_date,
                i.amount,
                i.currency,
                i.status,
            )
            for i in contract.invoices
        ),
    )


def account_access(session: Session, identity: Identity | None) -> tuple[AccountView | None, Denial | None]:
    """The Admin's account view, or the reason there is none."""
    decision = authorize(session, identity)
    if isinstance(decision, Denial):
        return None, decision
    return load_account(session, decision), None
