"""Run by the engine's Python: which of the engine's speed-ups (engine/engine_speedups.py, the loader)
applied in this process, judged by Rasa itself: each function a speed-up replaces is either ours (its
module's) or Rasa's own (defined in Rasa's source), never a mix, and `engine_policies.MemoRulePolicy`
either remembers rule matches or computes each one as RulePolicy does.

Prints "ok " and a JSON object: the loader's table, the speed-ups applied and those left stock, whether
`jsonschema.validate` is still jsonschema's own after Rasa validated an action response through its
(patched or stock) call site, what the loader logged, and whether its import hook is still waiting.

Usage: python tests/engine/loader_check.py state
       python tests/engine/loader_check.py version 3.6.99   (started with ENGINE_SPEEDUPS=0: the version
           lookup then answers 3.6.99 for rasa, the speed-ups are switched on, and the loader is run again
           as the .pth file runs it)
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import engine_speedups


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def ours_or_rasas(name: str, functions: list[Any], module: str) -> bool:
    """True when every function is `module`'s, False when every one is Rasa's own; fails otherwise."""
    import rasa

    rasa_dir = str(Path(rasa.__file__).parent)
    mine = [getattr(f, "__module__", None) == module for f in functions]
    stock = [
        (getattr(f, "__module__", None) or "").startswith("rasa.")
        and f.__code__.co_filename.startswith(rasa_dir)
        for f in functions
    ]
    assert all(mine) or all(stock), (name, [(f, getattr(f, "__module__", None)) for f in functions])
    return all(mine)


def rule_memory() -> bool:
    """Whether a loaded MemoRulePolicy remembers rule matches; its answers are RulePolicy's either way."""
    from engine_policies import MemoRulePolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    logging.getLogger("rasa.core.policies.memoization").setLevel(logging.ERROR)  # nothing stored: fine
    with tempfile.TemporaryDirectory() as folder:
        policy = MemoRulePolicy.load(
            MemoRulePolicy.get_default_config(),
            LocalModelStorage(Path(folder)),
            Resource("rules"),
            ExecutionContext(GraphSchema({}), "check"),
        )
    greet = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    bye = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "bye"}}
    lookup = {json.dumps([greet]): "utter_greet", json.dumps([bye]): "utter_bye"}
    for states in ([greet], [bye], [greet], [bye, greet]):
        ours = policy._get_possible_keys(lookup, states)
        assert ours == RulePolicy._get_possible_keys(policy, lookup, states), states
    remembered = sum(len(answers) for _, _, answers in (policy._rule_memo or {}).values())
    assert remembered in (0, 2), remembered  # two distinct last turns
    return remembered == 2


def state() -> dict[str, Any]:
    import jsonschema
    import rasa.core.run as run
    from rasa.core.actions.action import RemoteAction
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import Event
    from rasa.shared.nlu.training_data.features import Features
    from rasa.utils.endpoints import EndpointConfig
    from rasa.utils.tensorflow.models import RasaModel

    validate = jsonschema.validate
    action = RemoteAction("action_check", None)
    assert action._validate_action_result({"events": [], "responses": [{"text": "hola"}]}) is True
    try:
        action._validate_action_result({"events": [{"event": "no_such_event"}]})
    except jsonschema.ValidationError as error:
        assert "Failed to validate Action server response" in error.message
    else:
        raise AssertionError("an invalid response was accepted")
    event_patched = ours_or_rasas("event classes", [Event.resolve_by_type], "engine_patch_events")
    assert event_patched == ("__init_subclass__" in vars(Event))
    applied = {
        "action schema": ours_or_rasas(
            "action schema",
            [RemoteAction._validate_action_result, RemoteAction.action_response_format_spec],
            "engine_patch_action_schema",
        ),
        "model loading": ours_or_rasas(
            "model loading", [RasaModel.load.__func__], "engine_patch_model_loading"
        ),
        "graph runner": ours_or_rasas(
            "graph runner", [DaskGraphRunner.__init__], "engine_patch_graph_runner"
        ),
        "rule memory": rule_memory(),
        "prediction": ours_or_rasas("prediction", [RasaModel._rasa_predict], "engine_patch_prediction"),
        "sparse features": ours_or_rasas(
            "sparse features", [Features._combine_sparse_features], "engine_patch_sparse_features"
        ),
        "event classes": event_patched,
        "action server sessions": ours_or_rasas(
            "action server sessions", [EndpointConfig.session, run.close_resources], "engine_patch_endpoints"
        ),
    }
    spec_kept = RemoteAction.action_response_format_spec() is RemoteAction.action_response_format_spec()
    assert spec_kept == applied["action schema"]
    return {
        "table": [[s.name, s.switch, s.module] for s in engine_speedups.SPEEDUPS],
        "applied": sorted(name for name, on in applied.items() if on),
        "stock": sorted(name for name, on in applied.items() if not on),
        "jsonschema_untouched": jsonschema.validate is validate is jsonschema.validators.validate
        and validate.__module__ == "jsonschema.validators",
        "hook_waiting": engine_speedups.hook in sys.meta_path or bool(engine_speedups.hook.pending),
    }


def main(argv: list[str]) -> int:
    records = Records()
    logging.getLogger("engine_speedups").addHandler(records)
    if argv[1] == "version":
        assert os.environ.get("ENGINE_SPEEDUPS") == "0", "start with ENGINE_SPEEDUPS=0 (nothing installed)"
        assert not any(name.startswith("rasa") for name in sys.modules), "rasa was imported already"
        real = metadata.version
        metadata.version = lambda name: argv[2] if name == "rasa" else real(name)  # type: ignore[assignment]
        os.environ["ENGINE_SPEEDUPS"] = "1"
        loader = importlib.reload(engine_speedups)  # the loader's module code, as the .pth file runs it
        assert loader.applied == [] and not loader.hook.pending, (loader.applied, loader.hook.pending)
    result = state()
    result["log"] = records.lines
    print("ok " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
