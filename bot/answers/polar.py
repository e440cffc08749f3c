"""Yes/no questions: recognising them, and opening their answer with «Sí» or «No»."""

from __future__ import annotations

import re

from bot.nlu.resolve import fold

# Question words. Unaccented "que" and "como" are also a relative pronoun and "like" ("los envíos que me
# sobran…"): they open a question only first, after a preposition, or written with their accent.
_WH_WORDS = "que cual cuales cuanto cuanta cuantos cuantas como donde dnd cuando quien quienes xq porque"
_WH = frozenset(_WH_WORDS.split())
_AMBIGUOUS = frozenset({"que", "como"})
_PREPOSITIONS = frozenset({"a", "de", "en", "para", "por", "con", "desde", "hasta", "sobre", "y"})
_POLAR_VERB = re.compile(
    r"\b(?:puedo|puede|pueden|podemos|podre|podria|podes|se puede|es posible|tiene|tienen|tenes|tengo|"
    r"tenemos|incluye|incluyen|trae|traen|viene|vienen|hay|existe|existen|acepta|aceptan|aceptais|"
    r"permite|permiten|cuenta con|cuentan con|ofrece|ofrecen|sirve|sirven|funciona|acumula|acumulan|"
    r"es|son|esta|estan|da|dan|cobran|cobra|pagan|paga|necesito|debo|hace falta|se pierde|se pierden|"
    r"vence|vencio|me dan|dispongo|disponen|deja|dejan|muestra|muestran|aparece|aparecen|pasa|pasan|"
    r"queda|quedan|sigue|siguen)\b"
)
# "quería saber si…", "me dices si…", "…o no?": yes/no even after a question word.
_ASKS_IF = re.compile(r"\b(?:saber|decir|dices|dime|confirmas|confirmame|sabes|pregunta) si\b|\bo no\s*$")
_LEADING_WORDS = (
    "hola oye oiga che buenas disculpa perdon una pregunta y pero entonces osea ok vale bueno ahora"
)
_LEADING = frozenset(_LEADING_WORDS.split())
_WORD = re.compile(r"\w+")


def is_open(text: str) -> bool:
    """Whether a question word opens the question ('¿qué canales tiene el Starter?', 'el starter cuántos
    usuarios tiene'), rather than being embedded after its verb ('el contrato muestra qué canales…')."""
    written = [w.casefold() for w in _WORD.findall(text)]
    words = fold(text).split()
    if len(written) != len(words):  # a character fold() splits on: compare folded words only
        written = words
    start = 0
    while start < len(words) and words[start] in _LEADING:
        start += 1
    for i in range(start, min(start + 5, len(words))):
        word = words[i]
        if word not in _WH:
            continue
        opens = word not in _AMBIGUOUS or written[i] != word or i == start or words[i - 1] in _PREPOSITIONS
        if opens and not _POLAR_VERB.search(" ".join(words[start:i])):
            return True
    return False


def is_polar(text: str) -> bool:
    """'¿El Starter tiene SSO?', 'hay que ser admin para ver los contratos?' and 'quería saber si puedo
    pagar con factura' are yes/no questions; '¿qué canales tiene el Starter?' is not."""
    folded = fold(text)
    if _ASKS_IF.search(folded):
        return True
    return not is_open(text) and bool(_POLAR_VERB.search(folded))


def lead(yes: bool, text: str) -> str:
    """'Sí. …' or 'No. …' before the detail (the detail's own first letter kept as it is)."""
    return f"{'Sí' if yes else 'No'}. {text}"


def numbers_in(text: str) -> set[int]:
    """The whole numbers a message states ('2.000', '2000' and '2 mil' alike), ignoring contract numbers."""
    folded = fold(re.sub(r"(?<=\d)[.,](?=\d{3}\b)", "", text))
    found: set[int] = set()
    for match in re.finditer(r"(?<![\w-])(\d{1,5})(\s*mil\b)?(?![\w-])", folded):
        found.add(int(match.group(1)) * (1000 if match.group(2) else 1))
    return found
