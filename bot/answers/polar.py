"""Yes/no questions: recognising them, and opening their answer with «Sí» or «No»."""

from __future__ import annotations

import re

from bot.nlu.resolve import fold

# An open question starts with (or soon has) a question word; a yes/no question does not.
_OPEN = re.compile(
    r"\b(?:que|cual|cuales|cuanto|cuanta|cuantos|cuantas|como|donde|dnd|cuando|quien|quienes|"
    r"xq|porque|por que|para que)\b"
)
_POLAR_VERB = re.compile(
    r"\b(?:puedo|puede|pueden|podemos|podre|podria|podes|se puede|es posible|tiene|tienen|tenes|tengo|"
    r"tenemos|incluye|incluyen|trae|traen|viene|vienen|hay|existe|existen|acepta|aceptan|aceptais|"
    r"permite|permiten|cuenta con|cuentan con|ofrece|ofrecen|sirve|sirven|funciona|acumula|acumulan|"
    r"es|son|esta|estan|da|dan|cobran|cobra|necesito|debo|hace falta|se pierde|se pierden|vence|"
    r"vencio|esta vencida|me dan|dispongo|disponen)\b"
)
# "quería saber si…", "me dices si…", "…o no?": yes/no even after a question word.
_ASKS_IF = re.compile(r"\b(?:saber|decir|dices|dime|confirmas|confirmame|sabes|pregunta) si\b|\bo no\s*$")
_LEADING = re.compile(
    r"^(?:(?:hola|oye|oiga|che|buenas|buenos dias|disculpa|perdon|una pregunta|pregunta|y|pero|"
    r"entonces|osea|o sea|ok|vale|bueno|ahora)\s+)+"
)


def is_polar(text: str) -> bool:
    """'¿El Starter tiene SSO?' and 'quería saber si puedo pagar con factura' are yes/no questions."""
    folded = fold(text)
    if _ASKS_IF.search(folded):
        return True
    head = " ".join(_LEADING.sub("", folded).split()[:4])
    if _OPEN.search(head):
        return False
    return bool(_POLAR_VERB.search(folded))


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
