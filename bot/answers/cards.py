"""An Admin's cards on file, and card troubleshooting personalised with them."""

from __future__ import annotations

import re
from datetime import date

from bot.accounts.views import CardView
from bot.answers.account import refusal
from bot.answers.billing import card_checklist, card_problem, card_steps
from bot.answers.polar import is_polar, lead
from bot.answers.question import Question
from bot.answers.reply import Context, Message, Reply, single
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import fold


def expiry(card: CardView) -> str:
    """'11/2026'."""
    return f"{card.exp_month:02d}/{card.exp_year}"


def is_expired(card: CardView, today: date) -> bool:
    """A card is valid through the last day of its expiry month."""
    return (card.exp_year, card.exp_month) < (today.year, today.month)


def expires_this_month(card: CardView, today: date) -> bool:
    """True in the card's last valid month."""
    return (card.exp_year, card.exp_month) == (today.year, today.month)


def describe(card: CardView) -> str:
    """'Visa terminada en 4242, titular ANA TORRES, vence 11/2026'."""
    return f"{card.brand} terminada en {card.last4}, titular {card.holder}, vence {expiry(card)}"


def card_on_file(catalogue: Catalogue, question: Question) -> Reply:
    """Brand, last 4 digits, holder and expiry of each card, with a warning when one expires."""
    view = question.account
    if view is None:
        return refusal(catalogue, question)
    context = Context(topic="ask_card_on_file")
    if not view.cards:
        lead_no = "No. " if is_polar(question.text) else ""
        text = lead_no + (
            f"Tu cuenta no tiene tarjetas registradas. Para agregar una, en {catalogue.facts.where_to_see}:\n"
        )
        return single(text + card_steps(catalogue.facts), context=context)
    lines = []
    warnings = []
    for card in view.cards:
        label = " (predeterminada)" if card.is_default else ""
        lines.append(f"• {describe(card)}{label}")
        if is_expired(card, question.today):
            warnings.append(f"La tarjeta {card.brand} terminada en {card.last4} venció en {expiry(card)}.")
        elif expires_this_month(card, question.today):
            warnings.append(
                f"La tarjeta {card.brand} terminada en {card.last4} vence este mes ({expiry(card)})."
            )
    text = "Tarjetas registradas en tu cuenta:\n" + "\n".join(lines)
    if warnings:
        text += (
            "\n"
            + " ".join(warnings)
            + f" Para agregar una tarjeta nueva, en {catalogue.facts.where_to_see}:\n"
        )
        text += card_steps(catalogue.facts)
    text += "\nNunca compartas los datos de tu tarjeta por este chat."
    verdict = _card_verdict(question, view.cards)
    return single(text if verdict is None else lead(verdict, text), context=context)


_EXPIRED = re.compile(r"\b(?:vencid\w*|expirad\w*|caducad\w*|vencio|expiro)\b")
_EXPIRES = re.compile(r"\b(?:vence|se vence|vencera|expira|caduca)\b")


def _card_verdict(question: Question, cards: tuple[CardView, ...]) -> bool | None:
    """'¿Mi tarjeta está vencida?', '¿vence este mes?', '¿tengo una tarjeta registrada?'."""
    if not is_polar(question.text):
        return None
    folded = fold(question.text)
    if _EXPIRED.search(folded):
        return any(is_expired(c, question.today) for c in cards)
    if _EXPIRES.search(folded) and {"mes", "pronto", "ya", "proximamente"} & set(folded.split()):
        return any(expires_this_month(c, question.today) or is_expired(c, question.today) for c in cards)
    if "registrad" in folded or "tengo" in folded.split():
        return bool(cards)
    return None


def card_trouble(catalogue: Catalogue, question: Question) -> Reply:
    """The page's checklist, preceded by the likely cause when the data shows one (an expired card)."""
    general = card_problem(catalogue, question)
    view = question.account
    if view is None:
        return general
    expired = [c for c in view.cards if is_expired(c, question.today)]
    if not expired:
        return general
    card = next((c for c in expired if c.is_default), expired[0])
    cause = (
        f"Probable causa: tu tarjeta {card.brand} terminada en {card.last4} venció en {expiry(card)}. "
        f"Agrega una tarjeta vigente en {catalogue.facts.where_to_see}:\n{card_steps(catalogue.facts)}"
    )
    checklist = (
        f"Si el problema es con otra tarjeta, verifica:\n{card_checklist(catalogue.facts)}\n"
        f"{catalogue.facts.card_issuer_advice}"
    )
    return Reply((Message(cause), Message(checklist)), general.context)
