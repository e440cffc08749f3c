"""Live updates as server-sent events: a broker topic streamed to a browser, with heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.handoff.events import Broker

HEARTBEAT_SECONDS = 15.0


async def stream(
    request: web.Request,
    broker: Broker,
    topic: str,
    first: list[tuple[str, dict[str, Any]]],
    tick: Callable[[], Awaitable[None]] | None = None,
    prepare: Callable[[web.StreamResponse], None] | None = None,
) -> web.StreamResponse:
    """Stream `topic` (after the `first` events) until the client goes; `tick` runs at each heartbeat,
    `prepare` may set headers or cookies before the response starts."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    if prepare is not None:
        prepare(response)
    await response.prepare(request)
    async with broker.subscribe(topic) as events:
        try:
            for event, data in first:
                await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
            while True:
                try:
                    event, data = await asyncio.wait_for(events.get(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    if tick is not None:
                        await tick()
                    continue
                await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        except (ConnectionResetError, ConnectionError):
            pass
    return response
