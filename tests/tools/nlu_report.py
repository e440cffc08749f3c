"""Prints intent and entity F1 from `rasa test nlu` results and fails below the floors.

With `--cross-validation` (results of `make nlu-cv` on the training data) it prints the same figures and
the most frequent confusions, and never fails: cross-validation is for finding what to fix.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

# Issue #12: held-out intent macro F1 and entity F1 of at least 0.97.
INTENT_FLOOR = float(os.environ.get("NLU_INTENT_F1_FLOOR", "0.97"))
ENTITY_FLOOR = float(os.environ.get("NLU_ENTITY_F1_FLOOR", "0.97"))


def confusions(results: Path, top: int = 15) -> list[tuple[tuple[str, str], int]]:
    """(expected, predicted) intent pairs of the errors, most frequent first."""
    path = results / "intent_errors.json"
    if not path.exists():
        return []
    errors = json.loads(path.read_text())
    return Counter((e["intent"], e["intent_prediction"]["name"]) for e in errors).most_common(top)


def main(args: list[str]) -> int:
    """Read the reports in the folder named last in `args`; return non-zero below a floor."""
    cross_validation = "--cross-validation" in args
    folders = [a for a in args if not a.startswith("--")]
    results = Path(folders[-1] if folders else "results/nlu")
    intents = json.loads((results / "intent_report.json").read_text())
    entities = json.loads((results / "DIETClassifier_report.json").read_text())
    intent_f1 = intents["macro avg"]["f1-score"]
    entity_f1 = entities["micro avg"]["f1-score"]
    examples = intents["macro avg"]["support"]
    what = "training data, cross-validated" if cross_validation else "held-out test set"
    print(f"NLU {what}: {examples} messages")
    print(f"  intent macro F1 {intent_f1:.3f} (weighted {intents['weighted avg']['f1-score']:.3f})")
    print(f"  entity micro F1 {entity_f1:.3f} (macro {entities['macro avg']['f1-score']:.3f})")
    worst = sorted(
        (name, row["f1-score"])
        for name, row in intents.items()
        if isinstance(row, dict)
        and "support" in row
        and name not in ("macro avg", "weighted avg", "micro avg")
    )
    for name, f1 in sorted(worst, key=lambda item: item[1])[:5]:
        print(f"  lowest intents: {name} {f1:.3f}")
    for (expected, predicted), count in confusions(results):
        print(f"  confused {count}×: {expected} -> {predicted}")
    if cross_validation:
        return 0
    failed = intent_f1 < INTENT_FLOOR or entity_f1 < ENTITY_FLOOR
    if failed:
        print(f"FAILED: floors are intent {INTENT_FLOOR} and entity {ENTITY_FLOOR}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
