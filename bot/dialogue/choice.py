"""Which offered option a typed answer picks: '2', 'el segundo', 'la última', 'zcc 100002', 'el del Expert',
'el suspendido' — or that it picks none of them, or that it is not an answer to the choice at all."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.dialogue.options import Option
from bot.nlu.resolve import PLAN_WORD_CUTOFF, Resolver, fold

# Words that carry no choice of their own ("quiero el del plan Expert, porfa").
_FILLER_WORDS = """
el la los las lo le un una unos unas del de al a que q quiero quisiera queria dame deme da elijo
escojo escogo prefiero selecciono seleccion opcion opciones numero nro num n no si ese esa eso este
esta esto aquel aquella mismo misma mero porfa porfis porfavor por favor favor plis pls please
gracias contrato contratos plan planes mi mis me interesa ver con es y o pues bueno ok vale ahi
tiene tienen dice va sobre para en cual mejor entonces ahora pero oye sea ya the este eh mmm ah bien
seria sera
"""
FILLERS = frozenset(_FILLER_WORDS.split())
_ORDINALS = {
    **dict.fromkeys(("primero", "primera", "primer", "1ro", "1ra", "1er", "uno", "1o", "1a"), 1),
    **dict.fromkeys(("segundo", "segunda", "2do", "2da", "dos", "2o", "2a"), 2),
    **dict.fromkeys(("tercero", "tercera", "tercer", "3ro", "3ra", "3er", "tres", "3o", "3a"), 3),
    **dict.fromkeys(("cuarto", "cuarta", "4to", "4ta", "cuatro"), 4),
    **dict.fromkeys(("quinto", "quinta", "5to", "5ta", "cinco"), 5),
    **dict.fromkeys(("sexto", "sexta", "seis"), 6),
    **dict.fromkeys(("septimo", "septima", "siete"), 7),
    **dict.fromkeys(("octavo", "octava", "ocho"), 8),
    **dict.fromkeys(("noveno", "novena", "nueve"), 9),
    **dict.fromkeys(("decimo", "decima", "diez"), 10),
    **dict.fromkeys(("ultimo", "ultima", "abajo", "final"), -1),
    **dict.fromkeys(("penultimo", "penultima"), -2),
    "arriba": 1,
}
_MIDDLE = frozenset({"medio", "centro"})
_CONTRACT = re.compile(r"^(?:zcc)?(\d{6,7})$")
_FUZZY = 85


@dataclass(frozen=True)
class Picked:
    """The answer picks exactly this option."""

    index: int


@dataclass(frozen=True)
class NoSuchOption:
    """The answer names an option that is not there ('5' of three, a contract not in the list)."""

    said: str


@dataclass(frozen=True)
class Narrowed:
    """Several options fit the answer ('el del Starter' when two contracts are on Starter)."""

    indices: tuple[int, ...]


Resolution = Picked | NoSuchOption | Narrowed


def _words(option: Option) -> set[str]:
    text = " ".join((option.title, *option.keys, *(v for values in option.entities.values() for v in values)))
    return {w for w in fold(text).split() if w not in FILLERS}


def _tokens(text: str) -> list[str]:
    """Folded words; 'zcc-100002' and 'zcc 100002' become one token 'zcc100002'."""
    return fold(re.sub(r"(?i)\bzcc[\s-]*(?=\d)", "zcc", text)).split()


def _names(word: str, option: Option, words: set[str], resolver: Resolver | None) -> bool:
    if word in words:
        return True
    if resolver is not None and len(word) >= 3:
        plan = resolver.resolve("plan", word, PLAN_WORD_CUTOFF)
        if plan is not None:
            return plan in option.entities.get("plan", ()) or plan in option.keys
    return len(word) >= 4 and any(len(w) >= 4 and fuzz.ratio(word, w) >= _FUZZY for w in words)


def resolve_choice(
    text: str, options: Sequence[Option], resolver: Resolver | None = None
) -> Resolution | None:
    """The option a typed answer picks, a clear miss, several candidates, or None: not a choice at all."""
    tokens = [t for t in _tokens(text) if t not in FILLERS]
    if not tokens or not options:
        return None
    count = len(options)
    candidates = set(range(count))
    said: list[str] = []
    # "el primero, no, el segundo": a later position replaces an earlier one.
    positions = [t for t in tokens if (t.isdigit() and len(t) <= 2) or t in _ORDINALS]
    tokens = [t for t in tokens if t not in positions[:-1]]
    for token in tokens:
        contract = _CONTRACT.match(token)
        if contract is not None and not any("contract_number" in o.entities for o in options):
            return None  # a contract number is no answer to a choice of plans: it is a question of its own
        if contract is not None:
            number = f"ZCC-{contract.group(1)}"
            said.append(number)
            candidates &= {
                i
                for i, o in enumerate(options)
                if number in o.keys or number in o.entities.get("contract_number", ())
            }
        elif (token.isdigit() and len(token) <= 2) or token in _ORDINALS:
            position = int(token) if token.isdigit() else _ORDINALS[token]
            said.append(token)
            index = position - 1 if position > 0 else count + position
            candidates &= {index} if 0 <= index < count and position != 0 else set()
        elif token in _MIDDLE:
            said.append(token)
            candidates &= {count // 2} if count % 2 else set()
        elif token.isdigit() and len(token) > 7:
            return None  # a card or a phone number, never an option (and never echoed back)
        elif token.isdigit():
            # Another number (3–5 digits): an option nobody offered.
            said.append(token)
            candidates = set()
        else:
            fitting = {i for i, o in enumerate(options) if _names(token, o, _words(o), resolver)}
            if not fitting:
                return None  # a word no option has: this is another question, not an answer
            candidates &= fitting
    if not candidates:
        return NoSuchOption(" ".join(said) or text.strip())
    if len(candidates) == 1:
        return Picked(candidates.pop())
    return Narrowed(tuple(sorted(candidates)))


def only_contract_number(text: str) -> bool:
    """'zcc 100002', 'el 100002', '100002 porfa': a contract number and nothing else."""
    tokens = [t for t in _tokens(text) if t not in FILLERS]
    return len(tokens) == 1 and _CONTRACT.match(tokens[0]) is not None
