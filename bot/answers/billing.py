"""Payment, cards, invoices, contracting and who can see plans and contracts — as the page states them."""

from __future__ import annotations

import re

from bot.answers.polar import is_polar, lead
from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.answers.text import join, numbered
from bot.catalogue.models import Catalogue, Facts
from bot.nlu.resolve import fold

_CARD = re.compile(r"\b(?:tarjetas?|credito|visa|master ?card|amex|american express)\b")
_INVOICE = re.compile(r"\b(?:invoices?|facturas?|facturacion|boleto)\b")
_OTHER_METHODS = re.compile(
    r"\b(?:paypal|transferencia\w*|efectivo|deposito\w*|debito|oxxo|pse|mercado ?pago|cripto\w*|bitcoin|"
    r"cheques?|pix|nequi|daviplata|spei|bizum|contra ?entrega|cash)\b"
)
_ACCESS = re.compile(r"\b(?:acceso|accedo|acceder|activa\w*|habilita\w*|empiezo a usar|cuando puedo usar)\b")
_AT_ONCE = re.compile(
    r"\b(?:primer mes|desde el (?:inicio|principio|comienzo|primer dia|arranque)|de una|de inmediato|"
    r"inmediat\w*|al contratar|desde ya|ya mismo|al tiro|antes de (?:un|el) mes|enseguida)\b"
)


def card_steps(facts: Facts) -> str:
    """The page's steps to see or add a card, numbered."""
    return numbered(facts.card_steps)


def card_checklist(facts: Facts) -> str:
    """The page's checklist when a card cannot be added."""
    return "\n".join(f"• {line}" for line in facts.card_checklist)


def _method_lead(facts: Facts, text: str) -> str | None:
    """The answer to a question about one way of paying: card yes, invoice after a month, others no."""
    folded = fold(text)
    other = _OTHER_METHODS.search(folded)
    if other is not None:
        return f"No: el pago con {other.group()} no está disponible. "
    if _INVOICE.search(folded) and not _CARD.search(folded):
        if _AT_ONCE.search(folded):
            return lead(False, f"{facts.invoice_rule} ")
        return f"Sí, a partir del primer mes de uso: {facts.invoice_rule[0].lower()}{facts.invoice_rule[1:]} "
    if _CARD.search(folded) and (_ACCESS.search(folded) or is_polar(text)):
        return (
            lead(True, f"{facts.card_immediate_access} ")
            if is_polar(text)
            else f"{facts.card_immediate_access} "
        )
    return None


def payment_methods(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cómo puedo pagar?', '¿puedo pagar con PayPal?', 'si pago con tarjeta, ¿cuándo tengo acceso?'."""
    facts = catalogue.facts
    first = _method_lead(facts, question.text) or ""
    rules = " ".join(rule for rule in (facts.card_immediate_access, facts.invoice_rule) if rule not in first)
    methods = join(facts.payment_methods)
    where = f"Gestiona la forma de pago de cada contrato en {facts.where_to_see} (perfil Admin)."
    text = f"{first}Las formas de pago disponibles son {methods}. {facts.payment_management} {rules} {where}"
    return single(text, context=Context(topic="ask_payment_methods"))


def add_card(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cómo agrego una tarjeta?', '¿puedo cambiar la tarjeta?'."""
    facts = catalogue.facts
    text = ("Sí. " if is_polar(question.text) else "") + (
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
    if is_polar(question.text):
        at_once = _AT_ONCE.search(fold(question.text))
        text = lead(False, text) if at_once else f"Sí, a partir del primer mes de uso. {text}"
    return single(text, context=Context(topic="ask_invoice"))


_ELSEWHERE = re.compile(
    r"\b(?:aqui|por aca|aca|por (?:este |el )?chat|por whatsapp|contigo|con vos|con usted\w*|por telefono|"
    r"llamada|por correo|por mail|con un asesor|con un vendedor|por este medio|en persona|"
    r"en (?:una )?oficina)\b"
)
_ONLY_ONE_PLAN = re.compile(
    r"\b(?:solo|solamente|unicamente|nada mas)\b.*\b(?:canales|software)\b"
    r"|\bsin (?:el )?plan de (?:canales|software)\b"
)
_ONLINE = re.compile(r"\b(?:en linea|online|sitio|web|pagina|internet)\b")


def how_to_contract(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cómo contrato un plan?', '¿puedo contratar por aquí?', '¿puedo contratar solo canales?'."""
    facts = catalogue.facts
    text = f"{facts.contracting} Encuentra los planes en {facts.plans_site_url}"
    folded = fold(question.text)
    if is_polar(question.text):
        if _ONLY_ONE_PLAN.search(folded) or _ELSEWHERE.search(folded):
            text = lead(False, text)
        elif _ONLINE.search(folded):
            text = lead(True, text)
    return single(text, context=Context(topic="how_to_contract"))


_ANY_PROFILE = re.compile(
    r"\b(?:cualquier\w*|todos|todo el mundo|usuario normal|usuario comun|miembro|member|agente|vendedor|"
    r"sin ser admin|no soy admin|no siendo admin|otro perfil|otros usuarios|mis empleados|mi equipo)\b"
)


def contracts_access(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Dónde veo mis contratos?', '¿Quién puede verlos?', '¿Qué muestra un contrato?'."""
    facts = catalogue.facts
    fields = "\n".join(f"• {f.name}: {f.description}" for f in facts.contract_fields)
    text = (
        f"Consulta los detalles del plan, el contrato y la forma de pago en {facts.where_to_see}. "
        f"{facts.admin_only}\nCada contrato muestra:\n{fields}"
    )
    if is_polar(question.text):
        text = lead(not _ANY_PROFILE.search(fold(question.text)), f"{facts.admin_only} {text}")
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
