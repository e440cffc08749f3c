"""Speed-up "graph runner" (switch ENGINE_PATCH_GRAPH_RUNNER): which nodes each run of Rasa's graph needs.
Applied by engine_speedups (the loader) when `rasa.engine.runner.dask` is imported, on Rasa 3.6.21 only.

What it changes: each `DaskGraphRunner`, once built, remembers its schema's `minimal_graph_schema` per
target list (on that runner's schema object only: an instance attribute, not the class's method).

Why: on every parse and every prediction the runner recomputed which nodes its targets need by walking
the graph recursively, without memory, although a runner's schema never changes once it is built. The
runner is not one of Rasa's extension points (`rasa.engine.loader` builds a DaskGraphRunner).

What it bought: about 4% of the engine's time per message.

Proved by tests/engine/model_load_check.py (test_model_load.py): the remembered schema equals the one
Rasa computes for every target list the runs asked for, each node alone and none, and the loaded model
predicts the same with and without the speed-ups.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any


def patch_dask_graph_runner(module: ModuleType) -> None:
    """Patch `rasa.engine.runner.dask.DaskGraphRunner.__init__` (see the module's docstring)."""
    runner = module.DaskGraphRunner
    original_init = runner.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        schema = self._graph_schema
        compute = schema.minimal_graph_schema
        known: dict[tuple[str, ...] | None, Any] = {}

        def minimal_graph_schema(targets: Sequence[str] | None = None) -> Any:
            key = tuple(targets) if targets else None
            if key not in known:
                known[key] = compute(list(targets) if targets else None)
            return known[key]

        # On this runner's schema only (an instance attribute), which nothing changes after this point.
        schema.minimal_graph_schema = minimal_graph_schema

    runner.__init__ = __init__
