"""Reviewed messages as Rasa NLU training examples (`data/nlu/reviewed.yml` by default), which the next
`make model` trains on (bot/model.py hashes everything under data/).

The file is merged, not replaced: examples already in it stay (a store reset loses no review), and a message
reviewed again takes its new intent. Texts already in the rest of the training data, or in the held-out
test set (tests/nlu), are left out: a duplicate teaches nothing and a test example must never be trained on.
The order is fixed (by intent, then text), so exporting twice writes the same file."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.resolve import fold
from bot.settings import PROJECT_ROOT

REVIEWED_NLU = PROJECT_ROOT / "data" / "nlu" / "reviewed.yml"
TRAINING_DIR = PROJECT_ROOT / "data" / "nlu"
TEST_DIR = PROJECT_ROOT / "tests" / "nlu"
DOMAIN = PROJECT_ROOT / "domain.yml"
OUT_OF_SCOPE = "out_of_scope"
HEADER = (
    "# Written by `bot review-export` from the supervisors' review of messages the assistant did not\n"
    "# understand. Edit by reviewing again (the export keeps what is here and updates what was relabelled).\n"
)
_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True)
class Example:
    """One training example: its text, intent and entity spans ({"entity", "start", "end"})."""

    text: str
    intent: str
    entities: tuple[Mapping[str, Any], ...] = ()

    def markup(self) -> str:
        """The text in Rasa's markup: '[expert](plan)' for an entity; stray brackets become parentheses,
        so a redacted '[tarjeta terminada en 1234]' is never read as markup."""
        text = " ".join(self.text.split())
        if text != self.text:  # whitespace changed: spans no longer line up, keep the text alone
            return _plain(text)
        spans = sorted(
            (int(e["start"]), int(e["end"]), str(e["entity"]))
            for e in self.entities
            if 0 <= int(e["start"]) < int(e["end"]) <= len(text)
        )
        pieces, done = [], 0
        for start, end, entity in spans:
            if start < done:
                continue  # overlapping spans: the first one wins
            pieces += [_plain(text[done:start]), f"[{_plain(text[start:end])}]({entity})"]
            done = end
        pieces.append(_plain(text[done:]))
        return "".join(pieces)


def _plain(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")


def unmarked(example: str) -> str:
    """An example line without its entity markup, folded for comparison."""
    return fold(_MARKUP.sub(r"\1", example))


def domain_names(domain: Path = DOMAIN) -> tuple[list[str], list[str]]:
    """The intents and entity names of the domain."""
    data = yaml.safe_load(domain.read_text(encoding="utf-8"))
    return [str(i) for i in data.get("intents") or []], [str(e) for e in data.get("entities") or []]


def read_examples(path: Path) -> dict[str, list[str]]:
    """Intent -> example lines (with markup) of a Rasa NLU YAML file (empty when it does not exist)."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: dict[str, list[str]] = {}
    for block in data.get("nlu") or []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        lines = str(block.get("examples") or "").splitlines()
        found.setdefault(str(block["intent"]), []).extend(
            line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
        )
    return found


def known_texts(directories: Iterable[Path], skip: Path) -> set[str]:
    """Every example text (folded, no markup) of the NLU files under `directories`, but `skip`."""
    texts: set[str] = set()
    for directory in directories:
        for path in sorted(directory.rglob("*.yml")):
            if path.resolve() == skip.resolve():
                continue
            for lines in read_examples(path).values():
                texts.update(unmarked(line) for line in lines)
    return texts


def render(examples: Mapping[str, Sequence[str]]) -> str:
    """The training file: intents in order, each one's examples in order."""
    blocks = []
    for intent in sorted(examples):
        lines = "".join(f"      - {line}\n" for line in sorted(set(examples[intent]), key=fold))
        blocks.append(f"  - intent: {intent}\n    examples: |\n{lines}")
    return HEADER + 'version: "3.1"\nnlu:\n' + "".join(blocks)


def merge(
    existing: Mapping[str, Sequence[str]], reviewed: Sequence[Example], excluded: set[str]
) -> dict[str, list[str]]:
    """The examples to write: the file's, with the reviewed ones added (a text's latest review wins), less
    those `excluded` (already elsewhere in the training data or in the test set)."""
    by_text: dict[str, tuple[str, str]] = {}
    for intent, lines in existing.items():
        for line in lines:
            by_text[unmarked(line)] = (intent, line)
    for example in reviewed:
        line = example.markup()
        text = unmarked(line)
        kept = by_text.get(text)
        # Two messages that fold to one text ("Cuánto…??", "cuanto…"): the later review wins, unless it
        # only drops the entities the other one marked.
        if kept is not None and kept[0] == example.intent and line.count("](") < kept[1].count("]("):
            continue
        by_text[text] = (example.intent, line)
    merged: dict[str, list[str]] = {}
    for text, (intent, line) in by_text.items():
        if text and text not in excluded:
            merged.setdefault(intent, []).append(line)
    return merged


def export(
    reviewed: Sequence[Example],
    output: Path = REVIEWED_NLU,
    training: Path = TRAINING_DIR,
    held_out: Path = TEST_DIR,
) -> int:
    """Write the training file (only when it changes); return how many examples it holds. Refuses to
    write into the held-out test set."""
    if output.resolve().is_relative_to(held_out.resolve()):
        raise ValueError(
            f"{output} is in the held-out test set ({held_out}): reviewed examples never go there"
        )
    excluded = known_texts([training, held_out], skip=output)
    merged = merge(read_examples(output), reviewed, excluded)
    count = sum(len(set(lines)) for lines in merged.values())
    if not count:
        return 0
    text = render(merged)
    if not output.exists() or output.read_text(encoding="utf-8") != text:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    return count
