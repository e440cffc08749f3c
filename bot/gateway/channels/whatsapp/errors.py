"""Twilio's WhatsApp error codes that agents meet, explained to them in Spanish
(twilio.com/docs/api/errors)."""

from __future__ import annotations

# Free-form text outside the 24-hour customer-service window: only an approved template may go.
WINDOW_CODE = "63016"
WINDOW_CLOSED = frozenset({WINDOW_CODE})
# A ContentSid Twilio does not know (the content was deleted, or belongs to another account).
CONTENT_UNKNOWN = "21655"

EXPLANATIONS = {
    "63016": (
        "La ventana de 24 horas de WhatsApp está cerrada: solo se puede enviar una plantilla aprobada hasta "
        "que el cliente vuelva a escribir."
    ),
    "63014": "El cliente bloqueó o desactivó los mensajes de esta cuenta: WhatsApp no lo entregó.",
    "63018": "WhatsApp limitó la cantidad de mensajes de esta cuenta; se reintentará más tarde.",
    "63024": "El destinatario no es válido para WhatsApp (número sin WhatsApp o mal escrito).",
    "63032": "WhatsApp no permite enviar este mensaje a este usuario (restricción de Meta).",
    "63049": "Meta decidió no entregar este mensaje (límites de mensajes de marketing).",
    "63003": "WhatsApp no encontró al destinatario.",
    "63021": "WhatsApp rechazó el contenido del mensaje (formato no válido).",
    "63027": "La plantilla no existe para ese idioma o no está aprobada.",
    "21211": "El número de destino no es válido.",
    "21408": "La cuenta no tiene permiso para enviar a esa región.",
    "21610": "El destinatario pidió no recibir mensajes de este número (STOP).",
    "21617": "El mensaje supera el largo máximo de WhatsApp.",
    "21656": "Las variables de la plantilla no son válidas.",
    "21655": "La plantilla de contenido no existe o no es válida.",
    "11200": "Twilio no pudo descargar el archivo adjunto.",
    "63019": "WhatsApp no pudo descargar el archivo adjunto.",
}


def explain(code: str | None, fallback: str | None = None) -> str | None:
    """What an error means for the agent; the provider's own words (or None) for a code not listed."""
    if code is None:
        return fallback
    return EXPLANATIONS.get(code, f"Error {code} de Twilio" + (f": {fallback}" if fallback else "."))
