"""Generated inputs (hypothesis) against every public route of the gateway: never a 5xx, never a secret in a
response, and nothing stored (nor the engine asked) for a webhook whose signature is not Twilio's.

The budgets below add up to 10,000 generated requests (`BUDGET`), all run by default: the whole file takes
30 to 65 s on a two-core machine, depending on its load. SECURITY_FUZZ_SCALE=0.2 (or any factor) shortens or
lengthens a run. Besides each response, aiohttp's server log is watched: an unhandled exception fails the test
even when the client saw only a closed connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http import HttpProcessingError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.gateway import tokens
from bot.store.demo import DEMO_ACCOUNT_IDS
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ACCOUNT_SID,
    ANA_PHONE,
    AUTH_TOKEN,
    PUBLIC_URL,
    STATUS_PATH,
    WHATSAPP_FROM,
    WHATSAPP_PATH,
    FakeEngine,
    Gateway,
    incoming,
    sign,
    token_settings,
)
from tests.security.conftest import (
    ANA,
    CARLA,
    LUIS,
    SECRETS,
    count,
    counts,
    tampered,
    token_for,
    unsigned_token,
)

SCALE = float(os.environ.get("SECURITY_FUZZ_SCALE", "1"))
BUDGET = {
    "pages": 700,
    "chat": 2000,
    "chat_events": 600,
    "dev": 700,
    "agent": 1400,
    "whatsapp_forged": 1600,
    "status_forged": 900,
    "signed_forms": 800,
    "anywhere": 1300,
}
assert sum(BUDGET.values()) == 10_000


def budget(route: str) -> settings:
    """Hypothesis settings for one route's share of the generated inputs."""
    return settings(
        max_examples=max(10, int(BUDGET[route] * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=False,
    )


# --- strategies -----------------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=80
)
HUGE = st.integers(0, 140_000).map(lambda n: "x" * n)  # around and over the 64 KB body limit
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _with_claims(claims: dict[str, Any]) -> str:
    """Ana's token with arbitrary extra or replaced claims."""
    return token_for(ANA, **{k: v for k, v in claims.items() if k})


def jwt_like() -> st.SearchStrategy[str]:
    """Tokens an attacker can make: garbage, forged, tampered, alg=none, other algorithms, expired."""
    settings_ = token_settings()
    valid = tokens.mint(1, 1, "admin", "Ana Torres", settings_, 10)
    return st.one_of(
        TEXT,
        st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.builds(lambda a, b, c: f"{a}.{b}.{c}", TEXT, TEXT, TEXT),
        st.just(unsigned_token({"sub": "1", "account_id": 1, "profile": "admin", "exp": 4_000_000_000})),
        st.sampled_from(["none", "None", "NONE", "HS256"]).map(
            lambda alg: unsigned_token({"sub": "7", "account_id": 4, "profile": "agent", "exp": 4e9}, alg)
        ),
        st.sampled_from([2, 3, "2", True, None]).map(lambda acc: tampered(valid, account_id=acc)),
        st.sampled_from(["HS384", "HS512"]).map(lambda alg: token_for(CARLA, algorithm=alg)),
        st.just(token_for(CARLA, secret="not-the-secret-" + "x" * 40)),
        st.just(token_for(ANA, minutes=-5)),
        st.just(token_for(LUIS)),
        st.just(token_for(ANA)),
        st.just(token_for(CARLA)),
        st.dictionaries(TEXT, JSON, max_size=4).map(_with_claims),
    )


def header_safe(value: str) -> str:
    """A value a client can put in a header (no control characters: aiohttp refuses to send them)."""
    return "".join(c for c in value if c >= " " and c != "\x7f" and c not in "\u2028\u2029\x85")


TOKENS = jwt_like()
HEADER_TOKENS = TOKENS.map(header_safe)
AUTHORIZATION = st.one_of(
    HEADER_TEXT,
    HEADER_TOKENS.map(lambda t: f"Bearer {t}"),
    HEADER_TOKENS.map(lambda t: f"bearer  {t} "),
)
_cookie_value = tokens.new_conversation(token_settings())[1]
COOKIE = st.one_of(
    HEADER_TEXT,
    st.just(f"zcc_conversation={_cookie_value}"),
    HEADER_TOKENS.map(lambda t: f"zcc_conversation={t}"),
    HEADER_TEXT.map(lambda t: f"zcc_conversation={t}; other=1"),
)
CONTENT_TYPE = st.one_of(
    HEADER_TEXT,
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "application/json; charset=no-such-charset",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-16",
            "application/x-www-form-urlencoded; charset=no-such-charset",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "multipart/form-data; boundary=",
            "text/plain",
            "text/xml",
        ]
    ),
)
HEADER_NAMES = [
    "Authorization",
    "Cookie",
    "Content-Type",
    "X-Twilio-Signature",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "Accept",
    "Accept-Encoding",
    "Content-Encoding",
    "Origin",
    "Range",
    "If-Modified-Since",
    "Last-Event-ID",
    "User-Agent",
]
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Authorization": AUTHORIZATION,
        "Cookie": COOKIE,
        "Content-Type": CONTENT_TYPE,
        "X-Twilio-Signature": HEADER_TEXT,
        "X-Forwarded-Proto": st.sampled_from(["https", "http", "gopher"]),
        "X-Forwarded-Host": HEADER_TEXT,
        "Accept-Encoding": st.sampled_from(["gzip", "br", "deflate", "*", "identity;q=0"]),
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "zstd", "identity", "x-unknown"]),
        "Range": st.sampled_from(["bytes=0-10", "bytes=-5", "bytes=999999-", "bytes=5-1", "lines=1-2"]),
        "If-Modified-Since": HEADER_TEXT,
        "Last-Event-ID": HEADER_TEXT,
    },
) | st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_TEXT, max_size=4)
QUERY = st.lists(st.tuples(TEXT, TEXT), max_size=4) | st.lists(
    st.tuples(st.just("access_token"), TOKENS), min_size=1, max_size=2
)


def encoded_json(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"))


BODY = st.one_of(
    st.binary(max_size=400),
    encoded_json(JSON),
    TEXT.map(lambda t: t.encode()),
    HUGE.map(str.encode),
    st.dictionaries(TEXT, TEXT, max_size=6).map(lambda d: urllib.parse.urlencode(d).encode()),
    st.binary(min_size=1, max_size=40).map(
        lambda b: b'{"message": "' + b + b'"}'
    ),  # invalid UTF-8 inside JSON
    st.binary(max_size=200).map(lambda b: b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b),
)
CHAT_BODY = st.one_of(
    BODY,
    encoded_json(
        st.fixed_dictionaries(
            {"message": JSON | TEXT | HUGE}, optional={"id": JSON | TEXT, "sender": TEXT, "metadata": JSON}
        )
    ),
    encoded_json(
        st.fixed_dictionaries({"message": TEXT}, optional={"id": st.from_regex(r"[A-Za-z0-9_.:-]{1,70}")})
    ),
)
HANDOFF_ID = st.one_of(
    st.integers(),
    st.integers(min_value=2**62),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    TEXT.filter(bool),
    st.sampled_from(["1e3", "0x10", "١٢", "１２", " 1", "1 ", "+1", "-0", "1_000", "..", "%2e%2e"]),
)


def quoted(segment: Any) -> str:
    return urllib.parse.quote(str(segment), safe="")


# --- one request, checked -------------------------------------------------------------------------------
class ServerErrors(logging.Handler):
    """Unhandled exceptions the gateway's HTTP server logged (each one a 500), as opposed to its refusals
    of requests it could not parse (logged too, but answered 400)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        failure = record.exc_info[1] if record.exc_info else None
        if not isinstance(failure, HttpProcessingError | web.RequestPayloadError):
            self.found.append(f"{record.getMessage()}: {failure!r}")


SERVER_ERRORS = ServerErrors()


@pytest.fixture(autouse=True)
def server_errors() -> Iterator[ServerErrors]:
    """Watch aiohttp's server log during each test; fail the test on any unhandled exception."""
    SERVER_ERRORS.found.clear()
    logger = logging.getLogger("aiohttp.server")
    logger.addHandler(SERVER_ERRORS)
    try:
        yield SERVER_ERRORS
    finally:
        logger.removeHandler(SERVER_ERRORS)
    assert SERVER_ERRORS.found == []


async def send(
    gateway: Gateway,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    params: list[tuple[str, str]] | None = None,
    data: Any = None,
    stream: bool = False,
) -> tuple[int, bytes]:
    """Send a request; assert the response is not a 5xx and shows no secret; return status and body.

    With `stream`, only the status and headers are read (an event stream is closed at once)."""
    request_headers = dict(headers or {})
    if data is not None and "Content-Type" not in request_headers and isinstance(data, bytes):
        request_headers["Content-Type"] = "application/octet-stream"
    errors = len(SERVER_ERRORS.found)
    for attempt in range(2):
        try:
            response = await gateway.client.request(
                method,
                path,
                headers=request_headers,
                params=params or None,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
            )
            break
        except aiohttp.ClientResponseError as failure:
            # The server closed the connection with an HTTP-level protocol error of its own: a 4xx.
            assert failure.status < 500, failure
            return failure.status, b""
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            # The server answered without reading the whole body (a Content-Encoding it cannot decode, a
            # body over the limit, a route that does not exist) and closed: a client still sending it, or
            # reusing that kept-alive connection for the next request, sees the connection close instead.
            # It must not have been a server error; a request without a body is sent again.
            await asyncio.sleep(0.01)
            assert SERVER_ERRORS.found[errors:] == [], (method, path)
            if attempt or data is not None:
                return 400, b""
    try:
        content_type = response.headers.get("Content-Type", "")
        body = b"" if stream or content_type.startswith("text/event-stream") else await response.read()
    finally:
        response.close()
    shown = body + str(dict(response.headers)).encode()
    assert response.status < 500, (method, path, response.status, body[:500])
    for secret in SECRETS:
        assert secret.encode() not in shown, f"{method} {path} showed a secret"
    assert b"Traceback" not in body
    return response.status, body


def spanish_json_error(status: int, body: bytes) -> None:
    """An /api/ refusal is JSON with a code and a Spanish message; only the HTTP layer's own refusal of a
    request it cannot parse (an unsupported Content-Encoding, say), which no route sees, is plain text."""
    if not 400 <= status < 500:
        return
    try:
        answer = json.loads(body)
    except ValueError:
        assert status == 400, (status, body[:200])
        return
    assert isinstance(answer, dict) and answer.get("error") and answer.get("message"), answer


# --- the pages and static files -------------------------------------------------------------------------
@budget("pages")
@given(
    path=st.sampled_from(
        [
            "/",
            "/agent",
            "/static/common.js",
            "/static/common.css",
            "/static/app.js",
            "/static/app.css",
            "/static/agent.js",
        ]
    ),
    method=st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]),
    headers=HEADERS,
    params=QUERY,
    data=st.none() | BODY,
)
async def test_pages(
    gateway: Gateway,
    engine: FakeEngine,
    path: str,
    method: str,
    headers: dict[str, str],
    params: list[tuple[str, str]],
    data: bytes | None,
) -> None:
    status, _ = await send(gateway, method, path, headers=headers, params=params, data=data)
    plain = not {"Range", "If-Modified-Since", "Content-Encoding"} & set(headers)
    if method == "GET" and plain and data is None:
        assert status == 200, status
    assert engine.received == []
    assert count(gateway.settings.database_url, "inbound_messages") == 0


# --- the chat API ---------------------------------------------------------------------------------------
@budget("chat")
@given(body=CHAT_BODY, headers=HEADERS, params=QUERY)
async def test_chat(
    gateway: Gateway,
    engine: FakeEngine,
    body: bytes,
    headers: dict[str, str],
    params: list[tuple[str, str]],
) -> None:
    database = gateway.settings.database_url
    stored, asked = count(database, "inbound_messages"), len(engine.received)
    status, answer = await send(gateway, "POST", "/api/chat", headers=headers, params=params, data=body)
    if status == 200:
        assert isinstance(json.loads(answer), list)
        assert len(engine.received) - asked <= 1
    else:
        spanish_json_error(status, answer)
        assert len(engine.received) == asked, "a refused message reached the engine"
        assert count(database, "inbound_messages") == stored, "a refused message was stored"
    for payload in engine.received[asked:]:
        message = payload["message"]
        assert message and message == message.strip() and len(message) <= gateway.settings.max_message_chars
        assert "\x00" not in message


@budget("chat_events")
@given(headers=HEADERS, params=QUERY, method=st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"]))
async def test_chat_events(
    gateway: Gateway, engine: FakeEngine, headers: dict[str, str], params: list[tuple[str, str]], method: str
) -> None:
    status, _ = await send(gateway, method, "/api/chat/events", headers=headers, params=params, stream=True)
    assert status in (200, 400, 401, 405), status
    assert engine.received == []
    assert count(gateway.settings.database_url, "inbound_messages") == 0


# --- development sign-in (both with development mode off and on) ----------------------------------------
@budget("dev")
@given(
    route=st.sampled_from(
        [("POST", "/api/dev/token"), ("GET", "/api/dev/users"), ("POST", "/api/dev/users")]
    ),
    dev=st.booleans(),
    body=st.one_of(
        BODY,
        encoded_json(st.fixed_dictionaries({"email": JSON | TEXT | HUGE})),
        st.sampled_from(["ana.torres@andina.example", "carla.soporte@soporte.example", "nobody@x"]).map(
            lambda e: json.dumps({"email": e}).encode()
        ),
    ),
    headers=HEADERS,
    params=QUERY,
)
async def test_dev_routes(
    gateway: Gateway,
    dev_gateway: Gateway,
    route: tuple[str, str],
    dev: bool,
    body: bytes,
    headers: dict[str, str],
    params: list[tuple[str, str]],
) -> None:
    method, path = route
    target = dev_gateway if dev else gateway
    status, answer = await send(target, method, path, headers=headers, params=params, data=body)
    spanish_json_error(status, answer)
    if not dev:
        # The routes do not exist outside development mode (a 400 is the HTTP layer's, for a body it
        # cannot decode, before any route runs).
        assert status in (404, 405, 413) or (status == 400 and "Content-Encoding" in headers), status
    if status == 200 and path == "/api/dev/token":
        token = json.loads(answer)["token"]
        assert tokens.verify(token, target.settings).account_id in DEMO_ACCOUNT_IDS  # demo users only


# --- the agent console API ------------------------------------------------------------------------------
AGENT_ROUTES = [
    ("GET", "/api/agent/queue"),
    ("GET", "/api/agent/handoffs/{id}"),
    ("POST", "/api/agent/handoffs/{id}/take"),
    ("POST", "/api/agent/handoffs/{id}/reply"),
    ("POST", "/api/agent/handoffs/{id}/resolve"),
    ("GET", "/api/agent/events"),
]


@budget("agent")
@given(
    route=st.sampled_from(AGENT_ROUTES),
    handoff_id=HANDOFF_ID,
    token=st.none() | TOKENS,
    where=st.sampled_from(["header", "query"]),
    body=st.none() | BODY | encoded_json(st.fixed_dictionaries({"text": JSON | TEXT | HUGE})),
    headers=HEADERS,
)
async def test_agent_routes(
    gateway: Gateway,
    engine: FakeEngine,
    twilio: FakeTwilio,
    route: tuple[str, str],
    handoff_id: Any,
    token: str | None,
    where: str,
    body: bytes | None,
    headers: dict[str, str],
) -> None:
    method, template = route
    path = template.replace("{id}", quoted(handoff_id))
    headers = dict(headers)
    params = []
    if token is not None:
        if where == "header":
            headers["Authorization"] = f"Bearer {header_safe(token)}"
        else:
            params.append(("access_token", token))
    stream = path.endswith("/events")
    status, answer = await send(
        gateway, method, path, headers=headers, params=params, data=body, stream=stream
    )
    if not stream:
        spanish_json_error(status, answer)
    assert engine.received == []
    assert twilio.sent == []
    assert count(gateway.settings.database_url, "handoffs") == 0


# --- Twilio webhooks: anything not signed by Twilio for our public URL stores nothing ---------------------
FORM_KEYS = (
    st.sampled_from(
        [
            "MessageSid",
            "SmsMessageSid",
            "AccountSid",
            "From",
            "To",
            "Body",
            "NumMedia",
            "MessageStatus",
            "ErrorCode",
            "Latitude",
            "Longitude",
            "WaId",
            "ProfileName",
        ]
    )
    | HEADER_TEXT  # aiohttp's client refuses control characters in a field name
)


def forms() -> st.SearchStrategy[dict[str, str]]:
    """Forms shaped like Twilio's (or not at all)."""
    real = st.builds(
        lambda body, phone, extra: incoming(body, phone, **extra),
        TEXT | HUGE,
        st.sampled_from([ANA_PHONE, "+5215599999999", "+1"]) | TEXT,
        st.dictionaries(
            st.sampled_from(["NumMedia", "Latitude", "Longitude", "MessageStatus"]), TEXT, max_size=3
        ),
    )
    return real | st.dictionaries(FORM_KEYS, TEXT | HUGE, max_size=8)


def signatures(path: str, form: dict[str, str]) -> st.SearchStrategy[str | None]:
    """Every way to get the signature wrong for this form posted to this path."""
    other_urls = st.sampled_from(
        [
            "http://bot.example.com",
            "https://evil.example.com",
            "https://bot.example.com/webhooks",
            "http://127.0.0.1",
            "https://bot.example.com.evil.example",
        ]
    )
    return st.one_of(
        st.none(),
        HEADER_TEXT,
        st.binary(min_size=20, max_size=20).map(lambda b: base64.b64encode(b).decode()),
        st.just(sign(path, form, token="not-the-auth-token")),
        other_urls.map(lambda base: sign(path, form, base=base)),
        st.just(sign(STATUS_PATH if path == WHATSAPP_PATH else WHATSAPP_PATH, form)),
        st.just(sign(path + "?x=1", form)),
        st.dictionaries(FORM_KEYS, TEXT, max_size=4).map(
            lambda other: _signed_for_other_fields(path, form, other)
        ),
    )


def _signed_for_other_fields(path: str, form: dict[str, str], other: dict[str, str]) -> str:
    """A valid signature of other fields (skipped when Twilio's scheme cannot tell the two forms apart)."""
    assume(
        "".join(k + v for k, v in sorted(other.items())) != "".join(k + v for k, v in sorted(form.items()))
    )
    return sign(path, other)


async def _forged_webhook(
    gateway: Gateway,
    engine: FakeEngine,
    twilio: FakeTwilio,
    data: st.DataObject,
    path: str,
) -> None:
    form = data.draw(forms(), "form")
    signature = data.draw(signatures(path, form), "signature")
    headers = data.draw(HEADERS, "headers")
    headers.pop("X-Twilio-Signature", None)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    raw = data.draw(st.booleans(), "raw body instead of the form")
    payload: Any = data.draw(BODY, "body") if raw else form
    if raw:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    status, _ = await send(gateway, "POST", path, headers=headers, data=payload)
    assert 400 <= status < 500, status
    assert counts(gateway.settings.database_url) == dict.fromkeys(counts(gateway.settings.database_url), 0)
    assert engine.received == []
    assert twilio.sent == []


@budget("whatsapp_forged")
@given(data=st.data())
async def test_forged_whatsapp_webhooks(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, data: st.DataObject
) -> None:
    await _forged_webhook(gateway, engine, twilio, data, WHATSAPP_PATH)


@budget("status_forged")
@given(data=st.data())
async def test_forged_status_callbacks(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio, data: st.DataObject
) -> None:
    await _forged_webhook(gateway, engine, twilio, data, STATUS_PATH)


@budget("signed_forms")
@given(
    path=st.sampled_from([WHATSAPP_PATH, STATUS_PATH]),
    form=forms(),
    sid=st.none() | st.just("SM" + "0123456789abcdef" * 2) | TEXT,
)
async def test_signed_webhooks_with_any_fields(
    gateway: Gateway, engine: FakeEngine, path: str, form: dict[str, str], sid: str | None
) -> None:
    """Twilio's signature but any field values: a 200/204 or a 400, never a 5xx."""
    if sid is not None:
        form = {**form, "MessageSid": sid}
    status, body = await send(
        gateway, "POST", path, headers={"X-Twilio-Signature": sign(path, form)}, data=form
    )
    assert status in (200, 204, 400, 413), (status, body[:200])
    await gateway.settle()


# --- anywhere else --------------------------------------------------------------------------------------
@budget("anywhere")
@given(
    segments=st.lists(
        st.one_of(
            TEXT.filter(bool).map(quoted),
            st.sampled_from(
                ["api", "chat", "agent", "static", "webhooks", "twilio", "..", ".", "%2e%2e", "%00"]
            ),
        ),
        max_size=5,
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]),
    headers=HEADERS,
    params=QUERY,
    data=st.none() | BODY,
)
async def test_any_path_and_method(
    gateway: Gateway,
    engine: FakeEngine,
    twilio: FakeTwilio,
    segments: list[str],
    method: str,
    headers: dict[str, str],
    params: list[tuple[str, str]],
    data: bytes | None,
) -> None:
    path = "/" + "/".join(segments)
    stream = path.rstrip("/").endswith("/events")
    status, body = await send(gateway, method, path, headers=headers, params=params, data=data, stream=stream)
    if status == 200 and path.startswith("/static/"):
        assert b"import " not in body and b"def " not in body, "a file outside the static folder was served"
    assert twilio.sent == []
    assert count(gateway.settings.database_url, "delivery_statuses") == 0


def test_the_budgets_add_up_to_ten_thousand() -> None:
    assert sum(BUDGET.values()) == 10_000
    assert SCALE > 0
    assert WHATSAPP_FROM and ACCOUNT_SID and AUTH_TOKEN and PUBLIC_URL
