"""The engine's cached and compiled validation of action responses (engine/engine_speedups.py) accepts and
rejects exactly what jsonschema does, with the same error messages: a check run by the engine's Python."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.model import engine_executable
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def test_validation_decides_as_jsonschema() -> None:
    python = engine_executable().with_name("python")
    check = Path(__file__).with_name("schema_check.py")
    done = subprocess.run(
        [str(python), str(check)], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("ok"), done.stdout[-2000:]


def test_engine_speedups_off_leaves_rasa_untouched() -> None:
    python = engine_executable().with_name("python")
    probe = (
        "import sys, jsonschema, engine_speedups; "
        "assert jsonschema.validate is engine_speedups._original_validate; "
        "assert not any(type(f).__name__ == '_PatchOnImport' for f in sys.meta_path); print('stock')"
    )
    done = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ENGINE_SPEEDUPS": "0"},
    )
    assert done.returncode == 0 and done.stdout.strip() == "stock", done.stderr[-2000:]
