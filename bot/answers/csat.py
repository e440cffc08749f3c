"""The satisfaction question after a hand-off (CSAT): what the customer is asked, how a rating is read
from what they write or tap, and what tells a comment from a new question."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

QUESTION = (
    "Antes de seguir: ¿cómo calificarías la atención que recibiste? Elige del 1 (muy mala) al 5 (excelente)."
)
# Title and payload of each option: the payload is the number, so a typed number and a tap are one answer;
# in ascending order, so that where options fall back to a numbered list (WhatsApp), option n is rating n.
OPTIONS = (
    ("1 · Muy mala", "1"),
    ("2 · Mala", "2"),
    ("3 · Regular", "3"),
    ("4 · Buena", "4"),
    ("5 · Excelente", "5"),
)
THANKS = "¡Gracias por tu calificación! Si quieres, cuéntanos en un mensaje qué podemos mejorar."
THANKS_WITH_COMMENT = "¡Gracias por tu calificación y tu comentario!"
COMMENT_THANKS = "¡Gracias por tu comentario! Lo compartiremos con el equipo."

_WORDS = {"uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5}
_STARS = re.compile(r"^(?:\s*[⭐★]\ufe0f?){1,5}\s*$")
# "4", "un 4", "le doy 5", "5/5", "4 estrellas", "cinco", then optionally a comment after a separator.
_RATING = re.compile(
    r"^(?:(?:le\s+|te\s+)?(?:doy|pongo|califico(?:\s+con)?|calificacion)\s+)?(?:un\s+|una\s+)?"
    r"(?P<n>[1-5]|uno|dos|tres|cuatro|cinco)(?:\s*/\s*5|\s+de\s+5)?(?:\s+estrellas?)?"
    r"(?:\s*[,.;:!·-]+\s*(?P<rest>.*)|\s*)$",
    re.DOTALL,
)
_QUESTION_START = re.compile(
    r"^(?:que|como|cuando|cuanto|cuanta|cuantos|cuantas|donde|cual|cuales|quien|por\s*que|para\s+que|"
    r"puedo|puedes|podria|podrias|pueden|podrian|quiero|quisiera|necesito|ocupo|me\s+ayudas?|ayuda|"
    r"hola|buenas|buenos|oye|tengo|hay|tienen|cuesta|dame|muestrame|dime|explica|ver|sigo|otra)\b"
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


_LABELS = frozenset(_fold(title.partition("·")[2]) for title, _ in OPTIONS)


@dataclass(frozen=True)
class Rating:
    """A rating read from a message, and the comment that came with it (if any)."""

    value: int
    comment: str | None = None


def read_rating(text: str) -> Rating | None:
    """The rating a message gives (a number 1-5 alone or in a short phrase, 1-5 stars), with what follows
    it as a comment; None when the message is not a rating."""
    if _STARS.match(text):
        return Rating(sum(1 for ch in text if ch in "⭐★"))
    folded = _fold(text)
    match = _RATING.match(folded)
    if match is None:
        return None
    word = match.group("n")
    value = int(word) if word.isdigit() else _WORDS[word]
    rest = (match.group("rest") or "").strip()
    if not rest:
        return Rating(value)
    # The comment is kept in the customer's own words: the text after the number's separator.
    cut = len(text) - len(text.lstrip())
    original = text[cut:]
    separator = re.search(r"[,.;:!·-]", original)
    comment = original[separator.end() :].strip() if separator else rest
    if _fold(comment) in _LABELS:  # "5 · Excelente": the option's own words, not a comment
        return Rating(value)
    return Rating(value, comment or None)


def is_question(text: str) -> bool:
    """Whether a message asks something or starts a new request (then it goes to the assistant, never
    kept as a comment)."""
    if "?" in text or "¿" in text:
        return True
    folded = " ".join(re.sub(r"[^\w\s]", " ", _fold(text)).split())
    return bool(_QUESTION_START.match(folded)) or folded.startswith("/")
