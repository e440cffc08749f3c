"""What the assistant says when it cannot answer yet: a choice between two close readings, the fallback
(with the likeliest topics as options), and a number typed when no options were offered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.answers.dispatch import FALLBACK_TEXT
from bot.answers.reply import Button, Reply, payload, single
from bot.dialogue.state import Pending

# Each answerable intent as an option the user recognises.
LABELS = {
    "ask_feature_value": "Un recurso de un plan",
    "ask_feature_plans": "Qué planes tienen un recurso",
    "compare_plans": "Comparar planes",
    "plan_summary": "Qué incluye un plan",
    "list_plans": "Ver los planes",
    "recommend_plan": "Que me recomiendes un plan",
    "ask_price": "Precios",
    "explain_interactionz": "Qué son las InteractionZ",
    "explain_users": "Qué son los usuarios",
    "ask_overage": "Usuarios o InteractionZ excedentes",
    "ask_channels": "Canales",
    "ask_channels_package": "El paquete de canales",
    "ask_payment_methods": "Formas de pago",
    "ask_add_card": "Agregar o cambiar una tarjeta",
    "card_problem": "Problemas con una tarjeta",
    "ask_invoice": "Invoices (facturas)",
    "how_to_contract": "Cómo contratar",
    "ask_contracts_access": "Dónde ver planes y contratos",
    "ask_contract_status": "El estado de mis contratos",
    "ask_financial_info": "Mis pagos",
    "ask_card_on_file": "Mi tarjeta registrada",
}
# Two readings closer than this (in NLU confidence) are asked about rather than guessed.
CLOSE = 0.2
# Below this, the likeliest reading is too weak to offer.
PLAUSIBLE = 0.15
_ENTITY_TYPES = ("plan", "feature", "channel", "contract_number")


def _readings(ranking: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(name, confidence) for name, confidence in ranking if name in LABELS]


def _button(intent: str, entities: Sequence[Mapping[str, Any]]) -> Button:
    values: dict[str, tuple[str, ...]] = {}
    for entity in entities:
        kind = str(entity.get("entity", ""))
        if kind in _ENTITY_TYPES:
            values[kind] = (*values.get(kind, ()), str(entity.get("value", "")))
    return Button(LABELS[intent], payload(intent, values))


def clarification(
    ranking: Sequence[tuple[str, float]], entities: Sequence[Mapping[str, Any]]
) -> Reply | None:
    """'¿Qué quieres saber: X o Y?' when the two likeliest readings are close and both plausible."""
    readings = _readings(ranking)
    if len(readings) < 2:
        return None
    (first, p1), (second, p2) = readings[:2]
    if p1 < PLAUSIBLE * 2 or p2 < PLAUSIBLE or p1 - p2 > CLOSE:
        return None
    return single(
        "Quiero asegurarme de entenderte: ¿qué quieres saber?",
        buttons=(_button(first, entities), _button(second, entities)),
        awaiting=True,
    )


def fallback_reply(ranking: Sequence[tuple[str, float]], pending: Pending | None) -> Reply:
    """Ask to rephrase; repeat the options still waiting, or offer the likeliest topics."""
    if pending is not None and pending.awaiting:
        return single(
            "Perdona, no entendí tu respuesta. Elige una de estas opciones (puedes escribir su número) o "
            "escribe «cancelar»:",
            buttons=tuple(o.button() for o in pending.options),
            awaiting=True,
        )
    likely = [name for name, confidence in _readings(ranking)[:2] if confidence >= PLAUSIBLE]
    if not likely:
        return single(FALLBACK_TEXT)
    return single(
        f"{FALLBACK_TEXT} ¿O quizás querías preguntar por esto?",
        buttons=tuple(_button(name, ()) for name in likely),
    )


OUT_OF_SCOPE = (
    "Lo siento, solo puedo ayudarte con los planes, canales, pagos y contratos de Zenvia Customer Cloud. "
    "Para otros temas, consulta el Centro de Ayuda. ¿Quieres saber algo sobre los planes?"
)


def nothing_to_choose(text: str) -> Reply:
    """A number or an ordinal typed when no options were offered."""
    said = " ".join(text.split())
    said = said if len(said) <= 24 else said[:24] + "…"
    return single(
        f"Escribiste «{said}», pero ahora no tengo opciones para elegir. ¿Qué quieres saber? Por ejemplo: "
        "«¿cuántos usuarios trae el Expert?», «mis contratos» o «¿cómo agrego una tarjeta?»."
    )
