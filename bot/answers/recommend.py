"""Plan recommendation: the smallest plan that meets the stated users, InteractionZ, bots and features."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.answers.text import join, number, quantity
from bot.catalogue.models import Catalogue, Plan, PlanValue
from bot.nlu.resolve import fold

# Words that count people using the software (its seats).
_PEOPLE = (
    r"usuarios?|personas?|agentes?|licencias?|asientos?|seats?|users?"
    r"|colaboradores|vendedores|empleados|operadores|asesores"
)
_CREDITS = r"interactionz|interaction z|interacciones|interactions|creditos|interacionz|interactionzs"
_BOTS = r"bots?|chatbots?|robots?"
_AMOUNT = r"(\d+(?:[.,]\d+)*)\s*(k|mil)?"
_WORDS = {
    "un": 1,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "quince": 15,
    "veinte": 20,
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "cien": 100,
    "mil": 1000,
}
# Quantities the recommendation reads from numbers, not from feature names.
_QUANTITY_FEATURES = {"users", "interactionz", "active_bots", "monthly_cost"}


@dataclass(frozen=True)
class Needs:
    """What the customer said they need."""

    users: int | None = None
    interactionz: int | None = None
    bots: int | None = None
    features: tuple[str, ...] = ()

    def empty(self) -> bool:
        """True when nothing was stated."""
        return self.users is None and self.interactionz is None and self.bots is None and not self.features


def _to_int(digits: str, multiplier: str | None) -> int:
    if multiplier:
        return round(float(digits.replace(".", "").replace(",", ".") if "," in digits else digits) * 1000)
    return int(re.sub(r"[.,]", "", digits))


def _find(pattern: str, text: str) -> int | None:
    words = "|".join(_WORDS)
    match = re.search(rf"(?:{_AMOUNT}|\b({words}))\s*(?:mil\s+)?(?:{pattern})\b", text)
    if match is None:
        return None
    digits, multiplier, word = match.groups()
    if digits is not None:
        return _to_int(digits, multiplier)
    value = _WORDS[word]
    return value * 1000 if re.search(rf"\b{word}\s+mil\b", match.group()) else value


def _fold_keeping_numbers(text: str) -> str:
    """`fold`, except that '3.000' and '2,5' keep their separators (fold would make them '3 000', '2 5')."""
    parts = re.split(r"(\d+(?:[.,]\d+)+)", text)
    return " ".join(" ".join(part if i % 2 else fold(part) for i, part in enumerate(parts)).split())


def parse_needs(text: str, features: tuple[str, ...] = ()) -> Needs:
    """Read '20 usuarios', '3 mil interacciones', 'somos 8', '5 bots' and named features from a message."""
    folded = _fold_keeping_numbers(text)
    users = _find(_PEOPLE, folded)
    if users is None:
        match = re.search(r"\bsomos\s+(\d+)", folded)
        users = int(match.group(1)) if match else None
    return Needs(
        users=users,
        interactionz=_find(_CREDITS, folded),
        bots=_find(_BOTS, folded),
        features=tuple(f for f in features if f not in _QUANTITY_FEATURES),
    )


def _fits(value: PlanValue, needed: int | None) -> bool:
    if needed is None or value.unlimited or value.on_request:
        return True
    return value.amount is not None and value.amount >= needed


def _overage(catalogue: Catalogue, plan: Plan, needs: Needs) -> list[str]:
    extras = []
    for key, needed in (("users", needs.users), ("interactionz", needs.interactionz)):
        feature = catalogue.feature(key)
        value = feature.values[plan.key]
        if needed is not None and value.amount is not None and needed > value.amount and feature.unit:
            extras.append(quantity(feature.unit, needed - value.amount))
    return extras


def recommend(catalogue: Catalogue, needs: Needs) -> tuple[Plan | None, Plan | None]:
    """(recommended plan, smaller plan that fits with overage) for the needs."""
    hard = [
        p
        for p in catalogue.plans
        if all(catalogue.feature(f).values[p.key].available for f in needs.features)
        and _fits(catalogue.feature("active_bots").values[p.key], needs.bots)
    ]
    if not hard:
        return None, None
    full = next(
        (
            p
            for p in hard
            if _fits(catalogue.feature("users").values[p.key], needs.users)
            and _fits(catalogue.feature("interactionz").values[p.key], needs.interactionz)
        ),
        None,
    )
    # The alternative is the next plan down: the one whose overage is smallest.
    below = [p for p in hard if full is not None and p.rank < full.rank]
    alternative = below[-1] if below else None
    return full, alternative


def _reasons(catalogue: Catalogue, plan: Plan, needs: Needs) -> list[str]:
    reasons = []
    for key, needed in (
        ("users", needs.users),
        ("interactionz", needs.interactionz),
        ("active_bots", needs.bots),
    ):
        if needed is None:
            continue
        feature = catalogue.feature(key)
        value = feature.values[plan.key]
        assert feature.unit is not None
        has = (
            feature.unit.unlimited
            if value.unlimited
            else (
                "bajo consulta"
                if value.on_request or value.amount is None
                else quantity(feature.unit, value.amount)
            )
        )
        reasons.append(f"{has} (necesitas {number(needed)})")
    reasons += [catalogue.feature(f).name for f in needs.features]
    return reasons


def recommend_plan(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué plan me conviene para 20 usuarios y 3.000 InteractionZ con mapa de flujos?'."""
    needs = parse_needs(question.text, question.features)
    context = Context(topic="recommend_plan", features=needs.features)
    if needs.empty():
        return single(
            "Con gusto te recomiendo un plan. Cuéntame cuántos usuarios lo usarán, cuántas InteractionZ "
            "esperas al mes y qué funciones necesitas (por ejemplo: mapa de flujos, IA generativa, SSO).",
            context=context,
        )
    plan, alternative = recommend(catalogue, needs)
    if plan is None:
        return single(
            "Ningún plan reúne todo lo que pides. Te sugiero hablar con el equipo comercial de "
            f"{catalogue.facts.product} para el plan Enterprise, que es bajo consulta.",
            context=context,
        )
    text = f"Te recomiendo el plan {plan.name}: incluye {join(_reasons(catalogue, plan, needs))}."
    if plan.key == catalogue.plans[-1].key:
        text += f" {catalogue.facts.enterprise_price}"
    if alternative is not None:
        extras = _overage(catalogue, alternative, needs)
        text += (
            f"\nAlternativa: el plan {alternative.name} también cubre las funciones que pides; "
            f"tendrías que pagar aparte {join(extras)} de excedente, porque lo que excede lo incluido "
            "se cobra por separado. Compara ambos precios en "
            f"{catalogue.facts.plans_site_url}"
        )
    context = Context(topic="recommend_plan", plans=(plan.key,), features=needs.features)
    return single(text, context=context)
