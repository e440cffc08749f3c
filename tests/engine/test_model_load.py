"""The engine's fast model loading (engine/engine_speedups.py) predicts exactly what Rasa's own loading
does: every message of the held-out NLU test set gets the same intent, confidence and entities."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bot.model import engine_executable, model_path
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

CHECK = Path(__file__).with_name("model_load_check.py")


def _predict(fast: bool, out: Path) -> list[dict[str, object]]:
    python = engine_executable().with_name("python")
    done = subprocess.run(
        [str(python), str(CHECK), str(model_path()), str(PROJECT_ROOT / "tests" / "nlu"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_ROOT,
        env={**os.environ, "ENGINE_FAST_LOAD": "1" if fast else "0"},
    )
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1].startswith("ok"), done.stderr[-3000:]
    result: list[dict[str, object]] = json.loads(out.read_text(encoding="utf-8"))
    return result


def test_fast_loading_predicts_exactly_what_rasas_loading_does(tmp_path: Path) -> None:
    if not model_path().exists():
        pytest.fail("no trained model: run `make model`")
    rasas, ours = _predict(False, tmp_path / "rasa.json"), _predict(True, tmp_path / "fast.json")
    assert len(ours) == len(rasas) > 200
    assert ours == rasas
