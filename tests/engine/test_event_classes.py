"""The engine's remembered event classes (engine/engine_patch_events.py) resolve every event name as Rasa's
own lookup does, also after a new event class is defined: a check run by the engine's Python."""

from __future__ import annotations

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_event_names_resolve_as_rasa_resolves_them() -> None:
    line = run_in_engine(check("events_check.py"))
    assert int(line.split()[1]) > 50, line
