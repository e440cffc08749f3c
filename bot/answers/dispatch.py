"""Which answer serves which intent, and how a follow-up re-asks the previous question."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.answers import billing, cards, channels, contracts, features, plans, pricing, recommend
from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import Mentions

Answer = Callable[[Catalogue, Question], Reply]

ANSWERS: dict[str, Answer] = {
    "ask_feature_value": features.feature_value,
    "ask_feature_plans": features.feature_plans,
    "compare_plans": plans.compare_plans,
    "plan_summary": plans.plan_summary,
    "list_plans": plans.list_plans,
    "recommend_plan": recommend.recommend_plan,
    "ask_price": pricing.price,
    "explain_interactionz": pricing.explain_interactionz,
    "explain_users": pricing.explain_users,
    "ask_overage": pricing.overage,
    "ask_channels": channels.channels,
    "ask_channels_package": channels.channels_package,
    "ask_payment_methods": billing.payment_methods,
    "ask_add_card": billing.add_card,
    "card_problem": cards.card_trouble,
    "ask_invoice": contracts.invoices,
    "how_to_contract": billing.how_to_contract,
    "ask_contracts_access": billing.contracts_access,
    "share_card_data": billing.card_data_warning,
    "ask_contract_status": contracts.contract_status,
    "ask_financial_info": contracts.financial_info,
    "ask_card_on_file": cards.card_on_file,
    "bot_capabilities": plans.capabilities,
}

# Intents whose answer needs the verified Admin's account data.
ACCOUNT_INTENTS = frozenset(
    {"ask_contract_status", "ask_financial_info", "ask_invoice", "ask_card_on_file", "card_problem"}
)

# Topics whose answer depends on the plans or features named, so a follow-up can re-ask them.
_REASKABLE = {
    "ask_feature_value",
    "ask_feature_plans",
    "compare_plans",
    "plan_summary",
    "ask_price",
    "ask_channels",
}


def answer(catalogue: Catalogue, question: Question) -> Reply:
    """Answer a question by its intent."""
    if question.intent == "follow_up":
        return follow_up(catalogue, question)
    handler = ANSWERS.get(question.intent)
    if handler is None:
        return fallback(catalogue, question)
    return handler(catalogue, question)


def follow_up(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Y el Expert?' after a feature question re-asks it for Expert; '¿y la retención?' keeps the plan."""
    previous = question.context
    named = question.mentions
    topic = previous.topic if previous.topic in _REASKABLE else None
    if topic == "ask_feature_plans" and named.plans:
        topic = "ask_feature_value"
    if topic is None:
        topic = topic_for(named)
        if topic is None:
            return fallback(catalogue, question)
    if topic == "compare_plans" and named.plans and previous.plans:
        plans_ = (*previous.plans, *(p for p in named.plans if p not in previous.plans))
    else:
        plans_ = named.plans or previous.plans
    merged = Mentions(
        plans=plans_,
        features=named.features or previous.features,
        channels=named.channels or previous.channels,
    )
    return ANSWERS[topic](catalogue, replace(question, intent=topic, mentions=merged, context=Context()))


def topic_for(named: Mentions) -> str | None:
    """The question that the plans, features or channels named alone most likely ask."""
    if named.features and named.plans:
        return "ask_feature_value"
    if named.features:
        return "ask_feature_plans"
    if named.plans:
        return "plan_summary"
    if named.channels:
        return "ask_channels"
    return None


FALLBACK_TEXT = (
    "Perdona, no estoy seguro de haber entendido. ¿Puedes decirlo de otra forma? Por ejemplo: "
    "«¿cuántos usuarios trae el Expert?», «diferencias entre Starter y Specialist» o "
    "«¿cómo agrego una tarjeta?»."
)


def fallback(catalogue: Catalogue, question: Question) -> Reply:
    """Low confidence: ask to rephrase, with examples of what works."""
    return single(FALLBACK_TEXT, context=question.context)
