"""The engine's entity span filter (engine/engine_entity_filter.py) trims and drops only what it should: a
check run by the engine's Python."""

from __future__ import annotations

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_entity_spans_are_trimmed_and_checked_against_the_training_forms() -> None:
    line = run_in_engine(check("entity_filter_check.py"))
    assert int(line.split()[1]) == 8, line
