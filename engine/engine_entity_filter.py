"""A Rasa NLU component that tidies the entity spans DIET predicts, named in config.yml after DIETClassifier
and before EntitySynonymMapper as `engine_entity_filter.EntitySpanFilter`.

DIET tags tokens one by one, so on phrasings it has not seen it sometimes takes a function word into a span
("de la retención de datos", "límite de api de") or tags a lone word that names nothing ("se", "rápido").
This component trims function words at the edges of a span and drops a span that, once trimmed, is empty
or matches none of the surface forms the training data gave for its entity type (annotated examples,
synonyms and lookup tables; typos within a similarity cut-off still match). It changes nothing else.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FORMS_FILE = "forms.json"
# Words that never begin or end the name of a plan, feature or channel.
_EDGE = """a al con de del el en la las lo los mi mis o para pa por se su sus tu tus un una y le les me que q
hay cuanto cuantos cuanta cuantas tiene trae"""
EDGE_WORDS = frozenset(_EDGE.split())


def fold(text: str) -> str:
    """Lower case without accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s]", " ", bare).split())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class EntitySpanFilter(GraphComponent):
    """Trims and checks the spans of the extractor it follows (DIETClassifier by default)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Which extractor's spans, of which entity types, and how close a typo must be to a known form."""
        return {"extractor": "DIETClassifier", "entities": ["plan", "feature", "channel"], "similarity": 0.82}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        forms: dict[str, list[str]] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self.forms = {kind: set(values) for kind, values in (forms or {}).items()}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntitySpanFilter:
        """A new, untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EntitySpanFilter:
        """The component with the surface forms it learned."""
        try:
            with model_storage.read_from(resource) as directory:
                forms = json.loads((directory / FORMS_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            forms = {}
        return cls(config, model_storage, resource, forms)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn every surface form of every entity type from the training data."""
        kinds = set(self._config["entities"])
        forms: dict[str, set[str]] = {kind: set() for kind in kinds}
        for example in training_data.entity_examples:
            text = example.get(TEXT) or ""
            for entity in example.get(ENTITIES) or []:
                if entity.get("entity") in kinds:
                    forms[entity["entity"]].add(fold(text[entity["start"] : entity["end"]]))
        synonyms = training_data.entity_synonyms  # surface form -> canonical value
        by_value: dict[str, str] = {}
        for kind, known in forms.items():
            for form in list(known):
                value = synonyms.get(form)
                if value is not None:
                    by_value[value] = kind
        for surface, value in synonyms.items():
            kind = by_value.get(value)
            if kind is not None:
                forms[kind].update({fold(surface), fold(value)})
        for table in training_data.lookup_tables:
            if table.get("name") in kinds:
                forms[table["name"]].update(fold(element) for element in table.get("elements") or [])
        self.forms = {kind: {f for f in known if f} for kind, known in forms.items()}
        with self._storage.write_to(self._resource) as directory:
            (directory / FORMS_FILE).write_text(
                json.dumps({k: sorted(v) for k, v in self.forms.items()}, ensure_ascii=False),
                encoding="utf-8",
            )
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Tidy each message's spans in place."""
        for message in messages:
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, self.tidy(message.get(TEXT) or "", entities), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data keeps its annotations."""
        return training_data

    def tidy(self, text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The entities with this extractor's spans trimmed, and those that name nothing dropped."""
        kept = []
        for entity in entities:
            if entity.get("extractor") != self._config["extractor"] or entity.get("entity") not in self.forms:
                kept.append(entity)
                continue
            span = self._trimmed(text, int(entity["start"]), int(entity["end"]))
            if span is None:
                continue
            start, end = span
            if not self._known(entity["entity"], fold(text[start:end])):
                continue
            if (start, end) != (entity["start"], entity["end"]):
                entity = {**entity, "start": start, "end": end, "value": text[start:end]}
            kept.append(entity)
        return kept

    @staticmethod
    def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
        words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\w+", text[start:end])]
        while words and fold(text[words[0][0] : words[0][1]]) in EDGE_WORDS:
            words.pop(0)
        while words and fold(text[words[-1][0] : words[-1][1]]) in EDGE_WORDS:
            words.pop()
        return (words[0][0], words[-1][1]) if words else None

    def _known(self, kind: str, folded: str) -> bool:
        known = self.forms[kind]
        if not known or folded in known:
            return True
        return bool(difflib.get_close_matches(folded, known, n=1, cutoff=self._config["similarity"]))
