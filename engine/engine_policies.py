"""Dialogue policies of ours, named in config.yml's `policies` (Rasa's extension point for policies).

`engine_policies.MemoRulePolicy` is speed-up "rule memory" (switch ENGINE_PATCH_RULE_MEMORY; see
engine_speedups): Rasa's RulePolicy, with the same parameters, trained and predicting as RulePolicy does.

What it changes: a loaded policy remembers which rules match the conversation's last turns (as many as its
longest rule has), in a bounded memory per lookup table; a policy being trained or fine-tuned remembers
nothing. Switched off, or on a Rasa version other than the one engine_speedups names, it is RulePolicy
(one log line says so).

Why: for every prediction RulePolicy matches every rule against the conversation's states, turn by turn,
although which rules match depends only on the last turns.

What it bought: about 10% of the engine's time per message.

Proved by tests/engine/rules_check.py (test_rule_memory.py): on every turn of every test story (forms
included), evaluated twice with the trained model, the remembered answer equals RulePolicy's own
computation, and some answers came from memory.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import engine_speedups
from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates

RULE_MEMORY = "rule memory"
MEMORY_SIZE = 4096  # remembered turn sequences per lookup table

# Rasa's recipe validator looks for RulePolicy itself (`node.uses == RulePolicy`) and would warn that the
# default intents (restart, back) trigger nothing; MemoRulePolicy is a RulePolicy and handles them.
warnings.filterwarnings("ignore", message="'RulePolicy' is not included in the model's policy configuration")


def _freeze(value: Any) -> Any:
    """A hashable twin of a dialogue state: equal twins for equal states, never for a list and a tuple
    (the rule matcher tells them apart)."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    hash(value)  # anything else must be hashable as it is (TypeError otherwise: no memory)
    return value


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class MemoRulePolicy(RulePolicy):
    """RulePolicy that, once loaded, remembers which rules match the last turns."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: TrackerFeaturizer | None = None,
        lookup: dict | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer, lookup)
        # id(lookup) -> (that lookup, its longest rule's length, answers by frozen last states); None: off
        self._rule_memo: dict[int, tuple[dict, int, OrderedDict[Any, frozenset]]] | None = None

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MemoRulePolicy:
        """RulePolicy's loading; the memory is on only for a policy loaded to predict (its lookups never
        change; training builds them)."""
        loaded = super().load(config, model_storage, resource, execution_context, **kwargs)
        assert isinstance(loaded, MemoRulePolicy)
        if engine_speedups.applies(RULE_MEMORY) and not execution_context.is_finetuning:
            loaded._rule_memo = {}
        return loaded

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """RulePolicy's training, with no memory (the lookups change while it trains). The signature is
        RulePolicy's: Rasa's graph passes a node's inputs by the names of its parameters."""
        self._rule_memo = None
        return super().train(training_trackers, domain, **kwargs)

    def _get_possible_keys(self, lookup: dict[str, str], states: list[Any]) -> set[str]:
        memo = self._rule_memo
        if memo is None or not isinstance(lookup, dict):
            return super()._get_possible_keys(lookup, states)
        known = memo.get(id(lookup))
        if known is None or known[0] is not lookup:
            longest = max((len(self._rule_key_to_state(key)) for key in lookup), default=0)
            known = memo[id(lookup)] = (lookup, longest, OrderedDict())
        _, longest, answers = known
        # A rule of n turns is decided by the last n states alone (earlier turns always pass): the last
        # `longest` states decide which rules match.
        try:
            key = _freeze(states[-longest:] if longest else [])
        except TypeError:
            return super()._get_possible_keys(lookup, states)
        found = answers.get(key)
        if found is None:
            found = answers[key] = frozenset(super()._get_possible_keys(lookup, states))
            if len(answers) > MEMORY_SIZE:
                answers.popitem(last=False)
        else:
            answers.move_to_end(key)
        return set(found)
