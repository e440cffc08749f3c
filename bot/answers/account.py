"""What every account answer shares: the refusals, money and dates in Spanish, and contract choice."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from bot.accounts.views import AccountView, ContractView, Denial, find_contract
from bot.answers.polar import is_polar
from bot.answers.question import Question
from bot.answers.reply import Button, Context, Message, Reply, payload, single
from bot.answers.text import numbered
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import fold

_SUBJECTS = {
    "ask_contract_status": "el estado de tus contratos",
    "ask_financial_info": "tus pagos, pagos pendientes e historial de transacciones",
    "ask_card_on_file": "la tarjeta registrada",
    "ask_invoice": "tus invoices",
}

STATUS_NAMES = {
    "active": "Activo",
    "pending_payment": "Pago pendiente",
    "suspended": "Suspendido",
    "cancelled": "Cancelado",
}
# Other words a user picks a contract by ("el suspendido", "la vigente").
_STATUS_WORDS = {
    "active": ("activo", "activa", "vigente"),
    "pending_payment": ("pendiente", "pendiente de pago"),
    "suspended": ("suspendido", "suspendida"),
    "cancelled": ("cancelado", "cancelada", "anulado"),
}
_CAN_I_SEE = re.compile(r"\b(?:se puede|puedo|podemos|es posible|hay forma)\b")
_CHOICE_PROMPTS = {
    "ask_financial_info": "¿De cuál contrato quieres ver los pagos?",
    "ask_invoice": "¿De cuál contrato quieres ver los invoices?",
    "ask_contract_status": "¿De cuál contrato quieres el detalle?",
}


def money(amount: Decimal, currency: str) -> str:
    """Decimal('12500.00'), 'MXN' -> '$12,500.00 MXN'."""
    return f"${amount:,.2f} {currency}"


def day(value: date) -> str:
    """date(2026, 11, 26) -> '26/11/2026'."""
    return value.strftime("%d/%m/%Y")


def refusal(catalogue: Catalogue, question: Question) -> Reply:
    """Why account data is not shown (not signed in, or not an Admin), after what anyone may know."""
    facts = catalogue.facts
    subject = _SUBJECTS.get(question.intent, "la información de tu cuenta")
    if question.denial is Denial.NOT_ADMIN:
        text = (
            f"No puedo mostrarte {subject}: {facts.admin_only[0].lower()}{facts.admin_only[1:]} "
            f"Tu perfil no es Admin. Pide a un Admin de tu cuenta que lo consulte en {facts.where_to_see} "
            "o que te asigne ese perfil. Mientras tanto, puedo responderte sobre planes, canales "
            "y formas de pago."
        )
        return single(text, context=Context(topic=question.intent))
    sign_in = (
        f"Si inicias sesión con un usuario de perfil Admin, te muestro {subject} aquí mismo. "
        f"{facts.admin_only}"
    )
    walkthrough = public_walkthrough(catalogue, question.intent)
    if walkthrough and is_polar(question.text) and _CAN_I_SEE.search(fold(question.text)):
        walkthrough = f"Sí. {walkthrough}"  # "¿se puede ver la información financiera de cada contrato?"
    return Reply(
        (Message(f"{walkthrough}\n{sign_in}" if walkthrough else sign_in),),
        Context(topic=question.intent),
    )


def public_walkthrough(catalogue: Catalogue, intent: str) -> str:
    """Where anyone finds the data an account question asks for, as the page explains it."""
    facts = catalogue.facts
    fields = {f.name: f.description for f in facts.contract_fields}
    if intent == "ask_card_on_file":
        return f"Para ver la tarjeta registrada, en {facts.where_to_see}:\n{numbered(facts.card_steps)}"
    if intent == "ask_contract_status":
        return (
            f"Consulta tus contratos en {facts.where_to_see}. Cada contrato muestra su número y su estado: "
            f"{fields['Estado del contrato']} También los planes contratados, la información financiera "
            "y la forma de pago."
        )
    if intent == "ask_financial_info":
        return (
            f"En {facts.where_to_see}, cada contrato da acceso a su información financiera: "
            f"{fields['Información financiera']} Los invoices están en {facts.invoice_location}."
        )
    return ""


def contract_buttons(view: AccountView, intent: str) -> tuple[Button, ...]:
    """One button per contract; the payload answers the same question for that contract."""
    return tuple(
        Button(
            f"{c.number} · {c.software_plan.title()} · {STATUS_NAMES.get(c.status, c.status)}",
            payload(intent, {"contract_number": (c.number,)}),
            keys=(c.number, c.number.removeprefix("ZCC-"), c.software_plan, *_STATUS_WORDS.get(c.status, ())),
        )
        for c in view.contracts
    )


def not_found(view: AccountView, number: str, intent: str) -> Reply:
    """The same answer for a number that does not exist and for another account's number."""
    return single(
        f"No encontré el contrato {number} entre los contratos de tu cuenta. Elige uno de tus contratos "
        "o escribe «cancelar»:",
        buttons=contract_buttons(view, intent),
        context=Context(topic=intent),
        awaiting=True,
    )


def chosen_contract(question: Question, view: AccountView) -> ContractView | Reply | None:
    """The contract the question is about: the named one, the only one, or None when the admin must choose."""
    if question.contract_number is not None:
        contract = find_contract(view, question.contract_number)
        return (
            contract if contract is not None else not_found(view, question.contract_number, question.intent)
        )
    if len(view.contracts) == 1:
        return view.contracts[0]
    if not view.contracts:
        return single("Tu cuenta no tiene contratos registrados.", context=Context(topic=question.intent))
    return None


def select_contract(question: Question, view: AccountView) -> Reply:
    """Ask which contract the question is about, with one button per contract."""
    prompt = _CHOICE_PROMPTS.get(question.intent, "¿Sobre cuál contrato?")
    return single(
        f"{prompt} Elige uno o escribe su número (por ejemplo {view.contracts[0].number}). "
        "Para salir, escribe «cancelar».",
        buttons=contract_buttons(view, question.intent),
        context=Context(topic=question.intent),
        awaiting=True,
    )
