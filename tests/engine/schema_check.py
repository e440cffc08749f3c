"""Run by the engine's Python: the engine's action-response validation decides exactly as jsonschema.

Validates Rasa's action-response schema against valid responses (every event type) and many broken
ones, through engine_speedups.validate and through jsonschema's own validate; prints "ok N" when both
accept and reject the same responses with the same error messages.
"""

from __future__ import annotations

import copy
import sys

import engine_speedups
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

EVENTS = [
    {"event": "slot", "name": "plan", "value": "expert", "timestamp": None},
    {"event": "slot", "name": "plan", "value": None},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": 1.5},
    {"event": "user", "text": "hola", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
    {"event": "bot", "text": "hola", "data": {}, "metadata": {}},
    {"event": "followup", "name": "action_answer"},
    {"event": "active_loop", "name": "contract_form"},
    {"event": "reset_slots"},
    {"event": "pause"},
    {"event": "resume"},
    {"event": "restart"},
    {"event": "session_started"},
    {"event": "entities", "entities": [{"start": 0, "end": 4, "entity": "plan", "value": "pro"}]},
]
VALID = [
    {"events": [], "responses": []},
    {"events": EVENTS, "responses": [{"text": "hola"}, {"custom": {"type": "handoff"}}]},
    {},
    {"responses": [{"text": "x", "buttons": [{"title": "a", "payload": "/b"}]}]},
]
BROKEN = [
    [],
    "text",
    {"events": {}},
    {"responses": [1]},
    {"events": [{"name": "x"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": "plan"}]},
    {"events": [{"event": "slot", "name": 3, "value": 1}]},
    {"events": [{"event": "action"}]},
    {"events": [{"event": "user", "text": 3}]},
    {"events": [{"event": "bot", "timestamp": "yesterday"}]},
    {"events": [{"event": "entities", "entities": [{"start": "0"}]}]},
    {"events": [{"event": "slot", "name": "plan", "value": 1, "metadata": []}]},
    {"events": [1]},
    {"events": [{"event": 3}]},
    {"events": [{"event": ["slot"], "name": "plan", "value": 1}]},
    {"events": [{"event": None}]},
    {"events": [{"event": "slot", "name": "plan", "value": 1}, {"event": "nope"}]},
    {"events": [{"event": "user", "parse_data": {"entities": [{"entity": "plan"}]}}]},
    {"events": [{"event": "user", "parse_data": {"response_selector": []}}]},
    {"events": None},
]


def decide(validate: object, instance: object) -> str | None:
    try:
        validate(instance, RemoteAction.action_response_format_spec())  # type: ignore[operator]
    except ValidationError as error:
        return error.message
    return None


def main() -> int:
    cases = VALID + BROKEN
    for response in VALID:  # every event alone, and with a field removed
        for event in response.get("events", []):
            for field in list(event):
                broken = copy.deepcopy(event)
                del broken[field]
                cases.append({"events": [broken]})
    for _ in range(3):  # twice more: the cached validators decide as the first time
        for case in cases:
            ours, theirs = (
                decide(engine_speedups.validate, case),
                decide(engine_speedups._original_validate, case),
            )
            assert ours == theirs, (case, ours, theirs)
    # Valid responses are accepted by the compiled check alone: jsonschema is not asked again.
    before = engine_speedups.fallbacks
    for response in VALID:
        assert decide(engine_speedups.validate, response) is None
    assert engine_speedups.fallbacks == before, "a valid response fell back to jsonschema"
    # Rasa's schema for action responses is one object (found by identity, no key to build).
    assert RemoteAction.action_response_format_spec() is RemoteAction.action_response_format_spec()
    accepted = sum(decide(engine_speedups.validate, case) is None for case in cases)
    assert accepted >= len(VALID) and accepted < len(cases), accepted
    assert engine_speedups.fastjsonschema is not None, "fastjsonschema is not installed in the engine"
    print(f"ok {len(cases)} responses, {accepted} valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
