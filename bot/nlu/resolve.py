"""Turns what the NLU extracted (or missed) into catalogue keys, tolerating typos and missing accents."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz, process

from bot.catalogue.models import Catalogue

ENTITY_TYPES = ("plan", "feature", "channel")
FUZZY_CUTOFF = 84
# Scanning free text for plan names must not mistake "especial" for "especialist".
PLAN_WORD_CUTOFF = 88


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, squeeze spaces: 'Retención DATOS?' -> 'retencion datos'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s]", " ", bare).split())


@dataclass(frozen=True)
class Mentions:
    """Catalogue keys mentioned in one message, in the order they appear."""

    plans: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


class Resolver:
    """Maps surface forms to catalogue keys: exact alias, then fuzzy alias, then a scan of the text."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    @cached_property
    def _aliases(self) -> dict[str, dict[str, str]]:
        table: dict[str, dict[str, str]] = {kind: {} for kind in ENTITY_TYPES}
        for plan in self.catalogue.plans:
            for alias in (plan.key, plan.name, *plan.aliases):
                table["plan"][fold(alias)] = plan.key
        for feature in self.catalogue.features:
            for alias in (feature.key, feature.name, *feature.aliases):
                table["feature"][fold(alias)] = feature.key
        for channel in self.catalogue.channels:
            for alias in (channel.key, channel.name, *channel.aliases):
                table["channel"][fold(alias)] = channel.key
        return table

    def aliases(self, kind: str) -> Mapping[str, str]:
        """Folded alias -> key for one entity type."""
        return self._aliases[kind]

    def resolve(self, kind: str, surface: str, cutoff: int = FUZZY_CUTOFF) -> str | None:
        """The key that a surface form names, or None."""
        table = self._aliases[kind]
        folded = fold(surface)
        if not folded:
            return None
        if folded in table:
            return table[folded]
        folded = re.sub(r"^(el|la|los|las|plan|del|de)\s+", "", folded)
        if folded in table:
            return table[folded]
        match = process.extractOne(folded, table.keys(), scorer=fuzz.ratio, score_cutoff=cutoff)
        return None if match is None else table[match[0]]

    def scan(self, kind: str, text: str) -> list[str]:
        """Keys whose aliases occur in the text as whole words, longest alias first, in text order."""
        folded = f" {fold(text)} "
        found: list[tuple[int, str]] = []
        taken: list[tuple[int, int]] = []
        table = self._aliases[kind]
        for alias in sorted(table, key=len, reverse=True):
            start = folded.find(f" {alias} ")
            while start != -1:
                span = (start, start + len(alias) + 2)
                if not any(span[0] < end and start_ < span[1] for start_, end in taken):
                    taken.append(span)
                    found.append((start, table[alias]))
                start = folded.find(f" {alias} ", start + 1)
        if kind == "plan":
            found += self._fuzzy_plan_words(folded, taken)
        if kind == "feature":
            found += self._gapped_aliases(folded, taken)
        return _unique(key for _, key in sorted(found))

    @cached_property
    def _feature_stems(self) -> list[tuple[tuple[str, ...], str]]:
        """Multi-word feature aliases as stems of their content words, most words first."""
        stems = {
            tuple(_stem(w) for w in alias.split() if w not in _STOPWORDS): key
            for alias, key in self._aliases["feature"].items()
        }
        return sorted(((s, k) for s, k in stems.items() if len(s) >= 2), key=lambda item: -len(item[0]))

    def _gapped_aliases(self, folded: str, taken: list[tuple[int, int]]) -> list[tuple[int, str]]:
        """'se guardan mis datos' names 'guardan datos': an alias's words in order, a few words apart."""
        words = [(m.start(), _stem(m.group())) for m in re.finditer(r"\w+", folded)]
        found = []
        for stems, key in self._feature_stems:
            start = _in_order(words, stems)
            if start is not None and not any(a <= start < b for a, b in taken):
                found.append((start, key))
        return found

    def _fuzzy_plan_words(self, folded: str, taken: list[tuple[int, int]]) -> list[tuple[int, str]]:
        """Misspelt plan names ('especilist') as single words of five letters or more."""
        found = []
        for match in re.finditer(r"\w{5,}", folded):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            key = self.resolve("plan", match.group(), PLAN_WORD_CUTOFF)
            if key is not None:
                found.append((match.start(), key))
        return found

    def mentions(self, entities: Sequence[Mapping[str, Any]], text: str) -> Mentions:
        """Keys from the extracted entities; where a type has none, from a scan of the text."""
        result: dict[str, list[str]] = {kind: [] for kind in ENTITY_TYPES}
        for entity in entities:
            kind = str(entity.get("entity", ""))
            if kind not in result:
                continue
            key = self.resolve(kind, str(entity.get("value", "")))
            if key is None:
                # The synonym mapper may have replaced the text: try the words the user typed.
                start, end = entity.get("start"), entity.get("end")
                if isinstance(start, int) and isinstance(end, int):
                    key = self.resolve(kind, text[start:end])
            if key is not None:
                result[kind].append(key)
        for kind in ENTITY_TYPES:
            scanned = self.scan(kind, text)
            result[kind] = _unique([*result[kind], *scanned]) if result[kind] else scanned
        return Mentions(tuple(result["plan"]), tuple(result["feature"]), tuple(result["channel"]))


_STOPWORDS = frozenset(
    {"de", "del", "la", "las", "el", "los", "a", "al", "en", "por", "para", "con", "y", "o", "mis", "mi"}
)
_MAX_GAP = 2


def _stem(word: str) -> str:
    """A crude stem that lets 'guardan', 'guardar' and 'guardamos' (and 'dato', 'datos') meet."""
    return word[:5] if len(word) > 5 else word.rstrip("s")


def _in_order(words: Sequence[tuple[int, str]], stems: Sequence[str]) -> int | None:
    """Where `stems` occur among `words` in order with at most _MAX_GAP words between them, else None."""
    for first, (start, word) in enumerate(words):
        if word != stems[0]:
            continue
        position = first
        for stem in stems[1:]:
            window = [i for i in range(position + 1, position + 2 + _MAX_GAP) if i < len(words)]
            position = next((i for i in window if words[i][1] == stem), -1)
            if position < 0:
                break
        else:
            return start
    return None


def _unique(keys: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for key in keys:
        seen.setdefault(key, None)
    return list(seen)
