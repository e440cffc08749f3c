"""Loaded into the engine's Python at start-up (via a .pth file the Makefile installs); imports no rasa code.

1. Rasa 3.6 validates every action server response with `jsonschema.validate`, which re-checks the
   (constant) schema against its metaschema on every call: about 13 of the 17 ms each custom action costs
   on this machine. Checking each distinct schema once and reusing its validator gives the same result
   (the same errors, raised the same way) for a fraction of the cost; valid responses are accepted by
   the schema compiled to Python (fastjsonschema), the rest still decided by jsonschema.
2. To load a trained DIET model, Rasa builds its weights by fitting it for one step on one example, which
   traces the whole training graph (gradients, optimizer): about 23 of the 29 s the engine took to give its
   first answer. One forward pass through the same loss computation, eagerly, creates the same weights,
   which are then loaded from the model as before. Fine-tuning (which needs the optimizer) keeps Rasa's
   way. Patched when Rasa's module is first imported; ENGINE_FAST_LOAD=0 turns it off.
3. Every parse and every prediction, Rasa's graph runner recomputes which nodes its targets need by
   walking the (fixed) graph recursively, without memory: about 4% of the engine's time per message.
   The runner's own schema never changes once it is built, so each runner remembers the answer.

ENGINE_SPEEDUPS=0 leaves Rasa untouched (the benchmark runs its stock bot that way).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from collections import OrderedDict
from types import ModuleType
from typing import Any, Callable, Optional, Sequence

import jsonschema
from jsonschema.exceptions import best_match

try:
    import fastjsonschema
except ImportError:  # not installed: jsonschema alone, as before
    fastjsonschema = None

_MAX_SCHEMAS = 32
_validators: OrderedDict[str, Any] = OrderedDict()
_original_validate = jsonschema.validate


def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """`jsonschema.validate` with the schema check and the validator cached per distinct schema.

    A valid instance is accepted by the schema compiled to Python (fastjsonschema); anything it rejects
    goes through jsonschema, which decides and raises the error Rasa expects."""
    key = json.dumps(schema, sort_keys=True, default=str) + repr(cls)
    entry = _validators.get(key)
    if entry is None:
        checker = cls if cls is not None else jsonschema.validators.validator_for(schema)
        checker.check_schema(schema)
        fast = None
        if fastjsonschema is not None and cls is None and not args and not kwargs:
            try:
                fast = fastjsonschema.compile(schema)
            except Exception:  # a schema it cannot compile: jsonschema alone
                fast = None
        entry = (checker(schema, *args, **kwargs), fast)
        _validators[key] = entry
        if len(_validators) > _MAX_SCHEMAS:
            _validators.popitem(last=False)
    else:
        _validators.move_to_end(key)
    validator, fast = entry
    if fast is not None:
        try:
            fast(instance)
            return
        except fastjsonschema.JsonSchemaException:
            pass
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


ENABLED = os.environ.get("ENGINE_SPEEDUPS", "1") != "0"
if ENABLED:
    jsonschema.validate = validate


# --- 2. loading DIET without tracing its training graph ------------------------------------------------------
def _patch_model_loading(module: ModuleType) -> None:
    rasa_model = module.RasaModel
    original = rasa_model.load.__func__

    def load(
        cls: Any,
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if finetune_mode:
            return original(cls, model_file_name, model_data_example, predict_data_example, True, *args, **kwargs)
        tf = module.tf
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.get(module.LEARNING_RATE, 0.001)),
            run_eagerly=config.get(module.RUN_EAGERLY),
        )
        batch, _ = module.RasaBatchDataGenerator(model_data_example, batch_size=1)[0]
        # The loss of one example, eagerly: every layer the training step uses builds its weights.
        model._training = True
        model.batch_loss(batch)
        model._training = False
        status = model.load_weights(model_file_name)
        if status is not None and hasattr(status, "expect_partial"):
            status.expect_partial()  # the optimizer's state is in the file but not needed to predict
        if predict_data_example:
            model.run_inference(predict_data_example)
        return model

    rasa_model.load = classmethod(load)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs `patch(module)` right after the named module is first executed."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.patch = patch

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once: find the real module with the other finders
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, patch = spec.loader, self.patch

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
                return loader.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                loader.exec_module(module)  # type: ignore[union-attr]
                patch(module)

        spec.loader = Loader()
        return spec


# --- 3. the graph runner's minimal schema, computed once per target list -----------------------------------
def _patch_graph_runner(module: ModuleType) -> None:
    runner = module.DaskGraphRunner
    original_init = runner.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        schema = self._graph_schema
        compute = schema.minimal_graph_schema
        known: dict = {}

        def minimal_graph_schema(targets: Optional[Sequence[str]] = None) -> Any:
            key = tuple(targets) if targets else None
            if key not in known:
                known[key] = compute(list(targets) if targets else None)
            return known[key]

        # On this runner's schema only (an instance attribute), which nothing changes after this point.
        schema.minimal_graph_schema = minimal_graph_schema

    runner.__init__ = __init__


if ENABLED and os.environ.get("ENGINE_FAST_LOAD", "1") != "0":
    sys.meta_path.insert(0, _PatchOnImport("rasa.utils.tensorflow.models", _patch_model_loading))
if ENABLED:
    sys.meta_path.insert(0, _PatchOnImport("rasa.engine.runner.dask", _patch_graph_runner))
