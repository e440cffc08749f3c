"""Run by the engine's Python: the engine's remembered event classes resolve every event name as Rasa does.

Every event class's name, unknown names (Rasa's error), the old "topic" name, a default class, and a new
event class defined after names were remembered. Prints "ok N".
"""

from __future__ import annotations

import sys
from typing import Any

from rasa.shared.core import events
from rasa.shared.utils.common import all_subclasses


def rasas(type_name: str, default: Any = None) -> Any:
    """Rasa's own lookup (rasa/shared/core/events.py, Event.resolve_by_type)."""
    for cls in all_subclasses(events.Event):
        if cls.type_name == type_name:
            return cls
    if type_name == "topic":
        return None
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def decide(resolve: Any, name: str, default: Any = None) -> Any:
    try:
        return resolve(name, default)
    except ValueError as error:
        return str(error)


def main() -> int:
    assert events.Event.resolve_by_type.__module__ == "engine_patch_events", "Event is not patched"
    names = [*sorted({cls.type_name for cls in all_subclasses(events.Event)}), "topic", "no_such", ""]
    compared = 0
    for _ in range(2):  # the second time from memory
        for name in names:
            for default in (None, events.SlotSet):
                ours = decide(events.Event.resolve_by_type, name, default)
                assert ours == decide(rasas, name, default), name
                compared += 1

    class Newer(events.ActionExecuted):  # a new class sharing a known name: the first one found still wins
        type_name = "action"

    class Custom(events.Event):
        type_name = "custom_event_for_check"

        def __eq__(self, other: Any) -> bool:
            return isinstance(other, Custom)

        def __hash__(self) -> int:
            return 1

        def as_story_string(self) -> None:
            return None

    for name in [*names, "custom_event_for_check"]:
        assert decide(events.Event.resolve_by_type, name) == decide(rasas, name), name
        compared += 1
    assert events.Event.resolve_by_type("custom_event_for_check") is Custom
    assert events.Event.resolve_by_type("action") is rasas("action") and Newer is not None
    print(f"ok {compared}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
