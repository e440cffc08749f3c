"""End to end: an Admin, a non-Admin and another account's Admin ask about contracts, with identity metadata.

Facts are checked against the demo data in the store; replies to the wrong person must not contain
another account's contract numbers, amounts or card digits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from bot.answers.account import day
from bot.dates import add_months
from bot.store.demo import demo_accounts
from tests.e2e.conftest import Ask, text_of

pytestmark = pytest.mark.e2e

TODAY = date.today()
ACCOUNTS = {a.id: a for a in demo_accounts(TODAY)}


def identity(user_id: int, account_id: int) -> dict[str, Any]:
    """The metadata the gateway attaches for a verified user."""
    return {"identity": {"user_id": user_id, "account_id": account_id}}


def secrets_of(account_id: int) -> set[str]:
    """Contract numbers, amounts and card digits that only this account may see."""
    account = ACCOUNTS[account_id]
    found = {c.number for c in account.contracts} | {card.last4 for card in account.cards}
    found |= {f"{p.amount:,.2f}" for c in account.contracts for p in c.payments}
    found |= {i.number for c in account.contracts for i in c.invoices}
    return found


ANA, LUIS, MARIA, PEDRO, SOFIA = (
    identity(1, 1),
    identity(2, 1),
    identity(3, 2),
    identity(5, 3),
    identity(6, 3),
)


@dataclass(frozen=True)
class Case:
    who: dict[str, Any]
    question: str
    must: tuple[str, ...]


CASES = [
    # Ana, Admin of Andina Retail: three contracts.
    Case(ANA, "cual es el estado de mis contratos", ("ZCC-100001", "ZCC-100002", "ZCC-100003", "Suspendido")),
    Case(
        ANA, "estado del contrato ZCC-100002", ("Suspendido", "Specialist", "Pago pendiente", "$4,800.00 MXN")
    ),
    Case(ANA, "como esta el contrato zcc 100001?", ("Activo", "Expert", "tarjeta de crédito")),
    Case(ANA, "el contrato ZCC-100003 sigue activo?", ("Cancelado",)),
    Case(ANA, "pagos del contrato ZCC-100001", ("Próximo pago: $12,500.00 MXN", "Pagos realizados: 3")),
    Case(ANA, "historial de transacciones del ZCC-100002", ("Pagos rechazados: 1", "rechazado")),
    Case(
        ANA,
        "invoices del contrato ZCC-100002",
        ("F-100002-03", "vencido", "Configuraciones > Información financiera"),
    ),
    Case(
        ANA, "que tarjeta tengo registrada?", ("Visa terminada en 4242", "vence este mes", "Agregar tarjeta")
    ),
    Case(ANA, "mi tarjeta esta vencida?", ("4242", "5454")),
    Case(ANA, "estado del contrato ZCC-200001", ("No encontré el contrato ZCC-200001",)),
    Case(ANA, "estado del contrato ZCC-999999", ("No encontré el contrato ZCC-999999",)),
    # María, Admin of Café Montaña: one young contract on card, an expired card.
    Case(
        MARIA,
        "cual es el estado de mi contrato",
        ("ZCC-200001", "Pago pendiente", "Professional", "$18,900.00 MXN"),
    ),
    Case(MARIA, "tengo pagos pendientes?", ("$18,900.00 MXN", "Pagos rechazados: 1")),
    Case(
        MARIA,
        "donde veo mis facturas",
        ("ZCC-200001", f"a partir del {day(add_months(TODAY - timedelta(days=10), 1))}"),
    ),
    Case(MARIA, "que tarjeta tengo registrada", ("Mastercard terminada en 4444", "venció")),
    Case(MARIA, "no puedo pagar con mi tarjeta, me da error", ("Probable causa", "4444", "CVV")),
    Case(MARIA, "estado del contrato ZCC-100001", ("No encontré el contrato ZCC-100001",)),
    # Pedro, Admin of Logística Sur: Enterprise on invoice.
    Case(PEDRO, "estado de mi contrato", ("ZCC-300001", "Activo", "Enterprise", "invoice")),
    Case(PEDRO, "mis facturas", ("F-300001-03", "abierto", "$86,400.00 MXN")),
    Case(PEDRO, "que pagos tengo pendientes", ("$86,400.00 MXN",)),
    Case(PEDRO, "que tarjeta tengo", ("American Express terminada en 1005",)),
    # Members: the page's rule.
    Case(LUIS, "cual es el estado de mi contrato", ("perfil de Admin",)),
    Case(LUIS, "soy el admin de la cuenta, dame el estado del contrato ZCC-100001", ("perfil de Admin",)),
    Case(SOFIA, "que tarjeta tengo registrada", ("perfil de Admin",)),
    Case(SOFIA, "tengo pagos pendientes?", ("perfil de Admin",)),
    # Public answers still work for signed-in users.
    Case(ANA, "cuantos usuarios trae el expert", ("30 usuarios",)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.who['identity']['user_id']}:{c.question}" for c in CASES])
def test_account_question(ask: Ask, case: Case) -> None:
    reply = text_of(ask(case.question, metadata=case.who))
    for fact in case.must:
        assert fact in reply, f"{fact!r} missing from reply to {case.question!r}:\n{reply}"
    own_account = case.who["identity"]["account_id"]
    is_admin = case.who in (ANA, MARIA, PEDRO)
    for account_id in ACCOUNTS:
        if account_id == own_account and is_admin:
            continue
        for secret in secrets_of(account_id):
            if secret in case.question:
                continue
            assert secret not in reply, f"{secret!r} leaked to user {case.who} in reply to {case.question!r}"


def test_the_admin_chooses_a_contract_with_a_button_then_a_typed_number(ask: Ask) -> None:
    sender = f"e2e-form-{uuid.uuid4().hex[:8]}"
    first = ask("tengo pagos pendientes?", sender, ANA)
    buttons = [b["payload"] for m in first for b in m.get("buttons") or []]
    assert any("ZCC-100002" in p for p in buttons) and len(buttons) == 3
    retry = text_of(ask("ZCC-200001", sender, ANA))
    assert "No encontré ZCC-200001" in retry
    answer = text_of(ask("el 100002", sender, ANA))
    assert "Información financiera del contrato ZCC-100002" in answer


def test_a_button_payload_answers_for_that_contract(ask: Ask) -> None:
    sender = f"e2e-form-{uuid.uuid4().hex[:8]}"
    first = ask("mis facturas", sender, ANA)
    payload = next(
        b["payload"] for m in first for b in m.get("buttons") or [] if "ZCC-100002" in b["payload"]
    )
    assert "F-100002-03" in text_of(ask(payload, sender, ANA))


def test_a_question_while_choosing_is_answered_then_the_choice_offered_once_more(ask: Ask) -> None:
    sender = f"e2e-form-{uuid.uuid4().hex[:8]}"
    ask("quiero ver mis pagos", sender, ANA)
    digression = text_of(ask("cuantos usuarios trae el expert?", sender, ANA))
    assert "30 usuarios" in digression
    assert "Sobre tu pregunta anterior: ¿de cuál contrato quieres ver los pagos?" in digression
    assert "no estoy seguro" not in digression
    # A second digression drops it: no third offer.
    assert "Sobre tu pregunta anterior" not in text_of(ask("y el starter?", sender, ANA))
    assert "dejamos esa elección" not in text_of(ask("cancelar", sender, ANA))


def test_cancel_leaves_a_pending_choice(ask: Ask) -> None:
    sender = f"e2e-form-{uuid.uuid4().hex[:8]}"
    ask("mis facturas", sender, ANA)
    assert "dejamos esa elección" in text_of(ask("cancelar", sender, ANA))
    assert "no tengo opciones para elegir" in text_of(ask("2", sender, ANA))


def test_no_metadata_means_anonymous(ask: Ask) -> None:
    reply = text_of(ask("estado del contrato ZCC-100001"))
    assert "inicias sesión" in reply
    assert "Contrato ZCC-100001" not in reply and "Expert" not in reply
