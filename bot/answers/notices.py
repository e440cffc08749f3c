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
MEDIA_ONLY = (
    "No puedo abrir archivos, fotos ni audios: solo leo texto. Escríbeme tu pregunta, por favor; si "
    "necesitas mostrar algo a una persona del equipo, pide hablar con un agente."
)
# After answering the words that came with a file (a caption), the assistant says it could not read it.
ATTACHMENT_UNREAD = "No pude abrir el archivo que enviaste: solo leo texto. Te respondí a lo que escribiste."
LOCATION = (
    "Gracias por tu ubicación, pero solo puedo ayudarte con preguntas escritas sobre planes, canales y pagos."
)
RATE_LIMITED = "Estás enviando mensajes muy rápido. Espera unos segundos y vuelve a intentarlo."
DUPLICATE_ID = "Ese identificador de mensaje ya se usó."
# What a text channel answers instead of a message that is not text.
NOT_TEXT = {"location": LOCATION, "media": MEDIA_ONLY, "empty": EMPTY}
# Buttons on a text-only channel become numbered options, followed by this line.
OPTIONS_HINT = "Responde con el número de la opción."
# A tap-to-choose list's button, and the body of options sent without a text of their own.
LIST_BUTTON = "Ver opciones"
CHOOSE = "Elige una opción:"
OPTED_OUT = (
    "Listo: no volveremos a escribirte por aquí. Si quieres retomar la conversación, escribe ALTA o "
    "cualquier pregunta."
)
# What agents read when the customer opts out during a hand-off.
OPTED_OUT_NOTE = "El cliente pidió no recibir más mensajes (baja): la conversación se cerró."
OPTED_IN = "¡Hola de nuevo! Volverás a recibir nuestras respuestas por aquí. ¿En qué te ayudo?"
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
