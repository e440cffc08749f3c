"""Speed-up "action schema" (switch ENGINE_PATCH_ACTION_SCHEMA): how the engine checks an action server's
response. Applied by engine_speedups (the loader) when `rasa.core.actions.action` is imported, on Rasa 3.6.21
only.

What it changes: Rasa's own call site, `RemoteAction._validate_action_result`, validates with a validator
kept per distinct schema (below) instead of `jsonschema.validate`, and raises the same
`jsonschema.ValidationError` with the same message suffix Rasa adds;
`RemoteAction.action_response_format_spec` returns one schema object instead of building a new dict of
constants on every call, so that the validator is found by the schema's identity. Nothing else
validates differently: `jsonschema.validate` itself is untouched.

Why: `jsonschema.validate` checks the (constant) schema against its metaschema on every call, and builds
a new validator; Rasa called it on every custom action's response.

What it bought: about 13 of the 17 ms each custom action cost on this machine. Valid responses are
accepted by the schema compiled to Python (fastjsonschema, each event checked against its own type's
schema); anything that check refuses is decided by jsonschema's validator, as before.

Proved by tests/engine/schema_check.py (test_action_response_schema.py): Rasa's `_validate_action_result`
and this one accept and reject the same responses (every event type, many broken ones) with the same
error messages, and `validate` decides as `jsonschema.validate`.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jsonschema
from jsonschema import ValidationError
from jsonschema.exceptions import best_match

try:
    import fastjsonschema
except ImportError:  # not installed: jsonschema alone, as before
    fastjsonschema = None

_MAX_SCHEMAS = 32
_validators: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
_by_identity: dict[int, tuple[Any, tuple[Any, Any]]] = {}  # id(schema) -> (that schema, its entry)
fallbacks = 0  # instances the compiled check did not accept (jsonschema decided them); read by the checks
rasas_validate_action_result: Callable[[Any, Any], bool] | None = None  # Rasa's own, for the checks


def _discriminator(items: Any) -> tuple[str, dict[Any, Any]] | None:
    """For an object schema whose `oneOf` branches each fix a required property to a distinct constant
    (Rasa's events: `"event": {"const": "slot"}`, ...), that property and each constant's branch."""
    branches = items.get("oneOf") if isinstance(items, dict) else None
    if not isinstance(branches, list) or not branches or not all(isinstance(b, dict) for b in branches):
        return None
    for key in items.get("required", []):
        consts = [b.get("properties", {}).get(key, {}) for b in branches]
        if not all(isinstance(c, dict) and isinstance(c.get("const"), str) for c in consts):
            continue
        values = [c["const"] for c in consts]
        if len(set(values)) == len(values):
            return key, dict(zip(values, branches, strict=True))
    return None


def _compile(schema: Any) -> Callable[[Any], None] | None:
    """A function that returns when `instance` is valid and raises otherwise (some valid instances may be
    refused too: jsonschema then decides), or None.

    fastjsonschema tries every `oneOf` branch and builds a detailed exception for each one that fails:
    23 for each event of an action response, about 0.6 ms per event here. Where the branches are told
    apart by a constant (see `_discriminator`), an item with constant c can only satisfy c's branch, so
    `oneOf` holds exactly when that branch does: each item is checked against it alone."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return fastjsonschema.compile(schema)
    split: dict[str, tuple[str, dict[Any, Callable[[Any], Any]]]] = {}
    for name, array in properties.items():
        if isinstance(array, dict) and array.get("type") == "array" and isinstance(array.get("items"), dict):
            found = _discriminator(array["items"])
            if found is not None:
                key, branches = found
                base = {k: v for k, v in array["items"].items() if k != "oneOf"}
                split[name] = (
                    key,
                    {c: fastjsonschema.compile({"allOf": [base, b]}) for c, b in branches.items()},
                )
    if not split:
        return fastjsonschema.compile(schema)
    outer = fastjsonschema.compile(
        {
            **schema,
            "properties": {
                **properties,
                **{n: {k: v for k, v in properties[n].items() if k != "items"} for n in split},
            },
        }
    )

    def check(instance: Any) -> None:
        outer(instance)  # an object, each split property an array (when present), the rest as declared
        if not isinstance(instance, dict):
            raise fastjsonschema.JsonSchemaException("not an object")
        for name, (key, branches) in split.items():
            for item in instance.get(name) or ():
                value = item.get(key) if isinstance(item, dict) else None
                branch = branches.get(value) if isinstance(value, str) else None
                if branch is None:
                    raise fastjsonschema.JsonSchemaException(f"no branch for {name} item")
                branch(item)

    return check


def _entry(schema: Any) -> tuple[Any, Any]:
    """(jsonschema's validator, the compiled check or None) of a schema: checked and built once."""
    known = _by_identity.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    key = json.dumps(schema, sort_keys=True, default=str)
    entry = _validators.get(key)
    if entry is None:
        checker = jsonschema.validators.validator_for(schema)
        checker.check_schema(schema)
        fast = None
        if fastjsonschema is not None:
            try:
                fast = _compile(schema)
            except Exception:  # a schema it cannot compile: jsonschema alone
                fast = None
        entry = (checker(schema), fast)
        _validators[key] = entry
        if len(_validators) > _MAX_SCHEMAS:
            _validators.popitem(last=False)
    else:
        _validators.move_to_end(key)
    if len(_by_identity) >= _MAX_SCHEMAS:
        _by_identity.clear()
    # Keeps the schema alive, so its id cannot be reused by another object while it is here.
    _by_identity[id(schema)] = (schema, entry)
    return entry


def validate(instance: Any, schema: Any) -> None:
    """What `jsonschema.validate(instance, schema)` does, with the schema check and the validator kept per
    distinct schema.

    A valid instance is accepted by the schema compiled to Python (fastjsonschema); anything it rejects
    goes through jsonschema's validator, which decides and raises the error jsonschema raises. A schema
    object seen before is found by identity (Rasa never changes one after using it)."""
    global fallbacks
    validator, fast = _entry(schema)
    if fast is not None:
        try:
            fast(instance)
            return
        except fastjsonschema.JsonSchemaException:
            fallbacks += 1
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def patch_remote_action(module: ModuleType) -> None:
    """Patch `rasa.core.actions.action.RemoteAction` (see the module's docstring)."""
    global rasas_validate_action_result
    action = module.RemoteAction
    original = action._validate_action_result
    docs = module.DOCS_BASE_URL
    spec = action.action_response_format_spec()  # a new dict of constants on every call in Rasa

    def action_response_format_spec() -> Any:
        return spec

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        # Rasa 3.6.21's method, with `validate` above in place of `jsonschema.validate`.
        try:
            validate(result, self.action_response_format_spec())
            return True
        except ValidationError as e:
            e.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{docs}/custom-actions"
            )
            raise e

    rasas_validate_action_result = original
    action.action_response_format_spec = staticmethod(action_response_format_spec)
    action._validate_action_result = _validate_action_result
