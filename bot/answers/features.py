"""Feature questions: the value of a feature in a plan, and which plans have a feature."""

from __future__ import annotations

import re

from bot.answers.plans import list_plans, plan_summary
from bot.answers.polar import is_polar, lead, numbers_in
from bot.answers.question import Question
from bot.answers.reply import Button, Context, Message, Reply, Table, first_upper, payload, single
from bot.answers.text import (
    first_plan_with,
    join,
    pack,
    plans_having,
    value_text,
    value_with_note,
)
from bot.catalogue.models import Catalogue, Feature, Plan
from bot.nlu.resolve import fold

MAX_FEATURES_PER_ANSWER = 6
_UNLIMITED = re.compile(r"\b(?:ilimitad\w*|sin limite\w*|infinit\w*)\b")


def ask_which_feature(catalogue: Catalogue, question: Question, topic: str) -> Reply:
    """The question named no feature we know: say so and offer the most asked ones."""
    popular = ("users", "interactionz", "active_bots", "data_retention", "storage", "api_access")
    plans = question.plans or question.context.plans
    target = f" del plan {catalogue.plan(plans[0]).name}" if plans else ""
    buttons = tuple(
        Button(
            catalogue.feature(key).name,
            payload(topic, {"feature": (key,), **({"plan": plans[:1]} if plans else {})}),
        )
        for key in popular
    )
    return single(
        f"¿Qué recurso{target} te interesa? Por ejemplo usuarios, InteractionZ, bots activos, "
        "retención de datos, almacenamiento o acceso a las APIs.",
        buttons=buttons,
        context=Context(topic=topic, plans=tuple(plans)),
        awaiting=True,
    )


def _yes_no(catalogue: Catalogue, feature: Feature, plan: Plan) -> str:
    value = feature.values[plan.key]
    if not value.available:
        since = first_plan_with(catalogue, feature)
        tail = f" Está disponible desde el plan {since}." if since else ""
        return f"No, el plan {plan.name} no incluye {feature.name}.{tail}"
    described = value_text(feature, value)
    if described == "incluido":
        return f"Sí, el plan {plan.name} incluye {feature.name}."
    return f"Sí, el plan {plan.name} incluye {feature.name} ({described})."


def _quantity(feature: Feature, plan: Plan) -> str:
    value = feature.values[plan.key]
    text = f"{feature.name} en el plan {plan.name}: {value_text(feature, value)}."
    return f"{text} {value.note}" if value.note else text


def describe(catalogue: Catalogue, feature: Feature, plan: Plan, text: str = "") -> str:
    """One sentence answering 'what does plan P have of feature F?' (yes/no first when so asked)."""
    if feature.kind == "included":
        return _yes_no(catalogue, feature, plan)
    sentence = _quantity(feature, plan)
    if not is_polar(text):
        return sentence
    value = feature.values[plan.key]
    asked = numbers_in(text)
    if _UNLIMITED.search(fold(text)):
        yes = value.unlimited
    elif asked:
        yes = bool(asked & numbers_in(value_text(feature, value)))
    else:
        yes = value.available and value.amount != 0
    return lead(yes, sentence)


def feature_value(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Cuántos usuarios trae el Expert?', '¿El Starter tiene repositorio de mensajes?'."""
    features = question.features or question.context.features
    plans = question.plans or question.context.plans
    if not features:
        if question.plans:
            # "¿Qué trae el Specialist?" read as a feature question: the plan's summary answers it all.
            return plan_summary(catalogue, question)
        return ask_which_feature(catalogue, question, "ask_feature_value")
    if not plans:
        return feature_plans(catalogue, question)
    lines = [
        describe(catalogue, catalogue.feature(f), catalogue.plan(p), question.text)
        for f in features[:MAX_FEATURES_PER_ANSWER]
        for p in plans
    ]
    context = Context(topic="ask_feature_value", plans=tuple(plans), features=tuple(features))
    return Reply(tuple(Message(text) for text in _joined(lines)), context)


def _joined(lines: list[str]) -> list[str]:
    if len(lines) == 1:
        return lines
    return pack("", lines)


def feature_across_plans(catalogue: Catalogue, feature: Feature) -> Message:
    """A feature in every plan: which plans have it and from which plan it starts."""
    table = Table(
        ("Plan", feature.name),
        tuple(
            (p.name, first_upper(value_with_note(feature, feature.values[p.key]))) for p in catalogue.plans
        ),
    )
    if feature.kind == "included" and all(
        v.detail is None and v.amount is None and v.activator is None for v in feature.values.values()
    ):
        having = plans_having(catalogue, feature)
        lacking = [p.name for p in catalogue.plans if p.name not in having]
        if not lacking:
            return Message(f"{feature.name} está incluido en todos los planes: {join(having)}.", table=table)
        if not having:
            return Message(f"Ningún plan incluye {feature.name}.", table=table)
        if len(having) == 1:
            where = f"solo está disponible en el plan {having[0]}"
        else:
            where = f"está disponible en los planes {join(having)}, es decir, desde el plan {having[0]}"
        text = f"{feature.name} {where}. No lo incluye{'n' if len(lacking) > 1 else ''}: {join(lacking)}."
        return Message(text, table=table)
    lines = [f"{p.name}: {value_text(feature, feature.values[p.key])}" for p in catalogue.plans]
    notes = sorted({v.note for v in feature.values.values() if v.note})
    since = first_plan_with(catalogue, feature)
    header = f"{feature.name} por plan:"
    text = "\n".join([header, *(f"• {line}" for line in lines)])
    if since and since != catalogue.plans[0].name:
        text += f"\nDisponible desde el plan {since}."
    if notes:
        text += "\n" + " ".join(notes)
    return Message(text, table=table)


def feature_plans(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Qué planes tienen SSO?', '¿Desde qué plan hay mapa de flujos?', '¿Cuántos bots trae cada plan?'."""
    features = question.features
    if not features:
        # "¿Qué planes tienen?" names no feature: the user wants the list of plans.
        return list_plans(catalogue, question)
    messages = tuple(feature_across_plans(catalogue, catalogue.feature(f)) for f in features[:3])
    verdict = _across_verdict(catalogue, catalogue.feature(features[0]), question.text)
    if verdict is not None:
        first = messages[0]
        messages = (Message(lead(verdict, first.text), first.buttons, first.table), *messages[1:])
    return Reply(messages, Context(topic="ask_feature_plans", features=tuple(features)))


_EVERY = re.compile(r"\b(?:todos|todas|cada plan|cada uno)\b")
_SAME = re.compile(r"\b(?:igual\w*|mism[oa]s?)\b")
_WITHOUT = re.compile(r"\b(?:sin|no tienen?|no incluyen?|ningun\w*)\b")


def _across_verdict(catalogue: Catalogue, feature: Feature, text: str) -> bool | None:
    """'¿Todos los planes tienen ISO 27001?', '¿hay algún plan sin envío masivo?', '¿el SLA es igual en
    todos?', '¿hay planes con bots sin límite?' — answered from the row across the plans."""
    if not is_polar(text):
        return None
    values = [feature.values[p.key] for p in catalogue.plans]
    folded = fold(text)
    if _SAME.search(folded):
        return len({value_text(feature, v) for v in values}) == 1
    if _UNLIMITED.search(folded):
        return any(v.unlimited for v in values)
    if _WITHOUT.search(folded):
        return not all(v.available for v in values)
    if _EVERY.search(folded):
        return all(v.available for v in values)
    return any(v.available for v in values)
