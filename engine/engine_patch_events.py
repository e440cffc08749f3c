"""Speed-up "event classes" (switch ENGINE_PATCH_EVENTS): how a stored event's class is found by its name.
Applied by engine_speedups (the loader) when `rasa.shared.core.events` is imported, on Rasa 3.6.21 only.

What it changes: `Event.resolve_by_type` remembers each name's class, and `Event.__init_subclass__` forgets
them all whenever a new event class is defined (after which names are looked up again, as Rasa would);
unknown names, "topic" and defaults are answered by Rasa's own lookup every time.

Why: every event read back (from the tracker store, an action server's response, the HTTP API) was matched
to its class by walking all of Event's subclasses. Those reads all go through Rasa's shared deserialisation
(`Event.from_parameters`), which has no extension point; our tracker store could only bypass it by
re-implementing it.

What it bought: about 3% of the engine's time per message.

Proved by tests/engine/events_check.py (test_event_classes.py): every event class's name, unknown names,
"topic", a default class, and classes defined after names were remembered resolve as Rasa's lookup does.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def patch_event(module: ModuleType) -> None:
    """Patch `rasa.shared.core.events.Event` (see the module's docstring)."""
    event = module.Event
    original = event.resolve_by_type
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default and getattr(cls, "type_name", None) == type_name:
                found[type_name] = cls
        return cls

    def __init_subclass__(cls: Any, **kwargs: Any) -> None:
        found.clear()  # a new event class: look names up again, as Rasa would
        super(event, cls).__init_subclass__(**kwargs)

    event.resolve_by_type = staticmethod(resolve_by_type)
    event.__init_subclass__ = classmethod(__init_subclass__)
