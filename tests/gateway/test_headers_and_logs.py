"""Security headers on every response, and logs that no request can forge."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot import logs
from bot.gateway.__main__ import PathOnlyAccessLogger
from tests.gateway.conftest import Gateway, StartGateway

PATHS = ("/", "/agent", "/static/common.js", "/api/chat", "/no-such-page", "/api/dev/users")


async def fetch(gateway: Gateway, path: str) -> Any:
    if path == "/api/chat":
        return await gateway.chat({"message": "hola"})
    return await gateway.client.get(path)


@pytest.mark.parametrize("path", PATHS)
async def test_every_response_carries_the_security_headers(gateway: Gateway, path: str) -> None:
    response = await fetch(gateway, path)
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Server"] == "asistente"  # no Python or aiohttp version


async def test_allowed_embedding_sites_may_frame_the_chat(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(
        embed_origins=["https://www.cliente.example", "https://app.cliente.example"]
    )
    response = await gateway.client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.cliente.example https://app.cliente.example" in policy
    assert "X-Frame-Options" not in response.headers


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("/static/x\r\nINJECTED fake line", "/static/x\\r\\nINJECTED fake line"),
        ("nul\x00byte", "nul\\x00byte"),
        ("line\u2028separator", "line\\u2028separator"),
        ("tab\tand\x1b[31mcolour", "tab\\tand\\x1b[31mcolour"),
    ],
)
def test_control_characters_are_escaped_in_every_line(text: str, escaped: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.SafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.safe")
    logger.addHandler(handler)
    try:
        logger.warning("request %s", text)  # interpolated arguments are escaped too
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert written == f"WARNING request {escaped}\n"
    assert written.count("\n") == 1 and "\x00" not in written


def test_the_json_format_writes_one_object_per_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    try:
        logger.warning("GET %s 404", '/static/x\r\n{"level": "CRITICAL"}')
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "test.json"
    assert entry["message"] == 'GET /static/x\r\n{"level": "CRITICAL"} 404'


def test_a_percent_encoded_line_break_in_a_path_stays_on_its_access_log_line() -> None:
    request = make_mocked_request("GET", "/static/x%0D%0AINJECTED%00")
    assert "\r\n" in request.path  # aiohttp decodes the path: the logger must escape it
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.SafeFormatter("%(message)s"))
    logger = logging.getLogger("test.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        PathOnlyAccessLogger(logger, "").log(request, web.Response(status=404), 0.001)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().count("\n") == 1
    assert "\\r\\nINJECTED\\x00" in stream.getvalue()


async def test_an_embeddable_chat_over_https_sets_a_partitioned_cross_site_cookie(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(embed_origins=["https://www.cliente.example"])  # PUBLIC_URL is https
    response = await gateway.chat({"message": "hola"})
    cookie = response.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned"):
        assert attribute in cookie
    assert response.headers["X-Conversation"] == cookie.split(";")[0].split("=", 1)[1]
    events = await gateway.client.get("/api/chat/events", headers={"Origin": "https://www.cliente.example"})
    assert events.status == 200 and "Partitioned" in events.headers["Set-Cookie"]
    assert events.headers["Access-Control-Allow-Origin"] == "https://www.cliente.example"
    events.close()


async def test_cors_only_for_the_allowed_embedding_sites(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(embed_origins=["https://www.cliente.example"])
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = await gateway.client.options(
        "/api/chat", headers={"Origin": "https://www.cliente.example", **asked}
    )
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://www.cliente.example"
    assert "Content-Type" in allowed.headers["Access-Control-Allow-Headers"]
    other = await gateway.client.options("/api/chat", headers={"Origin": "https://evil.example", **asked})
    assert "Access-Control-Allow-Origin" not in other.headers
    answer = await gateway.chat({"message": "hola"}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers
