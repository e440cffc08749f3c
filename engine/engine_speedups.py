"""The loader of the engine's speed-ups: imported by engine_speedups.pth in every interpreter of the engine's
environment. It imports no rasa code and none of the speed-ups' modules; for each speed-up whose switch is
on it reads the installed Rasa version (package metadata) and either registers the speed-up's import hook
(its module patches Rasa's module right after that is first imported) or logs one line and leaves Rasa
stock. Every speed-up was written for, and proved by its parity check in tests/engine/ against, Rasa
RASA_VERSION; on any other version none of them applies (re-run the checks, then raise RASA_VERSION).

| speed-up               | module                          | switch                        |
|------------------------|---------------------------------|-------------------------------|
| action schema          | engine_patch_action_schema.py   | ENGINE_PATCH_ACTION_SCHEMA    |
| model loading          | engine_patch_model_loading.py   | ENGINE_PATCH_MODEL_LOADING    |
| graph runner           | engine_patch_graph_runner.py    | ENGINE_PATCH_GRAPH_RUNNER     |
| rule memory            | engine_policies.py (a policy)   | ENGINE_PATCH_RULE_MEMORY      |
| prediction             | engine_patch_prediction.py      | ENGINE_PATCH_PREDICTION       |
| sparse features        | engine_patch_sparse_features.py | ENGINE_PATCH_SPARSE_FEATURES  |
| event classes          | engine_patch_events.py          | ENGINE_PATCH_EVENTS           |
| action server sessions | engine_patch_endpoints.py       | ENGINE_PATCH_ENDPOINTS        |

Each module's docstring says what it changes, why, what it bought and which check proves it. The rule
memory is not a patch: `engine_policies.MemoRulePolicy` is named in config.yml and asks `applies()`.
`ENGINE_SPEEDUPS=0` turns them all off (the benchmark runs its stock bot that way); `ENGINE_PATCH_...=0`
turns off one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

RASA_VERSION = "3.6.21"  # the version the parity checks in tests/engine/ ran against
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeedUp:
    name: str
    switch: str  # its own environment variable: "0" turns it off
    module: str  # the module that holds it
    # (Rasa's module, the function of `module` that patches it once it is imported); none for a component
    # named in config.yml, which asks `applies(name)` itself.
    targets: tuple[tuple[str, str], ...] = ()


SPEEDUPS: tuple[SpeedUp, ...] = (
    SpeedUp(
        "action schema",
        "ENGINE_PATCH_ACTION_SCHEMA",
        "engine_patch_action_schema",
        (("rasa.core.actions.action", "patch_remote_action"),),
    ),
    SpeedUp(
        "model loading",
        "ENGINE_PATCH_MODEL_LOADING",
        "engine_patch_model_loading",
        (("rasa.utils.tensorflow.models", "patch_rasa_model_load"),),
    ),
    SpeedUp(
        "graph runner",
        "ENGINE_PATCH_GRAPH_RUNNER",
        "engine_patch_graph_runner",
        (("rasa.engine.runner.dask", "patch_dask_graph_runner"),),
    ),
    SpeedUp("rule memory", "ENGINE_PATCH_RULE_MEMORY", "engine_policies"),
    SpeedUp(
        "prediction",
        "ENGINE_PATCH_PREDICTION",
        "engine_patch_prediction",
        (("rasa.utils.tensorflow.models", "patch_rasa_predict"),),
    ),
    SpeedUp(
        "sparse features",
        "ENGINE_PATCH_SPARSE_FEATURES",
        "engine_patch_sparse_features",
        (("rasa.shared.nlu.training_data.features", "patch_features"),),
    ),
    SpeedUp(
        "event classes",
        "ENGINE_PATCH_EVENTS",
        "engine_patch_events",
        (("rasa.shared.core.events", "patch_event"),),
    ),
    SpeedUp(
        "action server sessions",
        "ENGINE_PATCH_ENDPOINTS",
        "engine_patch_endpoints",
        (("rasa.utils.endpoints", "patch_endpoint_config"), ("rasa.core.run", "patch_server_shutdown")),
    ),
)
BY_NAME = {speedup.name: speedup for speedup in SPEEDUPS}

_decided: dict[str, bool] = {}  # name -> whether it applies in this process
applied: list[tuple[str, str]] = []  # (speed-up, Rasa module) for every patch made; read by the checks


def switched_on(speedup: SpeedUp, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether neither ENGINE_SPEEDUPS nor the speed-up's own switch is "0"."""
    return environ.get("ENGINE_SPEEDUPS", "1") != "0" and environ.get(speedup.switch, "1") != "0"


def installed_rasa() -> str | None:
    """The installed Rasa's version, from its package metadata (rasa is not imported)."""
    try:
        return metadata.version("rasa")
    except metadata.PackageNotFoundError:
        return None


def _decide(speedup: SpeedUp, environ: Mapping[str, str], found: list[str | None]) -> bool:
    if not switched_on(speedup, environ):
        return False
    if not found:
        found.append(installed_rasa())  # looked up once, and only when some switch is on
    if found[0] != RASA_VERSION:
        logger.warning(
            'engine speed-up "%s" not applied: written for rasa %s, found %s',
            speedup.name,
            RASA_VERSION,
            found[0] or "none",
        )
        return False
    return True


def applies(name: str) -> bool:
    """Whether the named speed-up applies in this process (decided once, by `install`)."""
    if name not in _decided:
        _decided[name] = _decide(BY_NAME[name], os.environ, [])
    return _decided[name]


def _apply(speedup: SpeedUp, function: str, module: ModuleType) -> None:
    try:
        getattr(importlib.import_module(speedup.module), function)(module)
    except Exception as error:  # each patch looks everything up before it changes anything
        logger.warning('engine speed-up "%s" not applied to %s: %r', speedup.name, module.__name__, error)
        return
    applied.append((speedup.name, module.__name__))


class _PatchingLoader:
    """Rasa's own loader, then the patches of the module it executed."""

    def __init__(self, loader: Any, patches: list[tuple[SpeedUp, str]]) -> None:
        self._loader = loader
        self._patches = patches

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        for speedup, function in self._patches:
            _apply(speedup, function, module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ... as Rasa's loader
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._loader, name)


class PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs each pending patch right after its Rasa module is first executed; leaves sys.meta_path once
    none is pending."""

    def __init__(self) -> None:
        self.pending: dict[str, list[tuple[SpeedUp, str]]] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patches = self.pending.pop(fullname, None)
        if patches is None:
            return None
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            spec = None if finder is self or find is None else find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, patches)  # type: ignore[assignment]
        return spec


hook = PatchOnImport()


def install(environ: Mapping[str, str] = os.environ) -> dict[str, bool]:
    """Decide each speed-up (its switches, then the Rasa version) and register the import hooks of those
    that apply; a Rasa module already imported is patched at once. Returns each speed-up's decision."""
    found: list[str | None] = []
    for speedup in SPEEDUPS:
        _decided[speedup.name] = on = _decide(speedup, environ, found)
        for target, function in speedup.targets if on else ():
            if target in sys.modules:
                _apply(speedup, function, sys.modules[target])
            else:
                hook.pending.setdefault(target, []).append((speedup, function))
    if hook.pending and hook not in sys.meta_path:
        sys.meta_path.insert(0, hook)
    return dict(_decided)


install()
