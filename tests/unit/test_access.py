"""Who may see account data: identity from metadata, the store's profile rules, own contracts only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.accounts.access import Principal, account_access, authorize, load_account
from bot.accounts.identity import Identity, identity_from_metadata
from bot.accounts.views import AccountView, Denial, find_contract, normalize_contract_number
from bot.store.demo import seed_demo

TODAY = date(2026, 11, 26)


@pytest.fixture
def demo(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The seeded store with the demo accounts dated relative to TODAY."""
    with sessions.begin() as session:
        seed_demo(session, today=TODAY)
    return sessions


def decide(store: sessionmaker[Session], identity: Identity | None) -> Principal | Denial:
    with store() as session:
        return authorize(session, identity)


def view_of(store: sessionmaker[Session], user_id: int, account_id: int) -> AccountView:
    with store() as session:
        view, denial = account_access(session, Identity(user_id=user_id, account_id=account_id))
    assert denial is None and view is not None
    return view


# --- authorize -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "account_id", "name"),
    [(1, 1, "Ana Torres"), (3, 2, "María Ruiz"), (5, 3, "Pedro Díaz")],
)
def test_admin_is_admitted_to_their_own_account(
    demo: sessionmaker[Session], user_id: int, account_id: int, name: str
) -> None:
    assert decide(demo, Identity(user_id=user_id, account_id=account_id)) == Principal(
        user_id, account_id, name
    )


@pytest.mark.parametrize(
    ("user_id", "account_id"),
    [(2, 1), (4, 2), (6, 3)],
    ids=["luis-member", "jorge-member", "sofia-member"],
)
def test_member_is_not_admin(demo: sessionmaker[Session], user_id: int, account_id: int) -> None:
    assert decide(demo, Identity(user_id=user_id, account_id=account_id)) is Denial.NOT_ADMIN


def test_support_agent_is_not_admin(demo: sessionmaker[Session]) -> None:
    assert decide(demo, Identity(user_id=7, account_id=4)) is Denial.NOT_ADMIN


def test_unknown_user_id(demo: sessionmaker[Session]) -> None:
    assert decide(demo, Identity(user_id=999, account_id=1)) is Denial.UNKNOWN_USER


@pytest.mark.parametrize(
    ("user_id", "account_id"),
    [(1, 2), (1, 3), (3, 1), (5, 2), (2, 2)],
    ids=["ana-claims-2", "ana-claims-3", "maria-claims-1", "pedro-claims-2", "luis-claims-2"],
)
def test_user_claiming_another_account_is_unknown(
    demo: sessionmaker[Session], user_id: int, account_id: int
) -> None:
    assert decide(demo, Identity(user_id=user_id, account_id=account_id)) is Denial.UNKNOWN_USER


def test_no_identity_is_anonymous(demo: sessionmaker[Session]) -> None:
    assert decide(demo, None) is Denial.ANONYMOUS


def test_account_access_returns_view_or_reason(demo: sessionmaker[Session]) -> None:
    with demo() as session:
        assert account_access(session, None) == (None, Denial.ANONYMOUS)
        assert account_access(session, Identity(user_id=2, account_id=1)) == (None, Denial.NOT_ADMIN)
        assert account_access(session, Identity(user_id=1, account_id=2)) == (None, Denial.UNKNOWN_USER)
        view, denial = account_access(session, Identity(user_id=1, account_id=1))
    assert denial is None and view is not None
    assert view.account_id == 1 and view.user_name == "Ana Torres"


# --- identity from metadata ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"identity": "x"},
        {"identity": None},
        {"identity": [1, 1]},
        {"identity": {}},
        {"identity": {"user_id": "abc"}},
        {"identity": {"user_id": 1}},
        {"identity": {"user_id": "abc", "account_id": 1}},
        {"user_id": 1, "account_id": 1},
    ],
    ids=repr,
)
def test_junk_metadata_is_anonymous(metadata: Any) -> None:
    assert identity_from_metadata(metadata) is None


def test_valid_metadata_gives_identity() -> None:
    identity = identity_from_metadata({"identity": {"user_id": 1, "account_id": 1}})
    assert identity == Identity(user_id=1, account_id=1)


@pytest.mark.parametrize(
    "metadata",
    [
        {"identity": {"user_id": 2, "account_id": 1}, "profile": "admin"},
        {"identity": {"user_id": 2, "account_id": 1, "profile": "admin"}},
        {"identity": {"user_id": 2, "account_id": 1, "profile": "admin", "is_admin": True}},
    ],
    ids=["profile-beside", "profile-inside", "profile-and-flag-inside"],
)
def test_claimed_profile_in_metadata_changes_nothing(demo: sessionmaker[Session], metadata: Any) -> None:
    identity = identity_from_metadata(metadata)
    assert identity == Identity(user_id=2, account_id=1)
    assert decide(demo, identity) is Denial.NOT_ADMIN


# --- contract numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zcc 100002", "ZCC-100002"),
        ("ZCC100002", "ZCC-100002"),
        ("ZCC-100002", "ZCC-100002"),
        ("zcc-100002", "ZCC-100002"),
        ("100002", "ZCC-100002"),
        ("  el contrato zcc 100002 por favor ", "ZCC-100002"),
        ('/inform_contract_number{"contract_number":"ZCC-100002"}', "ZCC-100002"),
        ("ZCC-1000456", "ZCC-1000456"),
        ("hola", None),
        ("", None),
        ("soy el admin de la cuenta 2", None),
        ("12345", None),
        ("ZCC-12345678", None),
    ],
)
def test_normalize_contract_number(text: str, expected: str | None) -> None:
    assert normalize_contract_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "mi tarjeta es 4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",
        "+5215510000001",
        "+52 1 55 1000 0001",
    ],
)
def test_card_or_phone_number_is_not_a_contract_number(text: str) -> None:
    assert normalize_contract_number(text) is None


def test_find_contract_is_none_alike_for_missing_and_foreign(demo: sessionmaker[Session]) -> None:
    andina = view_of(demo, 1, 1)
    found = find_contract(andina, "ZCC-100002")
    assert found is not None and found.status == "suspended"
    assert find_contract(andina, "ZCC-999999") is None
    assert find_contract(andina, "ZCC-200001") is None
    assert find_contract(andina, "ZCC-300001") is None
    assert find_contract(andina, None) is None


def test_find_contract_needs_the_normalised_number(demo: sessionmaker[Session]) -> None:
    andina = view_of(demo, 1, 1)
    assert find_contract(andina, "100002") is None
    assert find_contract(andina, normalize_contract_number("100002")) is not None


# --- what an admin's view holds --------------------------------------------------------------------


def test_view_holds_only_the_own_account(demo: sessionmaker[Session]) -> None:
    andina = view_of(demo, 1, 1)
    assert [c.number for c in andina.contracts] == ["ZCC-100001", "ZCC-100002", "ZCC-100003"]
    assert [c.last4 for c in andina.cards] == ["4242", "5454"]
    cafe = view_of(demo, 3, 2)
    assert [c.number for c in cafe.contracts] == ["ZCC-200001"]
    assert [c.last4 for c in cafe.cards] == ["4444"]
    logistica = view_of(demo, 5, 3)
    assert [c.number for c in logistica.contracts] == ["ZCC-300001"]


def test_view_lists_payments_and_invoices_newest_first(demo: sessionmaker[Session]) -> None:
    suspended = find_contract(view_of(demo, 1, 1), "ZCC-100002")
    assert suspended is not None
    dates = [p.date for p in suspended.payments]
    assert dates == sorted(dates, reverse=True)
    assert [p.status for p in suspended.payments] == ["pending", "failed", "paid"]
    assert [i.number for i in suspended.invoices] == ["F-100002-03", "F-100002-02", "F-100002-01"]


def test_load_account_uses_the_principal_only(demo: sessionmaker[Session]) -> None:
    with demo() as session:
        view = load_account(session, Principal(3, 2, "María Ruiz"))
    assert view.account_name == "Café Montaña"
    assert view.user_name == "María Ruiz"


def test_reseeding_replaces_demo_accounts(demo: sessionmaker[Session]) -> None:
    with demo.begin() as session:
        seed_demo(session, today=TODAY)
    assert [c.number for c in view_of(demo, 1, 1).contracts] == ["ZCC-100001", "ZCC-100002", "ZCC-100003"]
