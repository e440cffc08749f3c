"""Run by the engine's Python: `engine_entity_filter.EntitySpanFilter` learns the surface forms of each
entity type from training data, trims function words at the edges of DIET's spans and drops spans that
name nothing; other extractors' entities and other types pass untouched. Prints "ok N"."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from engine_entity_filter import EntitySpanFilter
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

DATA = """
version: "3.1"
nlu:
- intent: ask_feature_value
  examples: |
    - cuantos [usuarios](feature) trae el [expert](plan)
    - la [retencion de datos](feature) del [starter](plan)
- synonym: data_retention
  examples: |
    - retención
    - retencion de datos
- lookup: plan
  examples: |
    - specialist
"""


def diet(text: str, words: str, kind: str = "feature", extractor: str = "DIETClassifier") -> dict:
    start = text.index(words)
    return {"entity": kind, "start": start, "end": start + len(words), "value": words, "extractor": extractor}


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        storage = LocalModelStorage(Path(folder))
        resource = Resource("entity_filter")
        component = EntitySpanFilter.create({}, storage, resource, None)  # type: ignore[arg-type]
        component.train(RasaYAMLReader().reads(DATA))
        loaded = EntitySpanFilter.load({}, storage, resource, None)  # type: ignore[arg-type]
    checks = 0
    text = "y que hay de la retencion de datos del especialist"
    cases = [
        # (entity in, expected (start, end) out or None when dropped)
        (diet(text, "de la retencion de datos"), diet(text, "retencion de datos")),
        (diet(text, "retencion de datos del"), diet(text, "retencion de datos")),
        (diet(text, "de la"), None),
        (diet(text, "hay"), None),
        (diet(text, "especialist", "plan"), diet(text, "especialist", "plan")),  # a typo of a known form
        (diet(text, "retencion"), diet(text, "retencion")),
        (
            diet(text, "hay de", extractor="RegexEntityExtractor"),
            diet(text, "hay de", extractor="RegexEntityExtractor"),
        ),
        (diet(text, "la", kind="contract_number"), diet(text, "la", kind="contract_number")),
    ]
    for entity, expected in cases:
        got = loaded.tidy(text, [entity])
        want = [] if expected is None else [expected]
        for item in (*got, *want):
            item.pop("value", None)
        assert got == want, (entity, got, want)
        checks += 1
    assert "usuarios" in loaded.forms["feature"] and "specialist" in loaded.forms["plan"]
    assert "retencion" in loaded.forms["feature"]  # a synonym of a value annotated as a feature
    print(f"ok {checks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
