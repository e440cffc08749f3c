"""The engine's remembered rule matching (`engine_policies.MemoRulePolicy`, named in config.yml) finds
exactly the rules RulePolicy computes, on every turn of every test story: a check run by the engine's
Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import model_path
from bot.settings import PROJECT_ROOT
from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_remembered_rules_are_the_rules_rasa_finds(tmp_path: Path) -> None:
    if not model_path().exists():
        pytest.fail("no trained model: run `make model`")
    stories = str(PROJECT_ROOT / "tests" / "stories")
    line = run_in_engine(check("rules_check.py"), str(model_path()), stories, str(tmp_path))
    compared = int(line.split()[1])
    assert compared > 100, line
