"""Opting out of (and back into) messages on a channel that writes first (WhatsApp): "STOP", "BAJA",
"no me escriban más" … and "START", "ALTA".

Only a message that is nothing but the request counts: "quiero darme de baja" or "dar de baja mi contrato"
are questions about cancelling the service (a hand-off), and "cancelar" ends a dialogue, not the messages.
"""

from __future__ import annotations

import re
from enum import Enum

from bot.nlu.resolve import fold


class Consent(Enum):
    """What a message asks of the messages the assistant sends."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


_POLITE = r"(?:(?:por favor|porfa|porfavor|gracias|ya)\s+)?"
_TAIL = r"(?:\s+(?:por favor|porfa|porfavor|gracias))?"
_VIA = r"(?:\s+(?:por|a traves de|en)\s+(?:aqui|aca|whatsapp|wsp|este (?:medio|numero|chat)))?"
_MORE = r"(?:\s+(?:mas|nunca mas))?"
_MESSAGES = r"(?:\s+(?:mensajes|msjs?|notificaciones|avisos|promociones|nada))?"

_OPT_OUT = re.compile(
    "^"
    + _POLITE
    + "(?:"
    + r"stop|stopp|parar|unsubscribe|baja|darme de baja de (?:los )?(?:mensajes|whatsapp|notificaciones)"
    + r"|cancelar (?:la )?suscripcion|desuscribir(?:me)?|desuscribirse|anular suscripcion"
    + r"|no (?:me|nos) (?:escriban|escribas|escriba|manden|mandes|mande|envien|envies|envie|contacten"
    + r"|contactes|contacte|molesten|molestes|molesteis|escribais)"
    + _MORE
    + _MESSAGES
    + r"|no quiero (?:recibir )?(?:mas )?(?:mensajes|notificaciones|que me escriban)(?: de ustedes)?"
    + r"|dej(?:a|en|e|ad) de (?:escribirme|enviarme mensajes|mandarme mensajes|molestarme|contactarme"
    + r"|escribirnos)"
    + ")"
    + _VIA
    + _TAIL
    + "$"
)

_OPT_IN = re.compile(
    "^"
    + _POLITE
    + r"(?:start|alta|unstop|subscribe|suscribir(?:me)?|darme de alta|reanudar mensajes"
    + r"|quiero (?:volver a )?recibir (?:los )?mensajes(?: de nuevo| otra vez)?)"
    + _TAIL
    + "$"
)

_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def _bare(text: str) -> str:
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", fold(text))).strip()


def consent_change(text: str) -> Consent | None:
    """OPT_OUT or OPT_IN when the whole message asks for it; None for anything else."""
    bare = _bare(text)
    if not bare or len(bare) > 80:
        return None
    if _OPT_OUT.match(bare):
        return Consent.OPT_OUT
    if _OPT_IN.match(bare):
        return Consent.OPT_IN
    return None
