"""The engine's own responses carry the turn report our actions send, so the gateway records what a greeting
or a thanks was without asking the engine for the tracker; the report names the intent of the one rule that
answers with the response, and nothing else answers with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.report import TURN_TYPE, take_report
from bot.settings import PROJECT_ROOT

ROOT = Path(PROJECT_ROOT)


def _load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / name).read_text(encoding="utf-8")))


def _steps() -> list[list[dict[str, str]]]:
    return [list(rule["steps"]) for rule in _load("data/rules.yml")["rules"]]


def test_every_response_reports_the_intent_of_the_rule_that_answers_with_it() -> None:
    responses = _load("domain.yml")["responses"]
    users: dict[str, list[str]] = {}
    for steps in _steps():
        intents = [step["intent"] for step in steps if "intent" in step]
        for step in steps:
            if str(step.get("action", "")).startswith("utter_"):
                users.setdefault(step["action"], []).extend(intents)
    assert users, "no rule answers with a response"
    for name, variations in responses.items():
        for variation in variations:
            custom = variation.get("custom")
            assert isinstance(custom, dict) and custom.get("type") == TURN_TYPE, name
            assert users.get(name) == [custom["intent"]], (name, users.get(name))
            kept, report = take_report([{"text": variation["text"]}, {"custom": custom}])
            assert kept == [{"text": variation["text"]}]
            assert report is not None and report.intent == custom["intent"] and report.understood


def test_no_story_or_action_answers_with_a_reporting_response_for_another_intent() -> None:
    reporting = set(_load("domain.yml")["responses"])
    sources = [*ROOT.glob("data/**/*.yml"), *ROOT.glob("actions/**/*.py"), *ROOT.glob("bot/**/*.py")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for name in reporting - {"utter_acknowledge"}:
            if name in text:
                assert path.name == "rules.yml", f"{path} answers with {name}"
