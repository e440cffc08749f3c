"""The engine's speed-ups (engine/engine_speedups.py, the loader, and one module each) apply only where they
were proved: each on the Rasa version its parity check ran against, each with its own switch, and none of
them replaces a third-party function for the whole process. Checks run by the engine's Python."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e

RASA_VERSION = "3.6.21"
# name -> (its switch, its module)
SPEEDUPS = {
    "action schema": ("ENGINE_PATCH_ACTION_SCHEMA", "engine_patch_action_schema"),
    "model loading": ("ENGINE_PATCH_MODEL_LOADING", "engine_patch_model_loading"),
    "graph runner": ("ENGINE_PATCH_GRAPH_RUNNER", "engine_patch_graph_runner"),
    "rule memory": ("ENGINE_PATCH_RULE_MEMORY", "engine_policies"),
    "prediction": ("ENGINE_PATCH_PREDICTION", "engine_patch_prediction"),
    "sparse features": ("ENGINE_PATCH_SPARSE_FEATURES", "engine_patch_sparse_features"),
    "event classes": ("ENGINE_PATCH_EVENTS", "engine_patch_events"),
    "action server sessions": ("ENGINE_PATCH_ENDPOINTS", "engine_patch_endpoints"),
}
ALL_ON = {"ENGINE_SPEEDUPS": "1", **{switch: "1" for switch, _ in SPEEDUPS.values()}}


def _state(*args: str, env: dict[str, str]) -> dict[str, Any]:
    line = run_in_engine(check("loader_check.py"), *args, env=env)
    result: dict[str, Any] = json.loads(line.removeprefix("ok "))
    return result


def test_every_speedup_applies_on_the_rasa_version_it_was_checked_against() -> None:
    state = _state("state", env=ALL_ON)
    assert {name: (switch, module) for name, switch, module in state["table"]} == SPEEDUPS
    assert state["applied"] == sorted(SPEEDUPS) and state["stock"] == []
    assert state["log"] == [] and not state["hook_waiting"]


def test_engine_speedups_0_turns_every_speedup_off() -> None:
    state = _state("state", env={**ALL_ON, "ENGINE_SPEEDUPS": "0"})
    assert state["applied"] == [] and state["stock"] == sorted(SPEEDUPS)
    assert state["log"] == [] and not state["hook_waiting"]


@pytest.mark.parametrize("name", sorted(SPEEDUPS))
def test_each_switch_turns_only_its_own_speedup_off(name: str) -> None:
    switch, _ = SPEEDUPS[name]
    state = _state("state", env={**ALL_ON, switch: "0"})
    assert state["stock"] == [name]
    assert state["applied"] == sorted(set(SPEEDUPS) - {name})
    assert state["log"] == []


def test_each_speedup_refuses_another_rasa_version() -> None:
    state = _state("version", "3.6.99", env={**ALL_ON, "ENGINE_SPEEDUPS": "0"})
    assert state["log"] == [
        f'engine speed-up "{name}" not applied: written for rasa {RASA_VERSION}, found 3.6.99'
        for name in SPEEDUPS  # one line each, in the loader's order
    ]
    # Rasa's functions are its own, the rule policy computes every match, no hook waits for an import.
    assert state["applied"] == [] and state["stock"] == sorted(SPEEDUPS)
    assert not state["hook_waiting"] and state["jsonschema_untouched"]


def test_jsonschema_validate_is_untouched_with_the_speedups_on() -> None:
    state = _state("state", env=ALL_ON)
    assert "action schema" in state["applied"]  # Rasa's call site validated with the kept validator
    assert state["jsonschema_untouched"]
