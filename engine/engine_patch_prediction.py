"""Speed-up "prediction" (switch ENGINE_PATCH_PREDICTION): how DIET's prediction graph is called. Applied by
engine_speedups (the loader) when `rasa.utils.tensorflow.models` is imported, on Rasa 3.6.21 only.

What it changes: `RasaModel._rasa_predict`, once Rasa has built its prediction `tf.function` (the first
call still goes Rasa's way), calls that function's one concrete graph directly, with the batch's arrays
converted to tensors as TensorFlow's signature check converts them; anything unexpected (another number
of inputs, an incompatible one) takes the concrete function's own way. Eager models keep Rasa's way.

Why: the `tf.function` has a fixed input signature, so exactly one graph; still, on every call it matched
its inputs against the signature and its traced graphs, then re-bound them to the graph's arguments.

What it bought: about 1.8 of the 9 ms a parse took on this machine (1.2 ms matching, 0.6 ms re-binding).

Not a DIETClassifier subclass named in config.yml, for the reasons engine_patch_model_loading gives.

Proved by tests/engine/model_load_check.py (test_model_load.py): with it, the prediction graph is called
directly and every message of the held-out test set gets the same intent, confidence and entities as
with Rasa's own call (the same graph, so the same numbers).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType
from typing import Any

_concrete: OrderedDict[int, tuple[Any, Any]] = OrderedDict()  # id(tf.function) -> (it, its direct call)


def _direct_call(tf: Any, step: Any) -> Callable[[Any], Any]:
    """Call `step`'s one concrete graph with the batch's arrays as tensors, converted as TensorFlow's
    signature check converts them (`convert_to_tensor` with the spec's dtype as a hint, then a
    compatibility check), without re-binding the arguments on every call; anything unexpected takes
    the concrete function's own way."""
    concrete = step.get_concrete_function()
    specs = tf.nest.flatten(step.input_signature, expand_composites=True)
    call_flat = getattr(concrete, "_call_flat", None)

    def call(batch_in: Any) -> Any:
        flat = tf.nest.flatten(batch_in)
        if call_flat is not None and len(flat) == len(specs):
            tensors = [tf.convert_to_tensor(v, dtype_hint=s.dtype) for v, s in zip(flat, specs, strict=True)]
            if all(s.is_compatible_with(t) for s, t in zip(specs, tensors, strict=True)):
                return call_flat(tensors, concrete.captured_inputs)
        return concrete(batch_in)

    return call


def patch_rasa_predict(module: ModuleType) -> None:
    """Patch `rasa.utils.tensorflow.models.RasaModel._rasa_predict` (see the module's docstring)."""
    rasa_model = module.RasaModel
    original = rasa_model._rasa_predict
    tf, sync, diagnostic = module.tf, module.tf_utils.sync_to_numpy_or_python_type, module.DIAGNOSTIC_DATA

    def _rasa_predict(self: Any, batch_in: Any) -> Any:
        step = self._tf_predict_step
        if step is None or self._run_eagerly or not self.prepared_for_prediction:
            return original(self, batch_in)  # the first call builds the tf.function (or runs eagerly)
        known = _concrete.get(id(step))
        if known is None or known[0] is not step:
            known = _concrete[id(step)] = (step, _direct_call(tf, step))
            if len(_concrete) > 16:
                _concrete.popitem(last=False)
        self._training = False
        outputs = sync(known[1](batch_in))
        if diagnostic in outputs:
            outputs[diagnostic] = self._empty_lists_to_none_in_dict(outputs[diagnostic])
        return outputs

    rasa_model._rasa_predict = _rasa_predict
