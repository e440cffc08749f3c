"""What every account answer shares: the refusals, money and dates in Spanish, and contract choice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.accounts.access import Denial, find_contract
from bot.accounts.views import AccountView, ContractView
from bot.answers.question import Question
from bot.answers.reply import Button, Context, Reply, single
from bot.catalogue.models import Catalogue

_SUBJECTS = {
    "ask_contract_status": "el estado de tus contratos",
    "ask_financial_info": "tus pagos, pagos pendientes e historial de transacciones",
    "ask_card_on_file": "la tarjeta registrada",
    "ask_invoice": "tus invoices",
}


def money(amount: Decimal, currency: str) -> str:
    """Decimal('12500.00'), 'MXN' -> '$12,500.00 MXN'."""
    return f"${amount:,.2f} {currency}"


def day(value: date) -> str:
    """date(2026, 11, 26) -> '26/11/2026'."""
    return value.strftime("%d/%m/%Y")


def refusal(catalogue: Catalogue, question: Question) -> Reply:
    """Why account data is not shown: not signed in, or not an Admin (the page's rule)."""
    facts = catalogue.facts
    subject = _SUBJECTS.get(question.intent, "la información de tu cuenta")
    if question.denial is Denial.NOT_ADMIN:
        text = (
            f"No puedo mostrarte {subject}: {facts.admin_only[0].lower()}{facts.admin_only[1:]} "
            f"Tu perfil no es Admin. Pide a un Admin de tu cuenta que lo consulte en {facts.where_to_see} "
            "o que te asigne ese perfil. Mientras tanto, puedo responderte sobre planes, canales "
            "y formas de pago."
        )
    else:
        text = (
            f"Para consultar {subject} necesito que inicies sesión con un usuario de perfil Admin. "
            f"{facts.admin_only} También puedes verlo en {facts.where_to_see}."
        )
    return single(text, context=Context(topic=question.intent))


def contract_buttons(view: AccountView, intent: str) -> tuple[Button, ...]:
    """One button per contract; the payload answers the same question for that contract."""
    return tuple(
        Button(f"{c.number} ({c.software_plan.title()})", f'/{intent}{{"contract_number":"{c.number}"}}')
        for c in view.contracts
    )


def not_found(view: AccountView, number: str, intent: str) -> Reply:
    """The same answer for a number that does not exist and for another account's number."""
    return single(
        f"No encontré el contrato {number} entre los contratos de tu cuenta. Elige uno de tus contratos:",
        buttons=contract_buttons(view, intent),
        context=Context(topic=intent),
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


def select_contract(question: Question) -> Reply:
    """Ask which contract (the contract form asks, with one button per contract)."""
    return Reply((), Context(topic=question.intent), select_contract_for=question.intent)
