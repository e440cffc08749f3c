"""The channels plan: which channel serves what, per plan, and the package rules."""

from __future__ import annotations

from bot.answers.question import Question
from bot.answers.reply import Context, Reply, single
from bot.answers.text import join
from bot.catalogue.models import Catalogue, Channel


def _uses(catalogue: Catalogue, channel: Channel) -> str:
    return join([catalogue.facts.channel_use_names[u] for u in channel.uses])


def channels(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Para qué sirve el SMS?', '¿Qué canales de atención tiene el Starter?', '¿Qué canales hay?'."""
    facts = catalogue.facts
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
    text = "\n".join(parts)
    context = Context(topic="ask_channels", plans=question.plans, channels=question.channels)
    return single(text, context=context)


def channels_package(catalogue: Catalogue, question: Question) -> Reply:
    """'¿Se acumula el paquete de canales?'."""
    facts = catalogue.facts
    names = join([c.name for c in catalogue.channels])
    text = (
        f"{facts.channels_plan} {' '.join(facts.channels_package_rules)}\n"
        f"Canales disponibles: {names}. Consulta los precios en {facts.plans_site_url}"
    )
    return single(text, context=Context(topic="ask_channels_package"))
