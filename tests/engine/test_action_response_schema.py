"""The engine's cached and compiled validation of action responses (engine/engine_patch_action_schema.py)
accepts and rejects exactly what Rasa's own call site and jsonschema do, with the same error messages: a
check run by the engine's Python."""

from __future__ import annotations

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_validation_decides_as_jsonschema() -> None:
    run_in_engine(check("schema_check.py"))


def test_engine_speedups_off_leaves_rasa_untouched() -> None:
    probe = (
        "import sys, jsonschema, engine_speedups; "
        "assert not any(type(f).__name__ == 'PatchOnImport' for f in sys.meta_path); "
        "from rasa.core.actions.action import RemoteAction; "
        "assert RemoteAction._validate_action_result.__module__ == 'rasa.core.actions.action'; "
        "assert jsonschema.validate is jsonschema.validators.validate; print('ok stock')"
    )
    run_in_engine("-c", probe, env={"ENGINE_SPEEDUPS": "0"})
