"""The engine's cached and compiled validation of action responses (engine/engine_speedups.py) accepts and
rejects exactly what jsonschema does, with the same error messages: a check run by the engine's Python."""

from __future__ import annotations

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_validation_decides_as_jsonschema() -> None:
    run_in_engine(check("schema_check.py"))


def test_engine_speedups_off_leaves_rasa_untouched() -> None:
    probe = (
        "import sys, jsonschema, engine_speedups; "
        "assert jsonschema.validate is engine_speedups._original_validate; "
        "assert not any(type(f).__name__ == '_PatchOnImport' for f in sys.meta_path); print('ok stock')"
    )
    run_in_engine("-c", probe, env={"ENGINE_SPEEDUPS": "0"})
