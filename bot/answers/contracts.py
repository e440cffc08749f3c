"""An Admin's own contracts: status, financial information and invoices."""

from __future__ import annotations

import re
from datetime import date

from bot.accounts.views import ContractView, PaymentView
from bot.answers.account import (
    STATUS_NAMES,
    chosen_contract,
    contract_buttons,
    day,
    money,
    refusal,
    select_contract,
)
from bot.answers.billing import invoice as invoice_rules
from bot.answers.polar import is_open, is_polar, lead
from bot.answers.question import Question
from bot.answers.reply import Context, Message, Reply, single
from bot.answers.text import join
from bot.catalogue.models import Catalogue
from bot.dates import add_months
from bot.nlu.resolve import fold

STATUS_MEANINGS = {
    "active": "el servicio contratado está disponible.",
    "pending_payment": "hay un pago pendiente; el servicio se habilita cuando se confirma el pago.",
    "suspended": "el servicio está suspendido por un pago pendiente; se reactiva al regularizar el pago.",
    "cancelled": "el contrato ya no está vigente. Para volver a contratar, hazlo en el sitio web de Zenvia.",
}
PAYMENT_STATUS = {"paid": "pagado", "pending": "pendiente", "failed": "rechazado"}
INVOICE_STATUS = {"paid": "pagado", "open": "abierto", "overdue": "vencido"}
METHOD_NAMES = {"card": "tarjeta de crédito", "invoice": "invoice (factura)"}


def _channels(catalogue: Catalogue, contract: ContractView) -> str:
    names = {c.key: c.name for c in catalogue.channels}
    return (
        join([f"{names.get(key, key)} {quantity:,}" for key, quantity in contract.channels]) or "sin canales"
    )


def _plan_name(catalogue: Catalogue, contract: ContractView) -> str:
    return next((p.name for p in catalogue.plans if p.key == contract.software_plan), contract.software_plan)


def _pending(contract: ContractView) -> list[PaymentView]:
    return sorted((p for p in contract.payments if p.status == "pending"), key=lambda p: p.date)


def how_to_pay(catalogue: Catalogue, contract: ContractView) -> str:
    """How to settle a pending payment with the contract's payment method."""
    facts = catalogue.facts
    if contract.payment_method == "invoice":
        return f"Encuentra el invoice para pagarlo en {facts.invoice_location}."
    return (
        f"Revisa o cambia tu tarjeta en {facts.where_to_see} (Gestionar tarjetas / Agregar tarjeta). "
        f"{facts.card_immediate_access}"
    )


def _detail(catalogue: Catalogue, contract: ContractView) -> str:
    status = STATUS_NAMES.get(contract.status, contract.status)
    lines = [
        f"Contrato {contract.number}: {status}. Significa que {STATUS_MEANINGS.get(contract.status, '')}",
        f"• Plan de software: {_plan_name(catalogue, contract)}",
        f"• Plan de canales (envíos por mes): {_channels(catalogue, contract)}",
        f"• Forma de pago: {METHOD_NAMES[contract.payment_method]}",
        f"• Inicio: {day(contract.start_date)}",
    ]
    pending = _pending(contract)
    if contract.status in ("suspended", "pending_payment") and pending:
        first = pending[0]
        lines.append(
            f"Pago pendiente: {money(first.amount, first.currency)} "
            f"({first.description}, {day(first.date)}). " + how_to_pay(catalogue, contract)
        )
    return "\n".join(lines)


def contract_status(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cuál es el estado de mi contrato?': one contract in detail, or every contract in brief."""
    view = question.account
    if view is None:
        return refusal(catalogue, question)
    chosen = chosen_contract(question, view)
    if isinstance(chosen, Reply):
        return chosen
    context = Context(topic="ask_contract_status")
    if chosen is not None:
        detail = _detail(catalogue, chosen)
        verdict = _status_verdict(question.text, chosen)
        return single(detail if verdict is None else lead(verdict, detail), context=context)
    lines = [
        f"• {c.number}: {STATUS_NAMES.get(c.status, c.status)} — plan {_plan_name(catalogue, c)}, "
        f"pago con {METHOD_NAMES[c.payment_method]}"
        for c in view.contracts
    ]
    text = f"Tu cuenta {view.account_name} tiene {len(view.contracts)} contratos:\n" + "\n".join(lines)
    text += "\nElige uno para ver el detalle."
    return Reply((Message(text, contract_buttons(view, "ask_contract_status")),), context)


def _one_contract(catalogue: Catalogue, question: Question) -> ContractView | Reply:
    """The one contract a question needs, or the reply that stands instead (refusal, not found, choose)."""
    view = question.account
    if view is None:
        return refusal(catalogue, question)
    chosen = chosen_contract(question, view)
    return select_contract(question, view) if chosen is None else chosen


def financial_info(catalogue: Catalogue, question: Question) -> Reply:
    """Payments made, pending payments, recent history and next amount due of one contract."""
    chosen = _one_contract(catalogue, question)
    if isinstance(chosen, Reply):
        return chosen
    text = _financial(catalogue, chosen, question.today)
    verdict = _payments_verdict(question.text, chosen)
    return single(
        text if verdict is None else lead(verdict, text), context=Context(topic="ask_financial_info")
    )


# "¿Mi contrato está activo?" names a status; "¿tengo pagos pendientes?" a kind of payment.
_STATUS_ASKED = {
    "active": re.compile(r"\b(?:activ\w*|vigente\w*|funcionando|al dia)\b"),
    "suspended": re.compile(r"\b(?:suspendid\w*|suspendieron|suspendio)\b"),
    "cancelled": re.compile(
        r"\b(?:cancelad\w*|cancelaron|cancelo|anulad\w*|anularon|dado de baja|dieron de baja)\b"
    ),
    "pending_payment": re.compile(r"\bpendiente\w*\b"),
}
_PENDING = re.compile(r"\b(?:pendiente\w*|debo|deuda\w*|adeud\w*|por pagar|sin pagar|vencid\w*|atrasad\w*)\b")
_FAILED = re.compile(r"\b(?:rechazad\w*|fallid\w*|declinad\w*|no (?:paso|pasaron|se cobro))\b")


def _status_verdict(text: str, contract: ContractView) -> bool | None:
    """Whether the contract has the status a yes/no question names (None: not such a question)."""
    if is_open(text):
        return None
    folded = fold(text)
    asked = [status for status, words in _STATUS_ASKED.items() if words.search(folded)]
    return contract.status in asked if asked else None


def _payments_verdict(text: str, contract: ContractView) -> bool | None:
    """Whether the contract has the pending or rejected payments a yes/no question asks about."""
    if not is_polar(text):
        return None
    folded = fold(text)
    if _FAILED.search(folded):
        return any(p.status == "failed" for p in contract.payments)
    if _PENDING.search(folded):
        return bool(_pending(contract))
    return None


def _financial(catalogue: Catalogue, contract: ContractView, today: date) -> str:
    lines = [f"Información financiera del contrato {contract.number}:"]
    pending = _pending(contract)
    if pending:
        nxt = pending[0]
        label = "Pago vencido" if nxt.date < today else "Próximo pago"
        lines.append(f"{label}: {money(nxt.amount, nxt.currency)} el {day(nxt.date)} ({nxt.description}).")
    else:
        lines.append("No tienes pagos pendientes.")
    failed = [p for p in contract.payments if p.status == "failed"]
    if failed:
        lines.append(
            f"Pagos rechazados: {len(failed)} (el último por {money(failed[0].amount, failed[0].currency)} "
            f"el {day(failed[0].date)})."
        )
    paid = [p for p in contract.payments if p.status == "paid"]
    lines.append(f"Pagos realizados: {len(paid)}.")
    lines.append("Historial reciente:")
    lines += [
        f"• {day(p.date)} {money(p.amount, p.currency)} — {PAYMENT_STATUS[p.status]} — {p.description}"
        for p in contract.payments[:5]
    ]
    if pending or failed:
        lines.append(how_to_pay(catalogue, contract))
    return "\n".join(lines)


def invoices(catalogue: Catalogue, question: Question) -> Reply:
    """Latest invoices of a contract, where to download them, and when invoice payment becomes possible."""
    if question.account is None:
        general = invoice_rules(catalogue, question)
        if question.denial is None:
            return general
        note = refusal(catalogue, question).messages[0].text
        return Reply((*general.messages, Message(note)), general.context)
    chosen = _one_contract(catalogue, question)
    if isinstance(chosen, Reply):
        return chosen
    text = _invoices(catalogue, chosen, question)
    verdict = _invoices_verdict(question, chosen)
    return single(text if verdict is None else lead(verdict, text), context=Context(topic="ask_invoice"))


_INVOICE_PAYMENT = re.compile(r"\b(?:pagar\w*|pago|pagos|cambiar)\b")


def _invoices_verdict(question: Question, contract: ContractView) -> bool | None:
    """'¿Tengo alguna factura vencida?', '¿mi contrato ya puede pagarse con invoice?'."""
    if not is_polar(question.text):
        return None
    folded = fold(question.text)
    if re.search(r"\bvencid\w*\b", folded):
        return any(i.status == "overdue" for i in contract.invoices)
    if _PENDING.search(folded) or "abiert" in folded:
        return any(i.status in ("open", "overdue") for i in contract.invoices)
    if _INVOICE_PAYMENT.search(folded):
        if contract.payment_method == "invoice":
            return True
        return question.today >= add_months(contract.start_date, 1)
    return None


def _invoices(catalogue: Catalogue, contract: ContractView, question: Question) -> str:
    facts = catalogue.facts
    lines = [f"Invoices del contrato {contract.number}:"]
    if contract.invoices:
        lines += [
            f"• {i.number}: periodo {day(i.period_start)} a {day(i.period_end)}, "
            f"{money(i.amount, i.currency)}, "
            f"{INVOICE_STATUS[i.status]} (vence {day(i.due_date)})"
            for i in contract.invoices[:3]
        ]
        lines.append(f"Descárgalos en {facts.invoice_location}.")
    else:
        lines.append(f"Este contrato no tiene invoices: se paga con {METHOD_NAMES[contract.payment_method]}.")
    if contract.payment_method == "card":
        possible_from = add_months(contract.start_date, 1)
        if question.today < possible_from:
            lines.append(
                f"{facts.invoice_rule} Este contrato empezó el {day(contract.start_date)}, "
                "así que podrás pagar "
                f"con invoice a partir del {day(possible_from)}."
            )
        else:
            lines.append(
                f"Este contrato ya cumple un mes de uso: puedes cambiar su forma de pago a invoice en "
                f"{facts.where_to_see}."
            )
    return "\n".join(lines)
