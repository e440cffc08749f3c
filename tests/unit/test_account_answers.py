"""Account answers built from a verified Admin's own data: contracts, payments, invoices and cards."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.accounts.access import account_access
from bot.accounts.identity import Identity
from bot.accounts.views import AccountView, Denial
from bot.answers.account import day
from bot.answers.dispatch import ACCOUNT_INTENTS, answer
from bot.answers.question import Question
from bot.answers.reply import WHATSAPP_LIMIT, Reply
from bot.catalogue.models import Catalogue
from bot.dates import add_months
from bot.store.db import make_engine, make_sessionmaker
from bot.store.demo import seed_demo
from bot.store.models import Base

TODAY = date(2026, 11, 26)
ADMINS = {1: 1, 2: 3, 3: 5}  # account id -> its Admin's user id
CONTRACTS = {1: ("ZCC-100001", "ZCC-100002", "ZCC-100003"), 2: ("ZCC-200001",), 3: ("ZCC-300001",)}
ALL_NUMBERS = tuple(n for numbers in CONTRACTS.values() for n in numbers)
# What only one account's replies may show: contract numbers, card digits, amounts, invoice numbers.
OWN_DATA = {
    1: (*CONTRACTS[1], "4242", "5454", "12,500.00", "4,800.00", "F-100002", "Andina", "ANA TORRES"),
    2: (*CONTRACTS[2], "4444", "18,900.00", "Café Montaña", "MARIA RUIZ"),
    3: (*CONTRACTS[3], "1005", "86,400.00", "F-300001", "Logística Sur", "LOGISTICA SUR"),
}
DENIALS = (Denial.ANONYMOUS, Denial.UNKNOWN_USER, Denial.NOT_ADMIN)


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[int, AccountView]:
    """Each demo account as its Admin sees it, from a real SQLite store seeded for TODAY."""
    path: Path = tmp_path_factory.mktemp("accounts") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        seed_demo(session, today=TODAY)
    result: dict[int, AccountView] = {}
    with factory() as session:
        for account_id, user_id in ADMINS.items():
            view, denial = account_access(session, Identity(user_id=user_id, account_id=account_id))
            assert denial is None and view is not None
            result[account_id] = view
    engine.dispose()
    return result


def ask(
    catalogue: Catalogue,
    intent: str,
    account: AccountView | None = None,
    *,
    number: str | None = None,
    denial: Denial | None = None,
) -> Reply:
    question = Question(intent, account=account, denial=denial, contract_number=number, today=TODAY)
    return answer(catalogue, question)


def said(reply: Reply) -> str:
    """All the text of a reply, button titles and payloads included."""
    parts: list[str] = []
    for message in reply.messages:
        parts.append(message.text)
        parts += [f"{b.title} {b.payload}" for b in message.buttons]
    return "\n".join(parts)


def texts(reply: Reply) -> str:
    return "\n".join(m.text for m in reply.messages)


# --- Contract status -------------------------------------------------------------------------------


def test_status_of_the_only_contract(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    reply = ask(catalogue, "ask_contract_status", views[2])
    text = texts(reply)
    assert not reply.awaiting
    assert "ZCC-200001" in text
    assert "Pago pendiente" in text
    assert "Plan de software: Professional" in text
    assert "$18,900.00 MXN" in text
    assert "tarjeta de crédito" in text
    assert "Gestionar tarjetas" in text and "Agregar tarjeta" in text
    assert "Ajustes > Planes y contratos" in text
    assert f"Inicio: {day(TODAY - timedelta(days=10))}" in text
    assert reply.context is not None and reply.context.topic == "ask_contract_status"


def test_status_of_several_contracts_lists_all_and_offers_buttons(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    reply = ask(catalogue, "ask_contract_status", views[1])
    assert len(reply.messages) == 1
    message = reply.messages[0]
    lines = message.text.splitlines()
    assert "3 contratos" in lines[0]
    assert any(line.startswith("• ZCC-100001: Activo") for line in lines)
    assert any(line.startswith("• ZCC-100002: Suspendido") for line in lines)
    assert any(line.startswith("• ZCC-100003: Cancelado") for line in lines)
    assert [b.title for b in message.buttons] == [
        "ZCC-100001 · Expert · Activo",
        "ZCC-100002 · Specialist · Suspendido",
        "ZCC-100003 · Starter · Cancelado",
    ]
    assert [b.payload for b in message.buttons] == [
        f'/ask_contract_status{{"contract_number":"{n}"}}' for n in CONTRACTS[1]
    ]


def test_suspended_contract_points_to_the_pending_payment(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    text = texts(ask(catalogue, "ask_contract_status", views[1], number="ZCC-100002"))
    assert "Contrato ZCC-100002: Suspendido" in text
    assert "Plan de software: Specialist" in text
    assert "invoice (factura)" in text
    assert "Pago pendiente: $4,800.00 MXN" in text
    assert "Configuraciones > Información financiera" in text


def test_cancelled_contract_says_how_to_contract_again(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    text = texts(ask(catalogue, "ask_contract_status", views[1], number="ZCC-100003"))
    assert "Contrato ZCC-100003: Cancelado" in text
    assert "sitio web de Zenvia" in text
    assert "Pago pendiente" not in text


@pytest.mark.parametrize(
    ("account_id", "foreign"),
    [(1, "ZCC-200001"), (1, "ZCC-300001"), (2, "ZCC-100002"), (2, "ZCC-300001"), (3, "ZCC-100001")],
)
@pytest.mark.parametrize("intent", ["ask_contract_status", "ask_financial_info", "ask_invoice"])
def test_another_accounts_number_reads_like_a_missing_one(
    catalogue: Catalogue, views: dict[int, AccountView], account_id: int, foreign: str, intent: str
) -> None:
    view = views[account_id]
    other = ask(catalogue, intent, view, number=foreign)
    missing = ask(catalogue, intent, view, number="ZCC-999999")
    assert said(other).replace(foreign, "ZCC-?") == said(missing).replace("ZCC-999999", "ZCC-?")
    assert other.awaiting == missing.awaiting
    assert other.context == missing.context
    owner = next(a for a, numbers in CONTRACTS.items() if foreign in numbers)
    shown = said(other).replace(foreign, "")
    assert not [leak for leak in OWN_DATA[owner] if leak in shown]
    assert [b.title.split()[0] for b in other.messages[0].buttons] == list(CONTRACTS[account_id])


# --- Financial information -------------------------------------------------------------------------


def test_financial_info_with_several_contracts_asks_which(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    reply = ask(catalogue, "ask_financial_info", views[1])
    assert reply.awaiting
    assert said(reply).startswith("¿De cuál contrato quieres ver los pagos?")
    assert [b.payload for b in reply.messages[0].buttons] == [
        f'/ask_financial_info{{"contract_number":"{n}"}}' for n in CONTRACTS[1]
    ]


def test_financial_info_of_a_contract(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    reply = ask(catalogue, "ask_financial_info", views[1], number="ZCC-100002")
    assert not reply.awaiting
    lines = texts(reply).splitlines()
    assert lines[0] == "Información financiera del contrato ZCC-100002:"
    # Seeded on 26/11: F-100002-03 issued 01/11, due 16/11, refused on 05/11; F-100002-02 paid 05/10.
    overdue, failed, paid = date(2026, 11, 16), date(2026, 11, 5), date(2026, 10, 5)
    assert f"Pago vencido: $4,800.00 MXN el {day(overdue)} (Invoice F-100002-03 (vencido))." in lines
    assert f"Pagos rechazados: 1 (el último por $4,800.00 MXN el {day(failed)})." in lines
    assert "Pagos realizados: 1." in lines
    history = [line for line in lines if line.startswith("• ")]
    assert history == [
        f"• {day(overdue)} $4,800.00 MXN — pendiente — Invoice F-100002-03 (vencido)",
        f"• {day(failed)} $4,800.00 MXN — rechazado — Invoice F-100002-03 (pago rechazado)",
        f"• {day(paid)} $4,800.00 MXN — pagado — Invoice F-100002-02",
    ]
    assert "Configuraciones > Información financiera" in lines[-1]


def test_financial_info_of_the_only_contract_needs_no_choice(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    reply = ask(catalogue, "ask_financial_info", views[2])
    text = texts(reply)
    assert not reply.awaiting
    assert "Información financiera del contrato ZCC-200001" in text
    assert "Próximo pago: $18,900.00 MXN" in text
    assert "Pagos rechazados: 1" in text
    assert "Pagos realizados: 0." in text
    assert "Agregar tarjeta" in text


def test_financial_info_without_problems(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    text = texts(ask(catalogue, "ask_financial_info", views[1], number="ZCC-100003"))
    assert "No tienes pagos pendientes." in text
    assert "Pagos rechazados" not in text
    assert "Pagos realizados: 1." in text


# --- Invoices --------------------------------------------------------------------------------------


def test_invoices_of_an_invoice_contract(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    reply = ask(catalogue, "ask_invoice", views[1], number="ZCC-100002")
    lines = texts(reply).splitlines()
    assert lines[0] == "Invoices del contrato ZCC-100002:"
    invoices = [line for line in lines if line.startswith("• ")]
    assert [line.split(":")[0] for line in invoices] == ["• F-100002-03", "• F-100002-02", "• F-100002-01"]
    assert all("$4,800.00 MXN" in line for line in invoices)
    assert invoices[0].endswith(f"vencido (vence {day(date(2026, 11, 16))})")
    assert "pagado" in invoices[1] and "pagado" in invoices[2]
    assert "periodo 01/10/2026 a 31/10/2026" in invoices[0]
    assert "periodo 01/09/2026 a 30/09/2026" in invoices[1]
    assert "periodo 01/08/2026 a 31/08/2026" in invoices[2]
    assert "Descárgalos en Configuraciones > Información financiera." in lines


def test_invoices_of_a_young_card_contract_say_when_invoice_is_possible(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    start = TODAY - timedelta(days=10)
    possible_from = add_months(start, 1)
    text = texts(ask(catalogue, "ask_invoice", views[2]))
    assert "ZCC-200001" in text
    assert "no tiene invoices" in text
    assert catalogue.facts.invoice_rule in text
    assert f"empezó el {day(start)}" in text
    assert f"a partir del {day(possible_from)}" in text
    assert day(possible_from) == "16/12/2026"


def test_invoices_of_an_old_card_contract_say_invoice_is_possible_now(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    text = texts(ask(catalogue, "ask_invoice", views[1], number="ZCC-100001"))
    assert "ya cumple un mes de uso" in text
    assert "a partir del" not in text


def test_invoices_with_several_contracts_ask_which(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    reply = ask(catalogue, "ask_invoice", views[1])
    assert reply.awaiting and said(reply).startswith("¿De cuál contrato quieres ver los invoices?")


# --- Cards -----------------------------------------------------------------------------------------


def test_card_expiring_this_month(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    text = texts(ask(catalogue, "ask_card_on_file", views[1]))
    assert "Visa terminada en 4242, titular ANA TORRES, vence 11/2026 (predeterminada)" in text
    assert "Mastercard terminada en 5454" in text
    assert "La tarjeta Visa terminada en 4242 vence este mes (11/2026)." in text
    assert "5454 vence este mes" not in text
    for step in ("Gestionar tarjetas", "Agregar tarjeta", "My Wallet"):
        assert step in text
    assert "Nunca compartas" in text


def test_expired_card(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    text = texts(ask(catalogue, "ask_card_on_file", views[2]))
    assert "Mastercard terminada en 4444" in text
    assert "La tarjeta Mastercard terminada en 4444 venció en 10/2026." in text
    assert "Agregar tarjeta" in text


def test_valid_cards_get_no_warning(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    text = texts(ask(catalogue, "ask_card_on_file", views[3]))
    assert "American Express terminada en 1005" in text
    assert "venció" not in text and "vence este mes" not in text


def test_card_problem_names_the_expired_card_first(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    reply = ask(catalogue, "card_problem", views[2])
    assert len(reply.messages) == 2
    cause, checklist = (m.text for m in reply.messages)
    assert cause.startswith("Probable causa: tu tarjeta Mastercard terminada en 4444 venció en 10/2026.")
    assert "Agregar tarjeta" in cause
    for line in catalogue.facts.card_checklist:
        assert f"• {line}" in checklist
    assert catalogue.facts.card_issuer_advice in checklist


def test_card_problem_without_expired_card_is_the_checklist(
    catalogue: Catalogue, views: dict[int, AccountView]
) -> None:
    general = ask(catalogue, "card_problem")
    assert said(ask(catalogue, "card_problem", views[1])) == said(general)
    assert "Probable causa" not in said(general)


# --- Refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("intent", ["ask_contract_status", "ask_financial_info", "ask_card_on_file"])
def test_not_admin_is_refused_without_data(catalogue: Catalogue, intent: str) -> None:
    reply = ask(catalogue, intent, denial=Denial.NOT_ADMIN)
    text = said(reply)
    assert "perfil de Admin" in text
    assert "Tu perfil no es Admin" in text
    assert not reply.awaiting
    assert not [n for n in ALL_NUMBERS if n in text]
    assert "ZCC-" not in text and "$" not in text


@pytest.mark.parametrize("denial", [Denial.ANONYMOUS, Denial.UNKNOWN_USER])
@pytest.mark.parametrize("intent", ["ask_contract_status", "ask_financial_info", "ask_card_on_file"])
def test_anonymous_is_asked_to_sign_in(catalogue: Catalogue, intent: str, denial: Denial) -> None:
    text = said(ask(catalogue, intent, denial=denial))
    assert "Si inicias sesión con un usuario de perfil Admin" in text
    assert "perfil Admin" in text
    assert "ZCC-" not in text


def test_invoices_for_anonymous_give_the_general_rule(catalogue: Catalogue) -> None:
    reply = ask(catalogue, "ask_invoice", denial=Denial.ANONYMOUS)
    text = texts(reply)
    assert catalogue.facts.invoice_rule in text
    assert catalogue.facts.invoice_location in text
    assert "Si inicias sesión con un usuario de perfil Admin" in text
    assert "ZCC-" not in text


def test_invoices_for_a_member_give_the_rule_and_the_refusal(catalogue: Catalogue) -> None:
    text = texts(ask(catalogue, "ask_invoice", denial=Denial.NOT_ADMIN))
    assert catalogue.facts.invoice_rule in text
    assert "perfil de Admin" in text
    assert "ZCC-" not in text


# --- Properties of every account reply -------------------------------------------------------------

NUMBERS = (None, *ALL_NUMBERS, "ZCC-999999")


@pytest.mark.parametrize(
    ("account_id", "intent", "number"),
    list(itertools.product(ADMINS, sorted(ACCOUNT_INTENTS), NUMBERS)),
)
def test_replies_never_show_another_accounts_data(
    catalogue: Catalogue, views: dict[int, AccountView], account_id: int, intent: str, number: str | None
) -> None:
    reply = ask(catalogue, intent, views[account_id], number=number)
    # The named number itself is echoed back ("No encontré el contrato …"), never the data behind it.
    shown = said(reply).replace(number, "") if number else said(reply)
    others = [item for owner, data in OWN_DATA.items() if owner != account_id for item in data]
    assert not [leak for leak in others if leak in shown]
    assert all(len(m.text) <= WHATSAPP_LIMIT for m in reply.messages)
    assert reply.messages


def test_account_one_never_sees_the_named_values(catalogue: Catalogue, views: dict[int, AccountView]) -> None:
    forbidden = ("ZCC-200001", "ZCC-300001", "4444", "1005", "18,900.00", "86,400.00")
    for intent in sorted(ACCOUNT_INTENTS):
        for number in (None, *CONTRACTS[1]):
            shown = said(ask(catalogue, intent, views[1], number=number))
            assert not [f for f in forbidden if f in shown], (intent, number)


@pytest.mark.parametrize("denial", DENIALS)
@pytest.mark.parametrize("intent", sorted(ACCOUNT_INTENTS))
def test_refusals_fit_whatsapp_and_show_no_account_data(
    catalogue: Catalogue, intent: str, denial: Denial
) -> None:
    reply = ask(catalogue, intent, denial=denial, number="ZCC-100002")
    assert reply.messages
    assert all(len(m.text) <= WHATSAPP_LIMIT for m in reply.messages)
    shown = said(reply)
    assert not [item for data in OWN_DATA.values() for item in data if item in shown]
