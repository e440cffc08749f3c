"""Price, InteractionZ, users (seats) and what happens beyond the included amounts."""

from __future__ import annotations

import re

from bot.answers.polar import is_polar, lead
from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.answers.text import capacity_text, lower_first
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import fold

# "¿Es gratis pasarse?" is answered No; "¿se cobran aparte?", "¿puedo tener más usuarios?" Sí.
_FREE = re.compile(r"\b(?:gratis|gratuit\w*|sin costo|sin cargo|incluid\w*|no se cobra\w*)\b")


def _included(catalogue: Catalogue, key: str) -> str:
    feature = catalogue.feature(key)
    return "\n".join(f"• {p.name}: {capacity_text(feature, feature.values[p.key])}" for p in catalogue.plans)


def price(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cuánto cuesta el Expert?': the page gives how prices are formed, not figures."""
    facts = catalogue.facts
    plans = question.plans or question.context.plans
    cost = catalogue.feature("monthly_cost")
    lines = []
    for key in plans:
        plan = catalogue.plan(key)
        if cost.values[key].on_request:
            lines.append(f"El plan {plan.name} es bajo consulta.")
        else:
            users = catalogue.feature("users")
            interactionz = catalogue.feature("interactionz")
            how = lower_first(cost.values[key].detail or "").rstrip(".")
            lines.append(
                f"Plan {plan.name}: {how}. Incluye {capacity_text(users, users.values[key])} y "
                f"{capacity_text(interactionz, interactionz.values[key])}."
            )
    if not lines:
        lines = [facts.price, facts.enterprise_price]
    text = " ".join(lines)
    text += f"\n{facts.overage} Consulta la tabla de precios vigente en {facts.plans_site_url}"
    return single(text, context=Context(topic="ask_price", plans=tuple(plans)))


def explain_interactionz(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué son las InteractionZ?'."""
    text = (
        f"InteractionZ: {catalogue.facts.interactionz}\nIncluidas por plan:\n"
        f"{_included(catalogue, 'interactionz')}\nLas InteractionZ excedentes se cobran por separado."
    )
    return single(text, context=Context(topic="ask_feature_plans", features=("interactionz",)))


_AT_ONCE = re.compile(r"\b(?:a la vez|simultane\w*|al mismo tiempo|por persona|cada persona|por cabeza)\b")


def explain_users(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué significa usuarios?' (licencias o asientos); '¿son personas a la vez?' -> Sí."""
    yes = "Sí. " if _AT_ONCE.search(fold(question.text)) else ""
    text = yes + (
        f"Usuarios: {catalogue.facts.users}\nIncluidos por plan:\n"
        f"{_included(catalogue, 'users')}\nLos usuarios excedentes se cobran por separado."
    )
    return single(text, context=Context(topic="ask_feature_plans", features=("users",)))


def overage(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué pasa si me paso de las InteractionZ?'."""
    text = (
        f"{catalogue.facts.overage}\n"
        f"Usuarios incluidos:\n{_included(catalogue, 'users')}\n"
        f"InteractionZ incluidas:\n{_included(catalogue, 'interactionz')}\n"
        "Si sueles pasarte, compara el costo del excedente con el del plan siguiente; puedo recomendarte "
        "uno si me dices cuántos usuarios e InteractionZ necesitas."
    )
    if is_polar(question.text):
        text = lead(not _FREE.search(fold(question.text)), text)
    return single(text, context=Context(topic="ask_overage"))
