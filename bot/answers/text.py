"""Spanish wording shared by every answer: numbers, lists, plan values and message splitting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.answers.reply import WHATSAPP_LIMIT
from bot.catalogue.models import Catalogue, Feature, PlanValue, Unit


def number(amount: int) -> str:
    """2000 -> '2.000' (Spanish thousands separator, as the page writes it)."""
    return f"{amount:,}".replace(",", ".")


def join(items: Sequence[str], last: str = "y") -> str:
    """['a', 'b', 'c'] -> 'a, b y c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def quantity(unit: Unit, amount: int) -> str:
    """'1 usuario', 'hasta 10 solicitudes por segundo', '2 GB'."""
    if unit.format == "megabytes":
        spoken = (
            f"{number(amount // 1024)} GB"
            if amount >= 1024 and amount % 1024 == 0
            else f"{number(amount)} MB"
        )
    else:
        spoken = f"{number(amount)} {unit.singular if amount == 1 else unit.plural}"
    return f"{unit.prefix} {spoken}" if unit.prefix else spoken


def sentence(text: str) -> str:
    """Capitalise and end with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def lower_first(text: str) -> str:
    """'Solamente informes' -> 'solamente informes'."""
    return text[:1].lower() + text[1:]


def value_text(feature: Feature, value: PlanValue) -> str:
    """The cell of the table in words: 'sí', 'no', '30 usuarios', 'ilimitado', 'bajo consulta'."""
    if not value.available:
        return "no incluido"
    parts: list[str] = []
    if value.amount is not None and feature.unit is not None:
        parts.append(quantity(feature.unit, value.amount))
    elif value.unlimited:
        parts.append("ilimitado")
    elif value.on_request:
        parts.append("bajo consulta")
    if value.detail:
        parts.append(lower_first(value.detail).rstrip("."))
    if value.activator is not None and value.service is not None:
        parts.append(f"activador: {join(value.activator, 'o')}; servicio: {join(value.service, 'o')}")
    return "; ".join(parts) if parts else "incluido"


def capacity_text(feature: Feature, value: PlanValue) -> str:
    """Like `value_text`, but an unlimited amount names its unit: 'usuarios ilimitados'."""
    if value.unlimited and feature.unit is not None and feature.unit.unlimited:
        return feature.unit.unlimited
    return value_text(feature, value)


def value_with_note(feature: Feature, value: PlanValue) -> str:
    """The cell plus its note ('Usuarios excedentes se cobran por separado.')."""
    text = value_text(feature, value)
    return f"{text} ({lower_first(value.note).rstrip('.')})" if value.note else text


def plans_having(catalogue: Catalogue, feature: Feature) -> list[str]:
    """Names of the plans where the feature is available, lowest first."""
    return [p.name for p in catalogue.plans if feature.values[p.key].available]


def first_plan_with(catalogue: Catalogue, feature: Feature) -> str | None:
    """Name of the lowest plan that has the feature."""
    having = plans_having(catalogue, feature)
    return having[0] if having else None


def bullet(lines: Iterable[str]) -> str:
    """Plain bullet list that reads well on WhatsApp and in the webchat."""
    return "\n".join(f"• {line}" for line in lines)


def numbered(lines: Iterable[str]) -> str:
    """'1. …' list."""
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


def pack(header: str, lines: Sequence[str], limit: int = WHATSAPP_LIMIT) -> list[str]:
    """Split a header and bullet lines into messages of at most `limit` characters, never mid-line."""
    chunks: list[str] = []
    current = header
    for line in lines:
        candidate = f"{current}\n• {line}" if current else f"• {line}"
        if len(candidate) > limit and current:
            chunks.append(current)
            candidate = f"• {line}"
        current = candidate
    if current:
        chunks.append(current)
    return chunks
