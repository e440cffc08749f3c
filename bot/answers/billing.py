"""Payment, cards, invoices, contracting and who can see plans and contracts — as the page states them."""

from __future__ import annotations

from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.answers.text import join, numbered
from bot.catalogue.models import Catalogue, Facts


def card_steps(facts: Facts) -> str:
    """The page's steps to see or add a card, numbered."""
    return numbered(facts.card_steps)


def card_checklist(facts: Facts) -> str:
    """The page's checklist when a card cannot be added."""
    return "\n".join(f"• {line}" for line in facts.card_checklist)


def payment_methods(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cómo puedo pagar?'."""
    facts = catalogue.facts
    text = (
        f"Las formas de pago disponibles son {join(facts.payment_methods)}. {facts.payment_management} "
        f"{facts.card_immediate_access} {facts.invoice_rule} "
        f"Gestiona la forma de pago de cada contrato en {facts.where_to_see} (perfil Admin)."
    )
    return single(text, context=Context(topic="ask_payment_methods"))


def add_card(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cómo agrego una tarjeta?'."""
    facts = catalogue.facts
    text = (
        f"Para ver o cambiar la tarjeta registrada, en {facts.where_to_see}:\n{card_steps(facts)}\n"
        f"{facts.card_immediate_access} Por seguridad, nunca compartas los datos de tu tarjeta por este chat."
    )
    return single(text, context=Context(topic="ask_add_card"))


def card_problem(catalogue: Catalogue, question: Question) -> Reply:
    """'No puedo agregar mi tarjeta'."""
    facts = catalogue.facts
    text = (
        "Si no puedes agregar una tarjeta de crédito o tienes problemas, verifica:\n"
        f"{card_checklist(facts)}\n"
        f"{facts.card_issuer_advice}"
    )
    return single(text, context=Context(topic="card_problem"))


def invoice(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Puedo pagar con factura?', '¿Dónde están mis invoices?'."""
    facts = catalogue.facts
    text = (
        f"{facts.invoice_rule} Los invoices (facturas) están disponibles en {facts.invoice_location}. "
        f"Antes de ese mes puedes pagar con tarjeta de crédito. {facts.card_immediate_access}"
    )
    return single(text, context=Context(topic="ask_invoice"))


def how_to_contract(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cómo contrato un plan?'."""
    facts = catalogue.facts
    text = f"{facts.contracting} Encuentra los planes en {facts.plans_site_url}"
    return single(text, context=Context(topic="how_to_contract"))


def contracts_access(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Dónde veo mis contratos?', '¿Quién puede verlos?', '¿Qué muestra un contrato?'."""
    facts = catalogue.facts
    fields = "\n".join(f"• {f.name}: {f.description}" for f in facts.contract_fields)
    text = (
        f"Consulta los detalles del plan, el contrato y la forma de pago en {facts.where_to_see}. "
        f"{facts.admin_only}\nCada contrato muestra:\n{fields}"
    )
    return single(text, context=Context(topic="ask_contracts_access"))


def card_data_warning(catalogue: Catalogue, question: Question) -> Reply:
    """Someone typed card data: never echo it, explain how to add a card safely."""
    facts = catalogue.facts
    text = (
        "Por tu seguridad, no compartas números de tarjeta ni el código CVV por este chat: no los necesito "
        f"y no los registro. Para agregar una tarjeta de forma segura, en {facts.where_to_see}:\n"
        f"{card_steps(facts)}"
    )
    return single(text, context=Context(topic="share_card_data"))
