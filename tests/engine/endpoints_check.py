"""Run by the engine's Python (rasa 3.6): calls through Rasa's EndpointConfig (how it reaches the action
server) against a local HTTP server that records which connection each request came on.

Prints "ok <connections of the calls made one by one> <connections> <requests>" and exits 0 when every
answer came back as Rasa returns it (JSON, and a ClientResponseError for an error status); with
engine_patch_endpoints the calls share one connection and the session is closed when the server stops
(`close_resources`).

Usage: python tests/engine/endpoints_check.py
"""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace

from aiohttp import web
from rasa.core import run
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

REQUESTS = 20


async def check() -> str:
    peers: list[object] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        body = await request.json()
        if body.get("fail"):
            return web.json_response({"error": "no"}, status=500)
        return web.json_response({"events": [], "responses": [{"text": f"eco {body['n']}"}]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    try:
        for n in range(REQUESTS):
            answer = await endpoint.request(json={"n": n}, method="post")
            assert answer == {"events": [], "responses": [{"text": f"eco {n}"}]}, answer
        try:
            await endpoint.request(json={"fail": True}, method="post")
        except ClientResponseError as error:
            assert error.status == 500
        else:
            raise AssertionError("an error status must raise ClientResponseError")
        one_by_one = len(set(peers))
        answers = await asyncio.gather(*(endpoint.request(json={"n": n}, method="post") for n in range(5)))
        assert [a["responses"][0]["text"] for a in answers] == [f"eco {n}" for n in range(5)]
        patched = EndpointConfig.session.__module__ == "engine_patch_endpoints"
        assert patched == (run.close_resources.__module__ == "engine_patch_endpoints")
        if patched:
            patch = sys.modules["engine_patch_endpoints"]
            [kept] = patch._KEPT_SESSIONS[asyncio.get_running_loop()].values()
            await run.close_resources(SimpleNamespace(ctx=SimpleNamespace()), asyncio.get_running_loop())
            assert kept.closed and asyncio.get_running_loop() not in patch._KEPT_SESSIONS
    finally:
        await runner.cleanup()
    return f"ok {one_by_one} {len(set(peers))} {len(peers)}"


def main() -> int:
    print(asyncio.run(check()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
