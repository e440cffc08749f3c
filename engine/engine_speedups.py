"""Loaded into the engine's Python at start-up (via a .pth file the Makefile installs); imports no rasa code.

Rasa 3.6 validates every action server response with `jsonschema.validate`, which re-checks the
(constant) schema against its metaschema on every call: about 13 of the 17 ms each custom action costs
on this machine. Checking each distinct schema once and reusing its validator gives the same result
(the same errors, raised the same way) for a fraction of the cost.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

_MAX_SCHEMAS = 32
_validators: OrderedDict[str, Any] = OrderedDict()


def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """`jsonschema.validate` with the schema check and the validator cached per distinct schema."""
    key = json.dumps(schema, sort_keys=True, default=str) + repr(cls)
    validator = _validators.get(key)
    if validator is None:
        if cls is None:
            cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema, *args, **kwargs)
        _validators[key] = validator
        if len(_validators) > _MAX_SCHEMAS:
            _validators.popitem(last=False)
    else:
        _validators.move_to_end(key)
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


jsonschema.validate = validate
