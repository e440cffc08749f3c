"""The channels plan: which channel serves what, per plan, and the package rules."""

from __future__ import annotations

import re

from bot.answers.polar import is_open, is_polar, lead
from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.answers.text import join
from bot.catalogue.models import Catalogue, Channel, ChannelUse
from bot.nlu.resolve import fold

# What the user wants to do with a channel, in their words.
_USE_WORDS: tuple[tuple[ChannelUse, re.Pattern[str]], ...] = (
    ("chatbots", re.compile(r"\b(?:chat ?bots?|bots?|robots?)\b")),
    (
        "atencion",
        re.compile(
            r"\b(?:atend\w*|atencion|soporte|servicio al cliente|responder\w*|conversar|chatear|"
            r"recibir|canal(?:es)? de servicio|servicio)\b"
        ),
    ),
    (
        "envios",
        re.compile(
            r"\b(?:envi\w*|mand\w*|campan\w*|masiv\w*|notificacion\w*|activador\w*|marketing|"
            r"promocion\w*|disparo\w*|difusion)\b"
        ),
    ),
)


def _uses(catalogue: Catalogue, channel: Channel) -> str:
    return join([catalogue.facts.channel_use_names[u] for u in channel.uses])


def uses_asked(text: str) -> tuple[ChannelUse, ...]:
    """The uses a question asks about: 'atender clientes por WhatsApp' -> ('atencion',)."""
    folded = fold(text)
    return tuple(use for use, words in _USE_WORDS if words.search(folded))


def _names(catalogue: Catalogue, key: str) -> set[str]:
    channel = catalogue.channel(key)
    return {fold(name) for name in (channel.name, *channel.aliases)}


def _listed(catalogue: Catalogue, key: str, names: tuple[str, ...] | None) -> bool:
    """Whether a plan's list of channels (activator or service) names this channel."""
    return any(fold(name) in _names(catalogue, key) for name in names or ())


def _verdict(catalogue: Catalogue, plan_key: str | None, key: str, uses: tuple[ChannelUse, ...]) -> str:
    """'No. En el plan Starter, WhatsApp no es un canal de atención…' for one channel, plan and use."""
    facts = catalogue.facts
    channel = catalogue.channel(key)
    if plan_key is None:
        wanted = [u for u in uses if u in channel.uses] if uses else list(channel.uses)
        if uses and not wanted:
            return lead(False, f"{channel.name} está disponible solo para {_uses(catalogue, channel)}.")
        return lead(True, f"{channel.name}: disponible para {_uses(catalogue, channel)}.")
    plan = catalogue.plan(plan_key)
    value = catalogue.feature("multichannel").values[plan_key]
    activator = _listed(catalogue, key, value.activator)
    service = _listed(catalogue, key, value.service)
    lists = (
        f"En el plan {plan.name}, los canales de atención (servicio) son {join(value.service or (), 'y')} "
        f"y los canales activadores (envíos) son {join(value.activator or (), 'y')}."
    )
    if not uses:
        if activator and service:
            return lead(
                True, f"{channel.name} está en el plan {plan.name} para envíos y para atención. {lists}"
            )
        if activator or service:
            role = "envíos (canal activador)" if activator else "atención (canal de servicio)"
            other = "atención al cliente" if activator else "envíos"
            return f"Sí, pero solo para {role}, no para {other}. {lists}"
        return lead(False, f"{channel.name} no está en el plan {plan.name}. {lists}")
    parts = []
    for use in uses:
        # Sending goes through the plan's activator channels; service and chatbots through its service ones.
        ok = (activator if use == "envios" else service) and use in channel.uses
        name = facts.channel_use_names[use]
        detail = f"el plan {plan.name} {'' if ok else 'no '}incluye {channel.name} para {name}."
        parts.append((ok, detail))
    yes = all(ok for ok, _ in parts)
    return lead(yes, " ".join(detail[:1].upper() + detail[1:] for _, detail in parts) + f" {lists}")


def channels(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Para qué sirve el SMS?', '¿Qué canales de atención tiene el Starter?', '¿Qué canales hay?'."""
    facts = catalogue.facts
    context = Context(topic="ask_channels", plans=question.plans, channels=question.channels)
    if question.channels and is_polar(question.text):
        uses = uses_asked(question.text)
        plans_: tuple[str | None, ...] = question.plans or question.context.plans[:1] or (None,)
        verdicts = [_verdict(catalogue, p, c, uses) for c in question.channels[:3] for p in plans_[:2]]
        return single("\n".join(verdicts), context=context)
    parts: list[str] = []
    for key in question.channels:
        channel = catalogue.channel(key)
        parts.append(f"{channel.name}: disponible para {_uses(catalogue, channel)}.")
    multichannel = catalogue.feature("multichannel")
    for key in question.plans:
        value = multichannel.values[key]
        plan = catalogue.plan(key)
        if value.activator is not None and value.service is not None:
            parts.append(
                f"Multicanalidad en el plan {plan.name}: canales activadores {join(value.activator)}; "
                f"canales de servicio {join(value.service)}."
            )
    if not parts:
        lines = "\n".join(f"• {c.name}: {_uses(catalogue, c)}" for c in catalogue.channels)
        parts.append(f"Canales de {facts.product} y para qué sirve cada uno:\n{lines}")
        parts.append(" ".join(facts.channels_package_rules))
    if question.channels and not question.plans:
        parts.append(facts.channels_package_rules[-1])
    return single("\n".join(parts), context=context)


_ACCUMULATES = re.compile(
    r"\b(?:acumul\w*|pasa\w* (?:al|pa el|para el) (?:otro|siguiente|proximo)|se guarda\w*|transfier\w*|"
    r"rollover|sobra\w* (?:se|pasa))\b"
)
_UNIT_PRICES = re.compile(r"\bprecio\w* (?:por|de) cada\b|\bprecios? unitari\w*|\bpor canal\b")
_LOST = re.compile(r"\b(?:pierd\w*|perd\w*|vence\w*|caduc\w*)\b")
_COMBINE = re.compile(r"\b(?:combin\w*|mezcl\w*|repart\w*|distribu\w*|usar? (?:varios|distintos))\b")


def _package_verdict(text: str) -> str | None:
    """'¿Se acumula?' -> No; '¿se pierde lo que no uso?' -> Sí; '¿puedo combinar canales?' -> Sí."""
    if is_open(text):
        return None
    folded = fold(text)
    if _ACCUMULATES.search(folded):
        return "No"
    if _LOST.search(folded) or _COMBINE.search(folded) or _UNIT_PRICES.search(folded):
        return "Sí"
    return None


def channels_package(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Se acumula el paquete de canales?'."""
    facts = catalogue.facts
    names = join([c.name for c in catalogue.channels])
    text = (
        f"{facts.channels_plan} {' '.join(facts.channels_package_rules)}\n"
        f"Canales disponibles: {names}. Consulta los precios en {facts.plans_site_url}"
    )
    verdict = _package_verdict(question.text)
    if verdict is not None:
        text = f"{verdict}. {' '.join(facts.channels_package_rules)} {text}"
    return single(text, context=Context(topic="ask_channels_package"))
