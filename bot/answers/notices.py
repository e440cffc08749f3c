"""What the assistant tells a user about the conversation itself rather than about plans: the channel's
limits, an outage, a hand-off's progress. The gateway shows these; their words live here, with the
answers."""

from __future__ import annotations

APOLOGY = (
    "Perdona, el asistente no está disponible en este momento. Guardamos tu mensaje y te responderemos "
    "en cuanto vuelva."
)
ENGINE_QUEUED = (
    "El asistente no está disponible en este momento. Guardamos tu mensaje: lo responderemos en cuanto "
    "vuelva. Puedes reintentar en unos segundos."
)
EMPTY = "No recibí ningún texto. Escríbeme tu pregunta sobre planes, canales, pagos o contratos."
MEDIA_ONLY = "Por ahora solo puedo leer mensajes de texto. Escríbeme tu pregunta, por favor."
LOCATION = (
    "Gracias por tu ubicación, pero solo puedo ayudarte con preguntas escritas sobre planes, canales y pagos."
)
RATE_LIMITED = "Estás enviando mensajes muy rápido. Espera unos segundos y vuelve a intentarlo."
DUPLICATE_ID = "Ese identificador de mensaje ya se usó."
# What a text channel answers instead of a message that is not text.
NOT_TEXT = {"location": LOCATION, "media": MEDIA_ONLY, "empty": EMPTY}
# Buttons on a text-only channel become numbered options, followed by this line.
OPTIONS_HINT = "Responde con el número de la opción."
RESOLVED = "La persona del equipo cerró la conversación. Te devuelvo con el asistente: ¿en qué más te ayudo?"


def too_long(length: int, limit: int) -> str:
    """A message over the size cap."""
    size = f"{length} caracteres; máximo {limit}"
    return f"Tu mensaje es demasiado largo ({size}). Escríbelo más corto, por favor."


def taken(agent: str) -> str:
    """A person joined the conversation."""
    return f"{agent} del equipo de soporte se unió a la conversación."


def position_text(position: int) -> str:
    """'Estás en la posición 2 de la fila.'."""
    if position == 1:
        return "Eres el siguiente en la fila: una persona te atenderá en breve."
    return f"Estás en la posición {position} de la fila. Te avisaremos cuando avance."
