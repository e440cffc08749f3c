"""Run by the engine's Python: the engine's action-response validation decides exactly as Rasa's.

Validates Rasa's action-response schema against valid responses (every event type) and many broken ones
through `RemoteAction._validate_action_result` as engine_patch_action_schema patches it and as Rasa wrote
it (which calls `jsonschema.validate`, untouched), and through engine_patch_action_schema.validate and
jsonschema's own validate; prints "ok N" when both accept and reject the same responses with the same
error messages (Rasa's suffix included).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import engine_patch_action_schema as patch
import jsonschema
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


def decide(validate: Any, instance: object) -> str | None:
    try:
        validate(instance, RemoteAction.action_response_format_spec())
    except ValidationError as error:
        return error.message
    return None


def decide_as_rasa(method: Any, instance: object) -> str | bool:
    """What `RemoteAction._validate_action_result` returns, or the message of the error it raises."""
    action = RemoteAction("action_check", None)
    try:
        return bool(method(action, instance))
    except ValidationError as error:
        return error.message


def main() -> int:
    cases = VALID + BROKEN
    for response in VALID:  # every event alone, and with a field removed
        for event in response.get("events", []):
            for field in list(event):
                broken = copy.deepcopy(event)
                del broken[field]
                cases.append({"events": [broken]})
    assert RemoteAction._validate_action_result.__module__ == "engine_patch_action_schema", "not patched"
    rasas = patch.rasas_validate_action_result
    assert rasas is not None and rasas.__module__ == "rasa.core.actions.action"
    original_validate = jsonschema.validate
    assert original_validate.__module__ == "jsonschema.validators"
    for _ in range(3):  # twice more: the cached validators decide as the first time
        for case in cases:
            ours, theirs = decide(patch.validate, case), decide(original_validate, case)
            assert ours == theirs, (case, ours, theirs)
            ours_rasa = decide_as_rasa(RemoteAction._validate_action_result, case)
            theirs_rasa = decide_as_rasa(rasas, case)
            assert ours_rasa == theirs_rasa, (case, ours_rasa, theirs_rasa)
            assert ours_rasa is True or "Failed to validate Action server response" in str(ours_rasa)
    assert jsonschema.validate is original_validate, "jsonschema.validate was replaced"
    # Valid responses are accepted by the compiled check alone: jsonschema is not asked again.
    before = patch.fallbacks
    for response in VALID:
        assert decide(patch.validate, response) is None
        assert decide_as_rasa(RemoteAction._validate_action_result, response) is True
    assert patch.fallbacks == before, "a valid response fell back to jsonschema"
    # Rasa's schema for action responses is one object (found by identity, no key to build).
    assert RemoteAction.action_response_format_spec() is RemoteAction.action_response_format_spec()
    accepted = sum(decide(patch.validate, case) is None for case in cases)
    assert accepted >= len(VALID) and accepted < len(cases), accepted
    assert patch.fastjsonschema is not None, "fastjsonschema is not installed in the engine"
    print(f"ok {len(cases)} responses, {accepted} valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
