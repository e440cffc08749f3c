"""When the assistant hands off, why, and what it tells the user before doing so."""

from __future__ import annotations

import re
from datetime import datetime

from bot.handoff.hours import BusinessHours
from bot.nlu.resolve import fold

# The custom payload by which the assistant asks the gateway to hand the conversation off.
HANDOFF_TYPE = "handoff"

# Topics that need a person, recognised in the user's words once the NLU says it is a billing issue.
_REASON_WORDS = (
    (
        "double_charge",
        re.compile(r"\b(dos veces|doble cobro|cobro doble|duplicad[oa]s?|cobraron de mas|dos cobros)\b"),
    ),
    ("refund", re.compile(r"\b(reembolso|reembolsen|devolucion|devuelvan|regresen mi dinero|reintegro)\b")),
    (
        "cancel_contract",
        re.compile(r"\b(cancelar|cancelacion|dar de baja|darme de baja|rescindir|terminar)\b"),
    ),
)


def reason_for(intent: str, text: str) -> str:
    """The hand-off reason: the user asked, or a billing topic that needs a person."""
    if intent != "billing_issue":
        return "requested"
    folded = fold(text)
    for reason, pattern in _REASON_WORDS:
        if pattern.search(folded):
            return reason
    return "billing_dispute"


# Why a conversation was handed off, as the agent console names it.
REASONS = {
    "requested": "El cliente pidió hablar con una persona",
    "not_understood": "El asistente no entendió dos veces seguidas",
    "billing_dispute": "Disputa de cobro",
    "refund": "Solicitud de reembolso",
    "cancel_contract": "Cancelación de contrato",
    "double_charge": "Cobro duplicado",
}

_LEADS = {
    "requested": "Claro, te comunico con una persona del equipo de soporte.",
    "not_understood": "Sigo sin entenderte, así que te comunico con una persona del equipo de soporte.",
    "billing_dispute": "Una disputa de cobro necesita a una persona: te comunico con el equipo de soporte.",
    "refund": "Un reembolso lo gestiona una persona: te comunico con el equipo de soporte.",
    "cancel_contract": "Cancelar un contrato lo gestiona una persona: te comunico con el equipo de soporte.",
    "double_charge": "Un cobro duplicado lo revisa una persona: te comunico con el equipo de soporte.",
}


def handoff_message(reason: str, moment: datetime, hours: BusinessHours) -> str:
    """What the assistant says before handing off (with when someone will answer, outside hours)."""
    text = f"{_LEADS.get(reason, _LEADS['requested'])} Te escribirá por este mismo chat."
    notice = hours.notice(moment)
    return f"{text} {notice}" if notice else text
