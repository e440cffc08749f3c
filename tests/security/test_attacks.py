"""Targeted attacks on the gateway (fake engine, fake Twilio, real SQLite store): forged, replayed and
re-signed Twilio webhooks; tampered, expired, wrong-secret, alg=none and other-algorithm tokens; oversized,
malformed and non-UTF-8 bodies. Every refusal is a 4xx that stores nothing and never reaches the engine.

Attacks that need the real engine (another account's contract, "soy el admin" claims) are in
tests/e2e/test_card_numbers_e2e.py.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from bot.gateway import tokens
from bot.gateway.__main__ import PathOnlyAccessLogger
from bot.gateway.app import create_app
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import (
    ACCOUNT_SID,
    ANA_PHONE,
    JWT_SECRET,
    PUBLIC_URL,
    STATUS_PATH,
    WHATSAPP_FROM,
    WHATSAPP_PATH,
    FakeEngine,
    Gateway,
    StartGateway,
    inbound,
    incoming,
    make_settings,
    rows,
    sign,
    token_settings,
)
from tests.security.conftest import (
    ANA,
    CARLA,
    LUIS,
    MARIA,
    SECRETS,
    claims_of,
    counts,
    tampered,
    token_for,
    unsigned_token,
)

Check = Callable[[], Awaitable[None]]


@pytest.fixture
def nothing_stored(gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio) -> Check:
    """Assert that no request so far stored anything, asked the engine, or sent a WhatsApp message."""
    before = counts(gateway.settings.database_url)

    async def check() -> None:
        await gateway.settle()
        assert counts(gateway.settings.database_url) == before
        assert engine.received == []
        assert twilio.sent == []

    return check


async def body_of(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    for secret in SECRETS:
        assert secret not in text
    return json.loads(text) if response.content_type == "application/json" else text


def status_params(sid: str | None = None, status: str = "delivered") -> dict[str, str]:
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": WHATSAPP_FROM,
        "To": f"whatsapp:{ANA_PHONE}",
        "MessageStatus": status,
        "ApiVersion": "2010-04-01",
    }


# --- Twilio webhooks ------------------------------------------------------------------------------------
FORGERIES: dict[str, Callable[[str, dict[str, str]], str | None]] = {
    "no signature": lambda path, params: None,
    "empty signature": lambda path, params: "",
    "random signature": lambda path, params: base64.b64encode(uuid.uuid4().bytes + b"1234").decode(),
    "another auth token": lambda path, params: sign(path, params, token="another-twilio-auth-token"),
    "http instead of https": lambda path, params: sign(
        path, params, base=PUBLIC_URL.replace("https", "http")
    ),
    "another host": lambda path, params: sign(path, params, base="https://evil.example.com"),
    "a look-alike host": lambda path, params: sign(path, params, base=PUBLIC_URL + ".evil.example"),
    "the gateway's own address": lambda path, params: sign(path, params, base="http://127.0.0.1:8000"),
    "the other webhook": lambda path, params: sign(
        STATUS_PATH if path == WHATSAPP_PATH else WHATSAPP_PATH, params
    ),
    "another query string": lambda path, params: sign(path + "?from=twilio", params),
    "other field values": lambda path, params: sign(path, {**params, "Body": "otra cosa"}),
    "a field fewer": lambda path, params: sign(path, {k: v for k, v in params.items() if k != "To"}),
    "a field more": lambda path, params: sign(path, {**params, "Extra": "1"}),
    "lower case": lambda path, params: sign(path, params).lower(),
}


@pytest.mark.parametrize("path", [WHATSAPP_PATH, STATUS_PATH])
@pytest.mark.parametrize("how", list(FORGERIES))
async def test_a_forged_webhook_is_refused_and_stores_nothing(
    gateway: Gateway, nothing_stored: Check, path: str, how: str
) -> None:
    params = incoming("hola, dame el estado de la cuenta") if path == WHATSAPP_PATH else status_params()
    signature = FORGERIES[how](path, params)
    if signature is not None and signature == sign(path, params):
        pytest.skip("the variant happens to be the valid signature")
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = await gateway.client.post(path, data=params, headers=headers)
    assert response.status == 403
    assert "invalid signature" in await body_of(response)
    await nothing_stored()


async def test_a_webhook_resigned_for_a_spoofed_host_is_refused(
    gateway: Gateway, nothing_stored: Check
) -> None:
    """Signatures are checked against PUBLIC_URL, never the URL the request claims (Host, X-Forwarded-*)."""
    params = incoming("hola")
    evil = "https://evil.example.com"
    response = await gateway.client.post(
        WHATSAPP_PATH,
        data=params,
        headers={
            "X-Twilio-Signature": sign(WHATSAPP_PATH, params, base=evil),
            "Host": "evil.example.com",
            "X-Forwarded-Host": "evil.example.com",
            "X-Forwarded-Proto": "https",
            "Forwarded": "host=evil.example.com;proto=https",
        },
    )
    assert response.status == 403
    await nothing_stored()


async def test_a_replayed_webhook_is_processed_once(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    params = incoming("hola")
    signature = sign(WHATSAPP_PATH, params)
    for _ in range(3):  # Twilio's own retries, or an attacker replaying a captured request
        response = await gateway.webhook(params, signature=signature)
        assert response.status == 200
    await gateway.settle()
    assert len(inbound(gateway.settings.database_url)) == 1
    assert engine.messages == ["hola"]
    assert twilio.bodies == ["eco: hola"]


async def test_a_replay_with_other_fields_under_the_old_signature_is_refused(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    params = incoming("hola")
    signature = sign(WHATSAPP_PATH, params)
    assert (await gateway.webhook(params, signature=signature)).status == 200
    await gateway.settle()
    before = counts(gateway.settings.database_url)
    for changed in (
        {**params, "Body": "transfiere todo"},
        {**params, "MessageSid": "SM" + uuid.uuid4().hex},
        {**params, "From": "whatsapp:+5215520000003"},
    ):
        response = await gateway.webhook(changed, signature=signature)
        assert response.status == 403
    await gateway.settle()
    assert counts(gateway.settings.database_url) == before
    assert engine.messages == ["hola"]
    assert len(twilio.sent) == 1


async def test_the_same_message_sid_resigned_with_another_body_is_not_processed_again(
    gateway: Gateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    """Even a valid signature cannot make a MessageSid count twice, nor change what was stored for it."""
    params = incoming("hola")
    assert (await gateway.webhook(params)).status == 200
    await gateway.settle()
    again = {**params, "Body": "soy el admin de la cuenta 2"}
    assert (await gateway.webhook(again)).status == 200  # Twilio must not retry: acknowledged, ignored
    await gateway.settle()
    [stored] = inbound(gateway.settings.database_url)
    assert stored.text == "hola"
    assert engine.messages == ["hola"]
    assert len(twilio.sent) == 1


async def test_a_forged_status_callback_does_not_overwrite_a_stored_status(gateway: Gateway) -> None:
    params = status_params(status="delivered")
    assert (await gateway.webhook(params, path=STATUS_PATH)).status == 204
    forged = {**params, "MessageStatus": "failed", "ErrorCode": "63016"}
    response = await gateway.webhook(forged, path=STATUS_PATH, signature=sign(STATUS_PATH, params))
    assert response.status == 403
    [row] = rows(gateway.settings.database_url, "delivery_statuses")
    assert (row["status"], row["error_code"]) == ("delivered", None)


async def test_identity_fields_in_a_signed_form_are_not_believed(
    gateway: Gateway, engine: FakeEngine
) -> None:
    """A number that is not a verified user's carries no identity, whatever the form says."""
    params = incoming("estado de mi contrato", "+5215599999999", user_id="1", account_id="1", identity="1")
    assert (await gateway.webhook(params)).status == 200
    await gateway.settle()
    [payload] = engine.received
    assert payload["sender"] == "wa:+5215599999999"
    assert "identity" not in (payload.get("metadata") or {})


@pytest.mark.parametrize("path", [WHATSAPP_PATH, STATUS_PATH])
async def test_a_webhook_with_an_unreadable_form_is_a_400(
    gateway: Gateway, nothing_stored: Check, path: str
) -> None:
    for content_type, body in (
        ("application/x-www-form-urlencoded", b"Body=\xff\xfe&From=\xc3\x28"),
        ("application/x-www-form-urlencoded; charset=no-such-charset", b"Body=hola"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nnot a part"),
        ("multipart/form-data", b"no boundary at all"),
    ):
        response = await gateway.client.post(
            path, data=body, headers={"Content-Type": content_type, "X-Twilio-Signature": "x"}
        )
        assert response.status in (400, 403), (content_type, response.status)
    await nothing_stored()


# --- webchat tokens -------------------------------------------------------------------------------------
def _bad_tokens() -> dict[str, str]:
    valid = token_for(ANA)
    header, payload, signature = valid.split(".")
    return {
        "tampered account": tampered(valid, account_id=2),
        "tampered user": tampered(valid, sub="3"),
        "tampered profile": tampered(token_for(LUIS), profile="admin"),
        "tampered expiry": tampered(token_for(ANA, minutes=-5), exp=int(time.time()) + 3600),
        "signature of another token": f"{header}.{payload}.{token_for(MARIA).split('.')[2]}",
        "no signature": f"{header}.{payload}.",
        "truncated signature": f"{header}.{payload}.{signature[:-4]}",
        "expired": token_for(ANA, minutes=-1),
        "wrong secret": token_for(ANA, secret="another-secret-" + "x" * 48),
        "secret with a suffix": token_for(ANA, secret=JWT_SECRET + "x"),
        "alg none": unsigned_token(claims_of(ANA)),
        "alg None": unsigned_token(claims_of(ANA), "None"),
        "alg NONE": unsigned_token(claims_of(ANA), "NONE"),
        "alg HS256 without signature": unsigned_token(claims_of(ANA), "HS256"),
        "HS384 with the same secret": token_for(ANA, algorithm="HS384"),
        "HS512 with the same secret": token_for(ANA, algorithm="HS512"),
        "no expiry": jwt.encode(claims_of(ANA, exp=None), JWT_SECRET, algorithm="HS256"),
        "no subject": token_for(ANA, sub=None),
        "no account": token_for(ANA, account_id=None),
        "account as text": token_for(ANA, account_id="1"),
        "account as a boolean": token_for(ANA, account_id=True),
        "subject not a number": token_for(ANA, sub="ana"),
        "not yet valid": token_for(ANA, nbf=int(time.time()) + 3600),
        "an anonymous conversation cookie": tokens.new_conversation(token_settings())[1],
        "garbage": "not.a.token",
        "one part": "abc",
        "empty parts": "..",
        "json instead of a token": json.dumps(claims_of(ANA)),
    }


BAD_TOKENS = _bad_tokens()


def test_only_hs256_is_accepted() -> None:
    """tokens.verify pins HS256: the same claims under another HMAC algorithm and the same secret fail."""
    assert tokens.ALGORITHM == "HS256"
    assert tokens.verify(token_for(ANA), token_settings()).user_id == 1
    for algorithm in ("HS384", "HS512"):
        with pytest.raises(tokens.TokenError):
            tokens.verify(token_for(ANA, algorithm=algorithm), token_settings())


@pytest.mark.parametrize("how", list(BAD_TOKENS))
async def test_a_bad_token_is_refused_on_every_route(
    gateway: Gateway, nothing_stored: Check, how: str
) -> None:
    token = BAD_TOKENS[how]
    expected = "token_expired" if how == "expired" else "token_invalid"
    chat = await gateway.chat({"message": "estado del contrato ZCC-100001"}, token=token)
    assert chat.status == 401
    assert (await body_of(chat))["error"] == expected
    assert "Set-Cookie" not in chat.headers  # no anonymous conversation is opened instead
    events = await gateway.client.get("/api/chat/events", params={"access_token": token})
    try:
        assert events.status == 401
        assert (await body_of(events))["error"] == expected
    finally:
        events.close()
    for method, path in (
        ("GET", "/api/agent/queue"),
        ("GET", "/api/agent/handoffs/1"),
        ("POST", "/api/agent/handoffs/1/take"),
        ("GET", "/api/agent/events"),
    ):
        response = await gateway.client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        try:
            assert response.status == 401, (method, path)
            assert (await body_of(response))["error"] == expected
        finally:
            response.close()
    await nothing_stored()


@pytest.mark.parametrize(
    "header", ["Basic YW5hOnNlY3JldA==", "Bearer", "Bearer ", "Token abc", "bearer", "Bearer a b c"]
)
async def test_a_malformed_authorization_header_is_refused(
    gateway: Gateway, nothing_stored: Check, header: str
) -> None:
    response = await gateway.chat({"message": "hola"}, headers={"Authorization": header})
    assert response.status == 401
    await nothing_stored()


async def test_a_token_with_a_huge_payload_gets_a_4xx(gateway: Gateway, nothing_stored: Check) -> None:
    """Over the HTTP layer's header limit (8 KB): refused before any route runs."""
    huge = token_for(ANA, padding="x" * 20_000)
    chat = await gateway.chat({"message": "hola"}, token=huge)
    assert 400 <= chat.status < 500
    events = await gateway.client.get("/api/chat/events", params={"access_token": huge})
    assert 400 <= events.status < 500
    events.close()
    await nothing_stored()


async def test_a_valid_token_with_a_large_payload_is_accepted(gateway: Gateway, engine: FakeEngine) -> None:
    """Under the header limit, extra claims are ignored: the identity is still only sub and account_id."""
    token = token_for(ANA, padding="x" * 5_000, identity={"user_id": 3, "account_id": 2}, admin=True)
    response = await gateway.chat({"message": "hola"}, token=token)
    assert response.status == 200
    [payload] = engine.received
    assert payload["sender"] == "web:u:1"
    assert payload["metadata"]["identity"] == {"user_id": 1, "account_id": 1}


async def test_a_signed_token_with_out_of_range_ids_is_never_a_500(gateway: Gateway) -> None:
    """A host application's token naming ids no database can hold is refused, not a server error."""
    for changes in (
        {"sub": str(2**64)},
        {"sub": str(-(2**63) - 1)},
        {"account_id": 2**70},
        {"sub": "9" * 40},
    ):
        token = token_for(CARLA, **changes)
        for method, path in (("GET", "/api/agent/queue"), ("POST", "/api/agent/handoffs/1/take")):
            response = await gateway.client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}
            )
            assert 400 <= response.status < 500, (changes, path, response.status)
        chat = await gateway.chat({"message": "hola"}, token=token)
        assert chat.status < 500


@pytest.mark.parametrize("handoff_id", ["9223372036854775808", "-1", "0", "99999999999999999999999", "１"])
async def test_an_agent_asking_for_an_impossible_handoff_id_gets_a_4xx(
    gateway: Gateway, handoff_id: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(CARLA)}"}
    for method, suffix in (("GET", ""), ("POST", "/take"), ("POST", "/resolve")):
        response = await gateway.client.request(
            method, f"/api/agent/handoffs/{handoff_id}{suffix}", headers=headers
        )
        assert response.status in (404, 409), (method, suffix, response.status)
    reply = await gateway.client.post(
        f"/api/agent/handoffs/{handoff_id}/reply", json={"text": "hola"}, headers=headers
    )
    assert reply.status in (404, 409)


async def test_a_customer_or_admin_token_is_not_an_agent(gateway: Gateway) -> None:
    """The agent profile comes from the store: a token claiming it for a customer is refused."""
    for token in (token_for(ANA), token_for(ANA, profile="agent"), token_for(LUIS, profile="agent")):
        response = await gateway.client.get("/api/agent/queue", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 403
        assert (await body_of(response))["error"] == "not_an_agent"


async def test_a_forged_conversation_cookie_never_joins_another_conversation(
    gateway: Gateway, engine: FakeEngine
) -> None:
    first = await gateway.chat({"message": "hola"})
    cookie = first.cookies["zcc_conversation"].value
    victim = engine.received[0]["sender"]
    conversation = victim.removeprefix("web:a:")
    for forged in (
        jwt.encode(
            {"cid": conversation, "typ": "anon-conversation"},
            "a-guessed-secret-" + "0123456789abcdef" * 2,
            algorithm="HS256",
        ),
        unsigned_token({"cid": conversation, "typ": "anon-conversation"}),
        tampered(cookie, cid=conversation + "x"),
        token_for(ANA),  # a sign-in token is not a conversation cookie
    ):
        response = await gateway.chat({"message": "hola"}, cookie=forged)
        assert response.status == 200
        assert engine.received[-1]["sender"] not in (victim, "web:u:1")
        assert engine.received[-1].get("metadata", {}).get("identity") is None


# --- bodies ---------------------------------------------------------------------------------------------
async def test_bodies_over_the_limit_get_a_413_and_store_nothing(
    start_gateway: StartGateway, engine: FakeEngine, twilio: FakeTwilio
) -> None:
    gateway = await start_gateway(dev_mode=True)
    before = counts(gateway.settings.database_url)
    limit = gateway.settings.max_body_bytes
    agent = {"Authorization": f"Bearer {token_for(CARLA)}"}
    big_json = json.dumps({"message": "a" * limit}).encode()
    for path, data, headers in (
        ("/api/chat", big_json, {"Content-Type": "application/json"}),
        (
            "/api/chat",
            big_json,
            {"Content-Type": "application/json", "Authorization": f"Bearer {token_for(ANA)}"},
        ),
        ("/api/dev/token", json.dumps({"email": "a" * limit}).encode(), {"Content-Type": "application/json"}),
        ("/api/agent/handoffs/1/reply", json.dumps({"text": "a" * limit}).encode(), agent),
        (WHATSAPP_PATH, incoming("a" * limit), {}),
        (STATUS_PATH, {**status_params(), "Padding": "a" * limit}, {}),
    ):
        if isinstance(data, dict):
            headers = {"X-Twilio-Signature": sign(path, data)}
        response = await gateway.client.post(path, data=data, headers=headers)
        assert response.status == 413, (path, response.status)
        if path.startswith("/api/"):
            assert (await body_of(response))["error"] == "request_too_large"
    await gateway.settle()
    assert counts(gateway.settings.database_url) == before
    assert engine.received == [] and twilio.sent == []


async def test_a_message_over_the_character_limit_is_refused_before_it_is_stored(
    gateway: Gateway, nothing_stored: Check
) -> None:
    response = await gateway.chat({"message": "a" * (gateway.settings.max_message_chars + 1)})
    assert response.status == 413
    assert (await body_of(response))["error"] == "message_too_long"
    await nothing_stored()


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "not json": b"hola",
    "truncated": b'{"message": "hola"',
    "a list": b'["hola"]',
    "a string": b'"hola"',
    "null": b"null",
    "a number": b"5",
    "message missing": b'{"text": "hola"}',
    "message a number": b'{"message": 5}',
    "message a list": b'{"message": ["hola"]}',
    "message an object": b'{"message": {"text": "hola"}}',
    "message null": b'{"message": null}',
    "id a number": b'{"message": "hola", "id": 5}',
    "id with a slash": b'{"message": "hola", "id": "../../x"}',
    "id too long": json.dumps({"message": "hola", "id": "a" * 65}).encode(),
    "invalid UTF-8": b'{"message": "hola \xff\xfe"}',
    "invalid UTF-8 continuation": b'{"message": "\xc3\x28"}',
    "lone surrogate escaped": b'{"message": "\\ud800"}',
    "UTF-16": '{"message": "hola"}'.encode("utf-16"),
    "NaN": b'{"message": NaN}',
    "deeply nested": b'{"message": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "only whitespace": b'{"message": "   \\n\\t "}',
    "only control characters": b'{"message": "\\u0000\\u0001\\u001f"}',
}


@pytest.mark.parametrize("how", list(MALFORMED))
async def test_a_malformed_chat_body_is_a_400_that_stores_nothing(
    gateway: Gateway, nothing_stored: Check, how: str
) -> None:
    for token in (None, token_for(ANA)):
        response = await gateway.chat(MALFORMED[how], token=token)
        assert response.status == 400, (how, response.status)
        answer = await body_of(response)
        assert answer["error"] in ("malformed_request", "empty_message")
        assert answer["message"]  # Spanish, for the user
    await nothing_stored()


@pytest.mark.parametrize("how", ["empty", "not json", "invalid UTF-8", "message a number"])
async def test_malformed_bodies_elsewhere_are_400s(start_gateway: StartGateway, how: str) -> None:
    gateway = await start_gateway(dev_mode=True)
    body = MALFORMED[how].replace(b'"message"', b'"email"').replace(b'"text"', b'"x"')
    token = await gateway.client.post(
        "/api/dev/token", data=body, headers={"Content-Type": "application/json"}
    )
    assert token.status == 400
    reply = await gateway.client.post(
        "/api/agent/handoffs/1/reply",
        data=MALFORMED[how].replace(b'"message"', b'"text"'),
        headers={"Authorization": f"Bearer {token_for(CARLA)}", "Content-Type": "application/json"},
    )
    assert reply.status == 400


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "x-unknown"])
async def test_a_body_that_cannot_be_decoded_is_a_400(
    gateway: Gateway, nothing_stored: Check, encoding: str
) -> None:
    for path in ("/api/chat", WHATSAPP_PATH):
        try:
            response = await gateway.client.post(
                path,
                data=b"\x00\x01not compressed",
                headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
            )
        except aiohttp.ServerDisconnectedError:
            continue  # refused by the HTTP layer while the body was still being sent
        # An unknown coding is not decoded: the raw bytes are then just a malformed JSON body or form.
        refusals = (400, 403) if encoding == "x-unknown" and path == WHATSAPP_PATH else (400,)
        assert response.status in refusals, (path, encoding, response.status)
    await nothing_stored()


async def test_a_path_outside_the_static_folder_is_never_served(gateway: Gateway) -> None:
    for path in (
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/%2e%2e/settings.py",
        "/static/..%5capp.py",
        "/static/./../../../../etc/passwd",
    ):
        response = await gateway.client.get(path)
        body = await response.read()
        assert response.status in (403, 404), (path, response.status)
        assert b"create_app" not in body and b"root:" not in body


async def test_the_access_token_in_a_query_string_is_not_logged(
    aiohttp_client: Any,
    database_url: str,
    engine: FakeEngine,
    twilio: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The event streams take the token in the query string: the access log (the production one) and the
    gateway's own logs never repeat it."""
    caplog.set_level("DEBUG")
    server = TestServer(create_app(make_settings(database_url, engine.url, twilio.base_url)))
    await server.start_server(access_log_class=PathOnlyAccessLogger)  # as `python -m bot.gateway` runs it
    client = await aiohttp_client(server, cookie_jar=aiohttp.DummyCookieJar())
    token = token_for(ANA)
    response = await client.get("/api/chat/events", params={"access_token": token})
    assert response.status == 200
    response.close()
    refused = await client.get("/api/agent/queue", params={"access_token": token})
    assert refused.status == 403
    expired = await client.get("/api/agent/events", params={"access_token": token_for(ANA, minutes=-1)})
    assert expired.status == 401
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/api/agent/queue" in line for line in access)
    leaked = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("bot", "aiohttp")) and "eyJ" in r.getMessage()
    ]
    assert leaked == []
