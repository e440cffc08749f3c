"""Conversation moves recognised in the words themselves, as a backstop to the NLU's intent: cancelling,
asking to repeat, correcting, acknowledging."""

from __future__ import annotations

import re

from bot.nlu.resolve import fold

_CANCEL = re.compile(
    r"^(?:(?:no|mejor|ya|pues|bueno|ok|vale|nah|porfa|por favor|gracias|eso|todo|mas bien)\s+)*"
    r"(?:cancel\w*|olvid\w*|nada|ninguno|ninguna|dejalo|deja|dejemoslo|dejalo asi|no importa|mejor no|salir|"
    r"sal|ya no|no gracias|no quiero|no quiero ninguno|anula\w*|aborta\w*|stop|basta|nevermind)"
    r"(?:\s+(?:eso|asi|todo|mejor|porfa|por favor|gracias|de eso|ahi|de esos|de ellos|no|ya))*$"
)
_REPEAT = re.compile(
    r"\b(?:repit\w*|repet\w*|otra vez|de nuevo|nuevamente|no (?:te |le |lo )?entendi|como dijiste|"
    r"que dijiste|mande|no alcance a leer|vuelve a decir\w*|no lo vi|no me llego)\b"
    r"|^no (?:te |le |lo )?entiendo$"
)
_CORRECTION = re.compile(
    r"\b(?:quise decir|queria decir|quiero decir|me equivoque|me confundi|me referia|error mio|corrijo|"
    r"correccion|el otro|la otra|no ese|no esa|no era ese|no era esa)\b"
    # "no, el Expert", "perdón, el ZCC-100002", "digo, el Specialist": a slip, then the right value.
    r"|^(?:no+|perdon\w*|disculp\w*|digo|mejor|uy|ups|ay|era)\s+(?:no\s+)?(?:el|la|los|las|del|de|en)\s"
)
_OTHER = re.compile(r"\b(?:el otro|la otra|los otros|las otras|otro contrato|otro plan)\b")
_ACKNOWLEDGE = re.compile(
    r"^(?:ok+|okey|oki|okay|vale|perfecto|entendido|entiendo|dale|listo|genial|de acuerdo|ya|sale|bueno|"
    r"claro|si|excelente|buenisimo|ah ok|va|copiado|bacan|joya|chevere|super|muy bien|bien|ah|aja|"
    r"ok gracias|oka)(?:\s+(?:ok|vale|gracias|dale|listo|entendido|perfecto))*$"
)
_POSITIVE_EMOJI = frozenset("👍👌🙏😊🙂😀😁✅💯🙌👏❤️💪🤝😉☺️😃😄")

SHORT = 6


def words(text: str) -> int:
    """How many words a message has."""
    return len(fold(text).split())


def is_cancel(text: str) -> bool:
    """'cancelar', 'olvídalo', 'nada', 'ninguno', 'mejor no'."""
    folded = fold(text)
    return bool(folded) and words(text) <= SHORT and bool(_CANCEL.match(folded))


def is_repeat(text: str) -> bool:
    """'¿me lo repites?', 'no entendí, otra vez'."""
    return words(text) <= SHORT + 2 and bool(_REPEAT.search(fold(text)))


def is_correction(text: str) -> bool:
    """'no, quise decir el Expert', 'perdón, el ZCC-100002', 'me equivoqué, el otro'."""
    return words(text) <= SHORT + 4 and bool(_CORRECTION.search(fold(text)))


def names_the_other(text: str) -> bool:
    """'el otro', 'la otra'."""
    return bool(_OTHER.search(fold(text)))


def is_acknowledgement(text: str) -> bool:
    """'ok', 'vale', '👍'."""
    stripped = "".join(ch for ch in text if not ch.isspace() and ch not in "\ufe0f\u200d!.¡")
    if stripped and all(ch in _POSITIVE_EMOJI or ch in "🏻🏼🏽🏾🏿" for ch in stripped):
        return True
    folded = fold(text)
    return bool(folded) and bool(_ACKNOWLEDGE.match(folded))


_SLIP = re.compile(
    r"^(?:(?:no+|perdon\w*|disculp\w*|me equivoque|me confundi|error mio|digo|corrijo|quise decir|"
    r"queria decir|quiero decir|me referia a?|en realidad|uy|ups|ay|mejor|era|sorry)\s+)+"
)


def strip_slip(text: str) -> str:
    """'perdón, quise decir el segundo' -> 'el segundo': the words after the slip."""
    return _SLIP.sub("", fold(text))
