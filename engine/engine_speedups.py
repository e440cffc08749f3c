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
   Rasa's events schema is a `oneOf` of 23 event types, which fastjsonschema tries one by one, building a
   detailed exception for each that fails; each event is checked against its own type's schema instead
   (same decision).
3. Every parse and every prediction, Rasa's graph runner recomputes which nodes its targets need by
   walking the (fixed) graph recursively, without memory: about 4% of the engine's time per message.
   The runner's own schema never changes once it is built, so each runner remembers the answer.

4. (with 1) Rasa builds its action-response schema anew for every call; it is built once.
5. For every prediction, RulePolicy matches every rule against the conversation's states, turn by turn:
   about 10% of the engine's time per message. Which rules match depends only on the last turns (as
   many as the longest rule has), so a loaded policy remembers the answer for those turns (a bounded
   memory; a policy being trained is left alone).
6. DIET predicts through a tf.function with a fixed input signature, which on every call matches its
   inputs against the signature and its traced graphs (about 1.2 of the 9 ms a parse takes here), then
   re-binds them to the graph's arguments (another 0.6 ms); its one concrete graph is called directly
   with the arrays converted as TensorFlow converts them (the same graph, so the same numbers).

7. Each featurizer's sparse features are appended to the message's with `scipy.sparse.hstack`, whose
   general block assembly re-checks every index (about 7% of the engine's time per message); two blocks
   side by side are put together directly, into the same COO matrix.
8. Every stored event read back is matched to its class by walking all of Event's subclasses (about 3%):
   each name's class is remembered, and forgotten whenever a new event class is defined.

9. Every call to the action server opened a new HTTP session, and so a new TCP connection that both sides
   set up and tore down (about 5% of the engine's time per message): the calls of one event loop share a
   session and its keep-alive connections, closed when the server stops.

ENGINE_SPEEDUPS=0 leaves Rasa untouched (the benchmark runs its stock bot that way).
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import json
import os
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import jsonschema
import numpy as np
from jsonschema.exceptions import best_match

try:
    import fastjsonschema
except ImportError:  # not installed: jsonschema alone, as before
    fastjsonschema = None

_MAX_SCHEMAS = 32
_validators: OrderedDict[str, Any] = OrderedDict()
_by_identity: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (that schema, its entry): no json key to build
_original_validate = jsonschema.validate
fallbacks = 0  # instances the compiled check did not accept (jsonschema decided them); read by the checks


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


def _entry(schema: Any, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    known = _by_identity.get(id(schema))
    if known is not None and known[0] is schema and cls is None and not args and not kwargs:
        return known[1]
    key = json.dumps(schema, sort_keys=True, default=str) + repr(cls)
    entry = _validators.get(key)
    if entry is None:
        checker = cls if cls is not None else jsonschema.validators.validator_for(schema)
        checker.check_schema(schema)
        fast = None
        if fastjsonschema is not None and cls is None and not args and not kwargs:
            try:
                fast = _compile(schema)
            except Exception:  # a schema it cannot compile: jsonschema alone
                fast = None
        entry = (checker(schema, *args, **kwargs), fast)
        _validators[key] = entry
        if len(_validators) > _MAX_SCHEMAS:
            _validators.popitem(last=False)
    else:
        _validators.move_to_end(key)
    if cls is None and not args and not kwargs:
        if len(_by_identity) >= _MAX_SCHEMAS:
            _by_identity.clear()
        # Keeps the schema alive, so its id cannot be reused by another object while it is here.
        _by_identity[id(schema)] = (schema, entry)
    return entry


def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """`jsonschema.validate` with the schema check and the validator cached per distinct schema.

    A valid instance is accepted by the schema compiled to Python (fastjsonschema); anything it rejects
    goes through jsonschema, which decides and raises the error Rasa expects. A schema object seen before
    is found by identity (schemas are constants; Rasa never changes one after using it)."""
    global fallbacks
    validator, fast = _entry(schema, cls, args, kwargs)
    if fast is not None:
        try:
            fast(instance)
            return
        except fastjsonschema.JsonSchemaException:
            fallbacks += 1
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


ENABLED = os.environ.get("ENGINE_SPEEDUPS", "1") != "0"
if ENABLED:
    jsonschema.validate = validate


# --- 2. loading DIET without tracing its training graph -----------------------------------------------------
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
            return original(
                cls, model_file_name, model_data_example, predict_data_example, True, *args, **kwargs
            )
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


# --- 6. DIET's prediction step called as the one graph it has -----------------------------------------------
_concrete: OrderedDict[int, tuple[Any, Any]] = OrderedDict()  # id(tf.function) -> (it, its concrete function)


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


def _patch_prediction(module: ModuleType) -> None:
    rasa_model = module.RasaModel
    original = rasa_model._rasa_predict

    def _rasa_predict(self: Any, batch_in: Any) -> Any:
        step = self._tf_predict_step
        if step is None or self._run_eagerly or not self.prepared_for_prediction:
            return original(self, batch_in)  # the first call builds the tf.function (or runs eagerly)
        known = _concrete.get(id(step))
        if known is None or known[0] is not step:
            # Its input signature is fixed, so it has exactly one graph: calling that graph directly
            # skips matching the inputs against the traced graphs on every call.
            known = _concrete[id(step)] = (step, _direct_call(module.tf, step))
            if len(_concrete) > 16:
                _concrete.popitem(last=False)
        self._training = False
        outputs = module.tf_utils.sync_to_numpy_or_python_type(known[1](batch_in))
        if module.DIAGNOSTIC_DATA in outputs:
            outputs[module.DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(
                outputs[module.DIAGNOSTIC_DATA]
            )
        return outputs

    rasa_model._rasa_predict = _rasa_predict


# --- 7. sparse features side by side without scipy's general block assembly ---------------------------------
def hstack_coo(left: Any, right: Any) -> Any:
    """`scipy.sparse.hstack([left, right])` for two COO matrices with as many rows: the same COO matrix
    (entries, order, dtypes), without the general block assembly and its re-checks of every index."""
    from scipy import sparse
    from scipy.sparse import _sputils

    shape = (left.shape[0], left.shape[1] + right.shape[1])
    dtype = _sputils.upcast(left.dtype, right.dtype)
    index = _sputils.get_index_dtype(maxval=max(shape))
    out = sparse.coo_matrix(shape, dtype=dtype)  # empty, then filled: the indices are known to be in range
    out.row = np.concatenate((left.row, right.row)).astype(index, copy=False)
    out.col = np.concatenate((left.col, right.col.astype(index, copy=False) + left.shape[1])).astype(
        index, copy=False
    )
    out.data = np.concatenate((left.data, right.data)).astype(dtype, copy=False)
    out.has_canonical_format = False
    return out


def _patch_sparse_features(module: ModuleType) -> None:
    features = module.Features
    original = features._combine_sparse_features

    def _combine_sparse_features(self: Any, additional: Any) -> None:
        from scipy import sparse

        mine, theirs = self.features, additional.features
        # Rasa's featurizers all make COO matrices; anything else (and Rasa's error for mismatched rows)
        # goes the usual way.
        if (
            not (sparse.isspmatrix_coo(mine) and sparse.isspmatrix_coo(theirs))
            or mine.shape[0] != theirs.shape[0]
        ):
            return original(self, additional)
        self.features = hstack_coo(mine, theirs)
        self._cached_fingerprint = None
        return None

    features._combine_sparse_features = _combine_sparse_features


# --- 8. event classes found by name once --------------------------------------------------------------------
def _patch_events(module: ModuleType) -> None:
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


def _patch_tensorflow_models(module: ModuleType) -> None:
    _patch_prediction(module)
    if os.environ.get("ENGINE_FAST_LOAD", "1") != "0":
        _patch_model_loading(module)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs `patch(module)` right after the named module is first executed."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.patch = patch

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once: find the real module with the other finders
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, patch = spec.loader, self.patch

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
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

        def minimal_graph_schema(targets: Sequence[str] | None = None) -> Any:
            key = tuple(targets) if targets else None
            if key not in known:
                known[key] = compute(list(targets) if targets else None)
            return known[key]

        # On this runner's schema only (an instance attribute), which nothing changes after this point.
        schema.minimal_graph_schema = minimal_graph_schema

    runner.__init__ = __init__


# --- 4. one action-response schema object, so that its validator is found by identity ---------------------
def _patch_remote_action(module: ModuleType) -> None:
    action = module.RemoteAction
    spec = action.action_response_format_spec()  # a new dict of constants on every call in Rasa

    def action_response_format_spec() -> Any:
        return spec

    action.action_response_format_spec = staticmethod(action_response_format_spec)


# --- 5. the rules that match the last turns, remembered -----------------------------------------------------
_RULE_MEMO_SIZE = 4096


def _freeze(value: Any) -> Any:
    """A hashable twin of a dialogue state: equal twins for equal states, never for a list and a tuple
    (the rule matcher tells them apart)."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    hash(value)  # anything else must be hashable as it is (TypeError otherwise: no memory)
    return value


def _patch_rule_policy(module: ModuleType) -> None:
    policy = module.RulePolicy
    original_keys = policy._get_possible_keys
    original_load = policy.load.__func__

    def load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        loaded = original_load(cls, *args, **kwargs)
        # A loaded policy's lookups never change (training edits them while it builds them): only then
        # may the answers be remembered.
        loaded._speedups_memo = {}
        return loaded

    def _get_possible_keys(self: Any, lookup: dict, states: list) -> set:
        memo = getattr(self, "_speedups_memo", None)
        if memo is None or not isinstance(lookup, dict):
            return original_keys(self, lookup, states)
        known = memo.get(id(lookup))
        if known is None or known[0] is not lookup:
            longest = max((len(self._rule_key_to_state(key)) for key in lookup), default=0)
            known = memo[id(lookup)] = (lookup, longest, OrderedDict())
        _, longest, answers = known
        # A rule of n turns is decided by the last n states alone (earlier turns always pass): the
        # last `longest` states decide which rules match.
        try:
            key = _freeze(states[-longest:] if longest else [])
        except TypeError:
            return original_keys(self, lookup, states)
        found = answers.get(key)
        if found is None:
            found = answers[key] = frozenset(original_keys(self, lookup, states))
            if len(answers) > _RULE_MEMO_SIZE:
                answers.popitem(last=False)
        else:
            answers.move_to_end(key)
        return set(found)

    policy.load = classmethod(load)
    policy._get_possible_keys = _get_possible_keys
    policy._speedups_original_keys = original_keys


# --- 9. one HTTP session per event loop for the action server -------------------------------------------
# Per event loop (each Sanic worker has its own), per headers and credentials: the open sessions.
_KEPT_SESSIONS: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


class _KeptSession:
    """What `async with endpoint.session()` gets: a session that stays open when the block ends."""

    __slots__ = ("session",)

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _patch_endpoints(module: ModuleType) -> None:
    config = module.EndpointConfig
    new_session = config.session

    def session(self: Any) -> Any:
        try:
            loop = asyncio.get_running_loop()
            key = (tuple(sorted(self.headers.items())), tuple(sorted(self.basic_auth.items())))
            hash(key)
        except (RuntimeError, TypeError):  # no running loop, or settings that cannot be told apart
            return new_session(self)
        kept = _KEPT_SESSIONS.setdefault(loop, {})
        current = kept.get(key)
        if current is None or current.closed:
            current = kept[key] = new_session(self)
        return _KeptSession(current)

    config.session = session


async def close_kept_sessions() -> None:
    """Close the sessions this event loop kept open."""
    for kept in _KEPT_SESSIONS.pop(asyncio.get_running_loop(), {}).values():
        await kept.close()


def _patch_server_shutdown(module: ModuleType) -> None:
    original = module.close_resources  # registered by `serve_application` as the server stops

    async def close_resources(app: Any, loop: Any) -> None:
        try:
            await original(app, loop)
        finally:
            await close_kept_sessions()

    module.close_resources = close_resources


if ENABLED:
    sys.meta_path.insert(0, _PatchOnImport("rasa.utils.tensorflow.models", _patch_tensorflow_models))
    sys.meta_path.insert(0, _PatchOnImport("rasa.engine.runner.dask", _patch_graph_runner))
    sys.meta_path.insert(0, _PatchOnImport("rasa.core.actions.action", _patch_remote_action))
    sys.meta_path.insert(0, _PatchOnImport("rasa.core.policies.rule_policy", _patch_rule_policy))
    sys.meta_path.insert(0, _PatchOnImport("rasa.shared.nlu.training_data.features", _patch_sparse_features))
    sys.meta_path.insert(0, _PatchOnImport("rasa.shared.core.events", _patch_events))
    sys.meta_path.insert(0, _PatchOnImport("rasa.utils.endpoints", _patch_endpoints))
    sys.meta_path.insert(0, _PatchOnImport("rasa.core.run", _patch_server_shutdown))
