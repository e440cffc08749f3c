"""The engine's fast model loading, direct prediction graph call and remembered graph schemas
(engine/engine_patch_model_loading.py, engine_patch_prediction.py, engine_patch_graph_runner.py) predict
exactly what Rasa does: every message of the held-out NLU test set gets the same intent, confidence and
entities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.model import model_path
from bot.settings import PROJECT_ROOT
from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def _predict(fast: bool, out: Path) -> list[dict[str, object]]:
    nlu = str(PROJECT_ROOT / "tests" / "nlu")
    env = {"ENGINE_SPEEDUPS": "1" if fast else "0"}
    run_in_engine(check("model_load_check.py"), str(model_path()), nlu, str(out), env=env)
    result: list[dict[str, object]] = json.loads(out.read_text(encoding="utf-8"))
    return result


def test_fast_loading_predicts_exactly_what_rasas_loading_does(tmp_path: Path) -> None:
    if not model_path().exists():
        pytest.fail("no trained model: run `make model`")
    rasas, ours = _predict(False, tmp_path / "rasa.json"), _predict(True, tmp_path / "fast.json")
    stock = {"direct_graphs": 0, "fast_load": False, "graph_runner": False}
    fast = {"direct_graphs": 1, "fast_load": True, "graph_runner": True}
    assert rasas[0] == stock and ours[0] == fast, (rasas[0], ours[0])
    assert len(ours) == len(rasas) > 200
    assert ours[1:] == rasas[1:]
