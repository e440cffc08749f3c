"""Similar not-understood messages grouped together, most frequent group first.

Plain normalisation and token similarity, no model: messages are folded (case, accents, punctuation),
stripped of Spanish function words, and compared with RapidFuzz's `token_sort_ratio` (word order does not
matter, a typo costs a little). Each message joins the first group whose leader it resembles enough, else
leads a new group. This is deterministic, explainable to a supervisor ("these read alike"), fast in C for
the few thousand messages a review holds, and RapidFuzz is already a dependency of the NLU. Embeddings
would group paraphrases better but need a model at review time; the groups only save clicks — every
message is still shown and labelled on its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process

from bot.nlu.resolve import fold

# Similarity (0-100) from which two messages go in one group.
THRESHOLD = 75.0
_STOP = frozenset(
    (
        "a",
        "al",
        "algo",
        "como",
        "con",
        "de",
        "del",
        "el",
        "en",
        "es",
        "esta",
        "este",
        "esto",
        "la",
        "las",
        "lo",
        "los",
        "me",
        "mi",
        "mis",
        "no",
        "o",
        "para",
        "por",
        "q",
        "que",
        "se",
        "si",
        "su",
        "sus",
        "te",
        "tu",
        "un",
        "una",
        "uno",
        "unos",
        "y",
        "ya",
    )
)

T = TypeVar("T")


def key(text: str) -> str:
    """What similarity is measured on: the folded words that carry meaning (all of them when only
    function words are left)."""
    words = fold(text).split()
    meaningful = [w for w in words if w not in _STOP]
    return " ".join(meaningful or words)


@dataclass
class Group(Generic[T]):
    """Messages that read alike: the first one leads (and names the group)."""

    leader: str
    members: list[T] = field(default_factory=list)


def group(items: Sequence[T], text_of: Sequence[str]) -> list[Group[T]]:
    """Group `items` (whose texts are `text_of`, in the same order), largest group first; within a group and
    among groups of one size, the order given is kept."""
    groups: list[Group[T]] = []
    leaders: list[str] = []
    for item, text in zip(items, text_of, strict=True):
        normalized = key(text)
        found = process.extractOne(normalized, leaders, scorer=fuzz.token_sort_ratio, score_cutoff=THRESHOLD)
        if found is None:
            leaders.append(normalized)
            groups.append(Group(text, [item]))
        else:
            groups[found[2]].members.append(item)
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i].members), i))
    return [groups[i] for i in order]
