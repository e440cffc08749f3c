"""The webchat page and its JSON API, against a fake engine and a real SQLite store."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import jwt
import pytest

from bot.answers.notices import RATE_LIMITED as RATE_LIMIT_MESSAGE
from bot.gateway import tokens
from bot.gateway.channels.webchat import COOKIE
from tests.gateway.conftest import JWT_SECRET, FakeEngine, Gateway, StartGateway, inbound, token_settings

IDENTITY_1 = {"identity": {"user_id": 1, "account_id": 1}}


def cookie_of(response: aiohttp.ClientResponse) -> str:
    """The conversation cookie the gateway set."""
    morsel = response.cookies.get(COOKIE)
    assert morsel is not None, "no conversation cookie was set"
    return morsel.value


def token_for(user_id: int = 1, account_id: int = 1, profile: str = "admin", minutes: int = 10) -> str:
    """A token like the host application issues, signed with the gateway's secret."""
    return tokens.mint(user_id, account_id, profile, "Ana Torres", token_settings(), minutes)


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims of user 1, with changes (None removes a claim)."""
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "1",
        "account_id": 1,
        "profile": "admin",
        "iat": now,
        "exp": now + 600,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def flip(token: str, part: int) -> str:
    """The token with one character of one of its three parts changed."""
    pieces = token.split(".")
    middle = len(pieces[part]) // 2
    char = pieces[part][middle]
    pieces[part] = pieces[part][:middle] + ("A" if char != "A" else "B") + pieces[part][middle + 1 :]
    return ".".join(pieces)


async def error_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The JSON error body; also checks it is JSON with a message."""
    assert response.content_type == "application/json"
    body = await response.json()
    assert isinstance(body, dict)
    assert isinstance(body.get("message"), str) and body["message"]
    return body


# --- the page -------------------------------------------------------------------------------------------
async def test_the_page_is_served(gateway: Gateway) -> None:
    response = await gateway.client.get("/")
    assert response.status == 200
    assert "text/html" in response.headers["Content-Type"]
    assert "Asistente de planes" in await response.text()
    script = await gateway.client.get("/static/app.js")
    assert script.status == 200


@pytest.mark.parametrize(("path", "own"), [("/", "app"), ("/agent", "agent")])
async def test_each_page_loads_the_shared_files_before_its_own(gateway: Gateway, path: str, own: str) -> None:
    page = await (await gateway.client.get(path)).text()
    # common.css / common.js (shared by the webchat and the agent console) come first, all are served.
    assets = ["/static/common.css", f"/static/{own}.css", "/static/common.js", f"/static/{own}.js"]
    assert sorted(assets, key=page.index) == assets
    for asset in assets:
        assert (await gateway.client.get(asset)).status == 200


@pytest.mark.parametrize(
    ("path", "own"), [("/agent", "agent"), ("/insights", "insights"), ("/insights/review", "review")]
)
async def test_each_staff_page_loads_the_consoles_shared_script_between_common_and_its_own(
    gateway: Gateway, path: str, own: str
) -> None:
    page = await (await gateway.client.get(path)).text()
    # console.js (sign-in, token, development panel) needs common.js, and the page's own script needs it.
    scripts = ["/static/common.js", "/static/console.js", f"/static/{own}.js"]
    assert sorted(scripts, key=page.index) == scripts
    assert (await gateway.client.get("/static/console.js")).status == 200


# --- anonymous conversations ----------------------------------------------------------------------------
async def test_anonymous_message_sets_a_signed_cookie_and_returns_the_engine_answer(
    gateway: Gateway, engine: FakeEngine
) -> None:
    response = await gateway.chat({"message": "  hola  "})
    assert response.status == 200
    messages = await response.json()
    sender = engine.received[0]["sender"]
    assert messages == [{"recipient_id": sender, "text": "eco: hola"}]
    assert engine.received == [{"sender": sender, "message": "hola", "metadata": {}}]
    assert sender.startswith("web:a:")

    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["secure"] is True  # the public URL is https
    assert morsel["samesite"] == "Lax"
    # The cookie is signed by the gateway and names exactly this conversation.
    assert tokens.read_conversation(morsel.value, gateway.settings) == sender.removeprefix("web:a:")


async def test_the_same_cookie_keeps_the_same_conversation(gateway: Gateway, engine: FakeEngine) -> None:
    first = await gateway.chat({"message": "uno"})
    cookie = cookie_of(first)
    second = await gateway.chat({"message": "dos"}, cookie=cookie)
    assert second.status == 200
    assert COOKIE not in second.cookies  # no new conversation
    other = await gateway.chat({"message": "tres"})  # no cookie: another visitor
    senders = [p["sender"] for p in engine.received]
    assert senders[0] == senders[1]
    assert senders[2] != senders[0]
    assert cookie_of(other) != cookie


@pytest.mark.parametrize("forgery", ["other_secret", "tampered", "alg_none", "login_token", "garbage"])
async def test_a_forged_cookie_gets_a_new_conversation_never_someone_elses(
    gateway: Gateway, engine: FakeEngine, forgery: str
) -> None:
    victim = await gateway.chat({"message": "soy la víctima"})
    victim_cookie = cookie_of(victim)
    victim_sender = engine.received[0]["sender"]
    victim_cid = victim_sender.removeprefix("web:a:")
    forged = {
        "other_secret": jwt.encode(
            {"cid": victim_cid, "typ": tokens.ANONYMOUS_TYPE}, "x" * 40, algorithm="HS256"
        ),
        "tampered": flip(victim_cookie, 1),
        "alg_none": jwt.encode({"cid": victim_cid, "typ": tokens.ANONYMOUS_TYPE}, None, algorithm="none"),
        # A sign-in token is signed with the same secret, but it is not a conversation cookie.
        "login_token": token_for(),
        "garbage": "not-a-token",
    }[forgery]

    response = await gateway.chat({"message": "hola"}, cookie=forged)

    assert response.status == 200
    sender = engine.received[1]["sender"]
    assert sender.startswith("web:a:")
    assert sender != victim_sender
    assert engine.received[1]["metadata"] == {}
    new_cookie = cookie_of(response)
    assert tokens.read_conversation(new_cookie, gateway.settings) == sender.removeprefix("web:a:")


# --- signed-in users ------------------------------------------------------------------------------------
async def test_a_signed_in_user_is_identified_by_the_token_only(gateway: Gateway, engine: FakeEngine) -> None:
    response = await gateway.chat(
        {"message": "mis contratos", "sender": "web:u:2", "metadata": {"identity": {"user_id": 2}}},
        token=token_for(),
    )
    assert response.status == 200
    assert await response.json() == [{"recipient_id": "web:u:1", "text": "eco: mis contratos"}]
    assert engine.received == [{"sender": "web:u:1", "message": "mis contratos", "metadata": IDENTITY_1}]
    assert COOKIE not in response.cookies  # signed-in users need no anonymous conversation


async def test_an_anonymous_client_cannot_choose_its_sender_or_identity(
    gateway: Gateway, engine: FakeEngine
) -> None:
    response = await gateway.chat(
        {"message": "hola", "sender": "web:u:1", "metadata": {"identity": {"user_id": 1, "account_id": 1}}}
    )
    assert response.status == 200
    assert engine.received[0]["sender"].startswith("web:a:")
    assert engine.received[0]["metadata"] == {}


async def test_an_expired_token_is_refused(gateway: Gateway, engine: FakeEngine) -> None:
    response = await gateway.chat({"message": "hola"}, token=token_for(minutes=-1))
    assert response.status == 401
    body = await error_of(response)
    assert body["error"] == "token_expired"
    assert "expiró" in body["message"]
    assert engine.received == []


@pytest.mark.parametrize(
    "bad_token",
    [
        pytest.param(lambda: flip(token_for(), 2), id="tampered_signature"),
        pytest.param(lambda: flip(token_for(), 1), id="tampered_claims"),
        pytest.param(lambda: jwt.encode(claims(), "y" * 40, algorithm="HS256"), id="wrong_secret"),
        pytest.param(lambda: jwt.encode(claims(), None, algorithm="none"), id="alg_none"),
        pytest.param(lambda: jwt.encode(claims(), JWT_SECRET, algorithm="HS512"), id="other_algorithm"),
        pytest.param(
            lambda: jwt.encode(claims(account_id=None), JWT_SECRET, algorithm="HS256"), id="no_account"
        ),
        pytest.param(
            lambda: jwt.encode(claims(account_id="1"), JWT_SECRET, algorithm="HS256"), id="str_account"
        ),
        pytest.param(lambda: jwt.encode(claims(exp=None), JWT_SECRET, algorithm="HS256"), id="no_expiry"),
        pytest.param(lambda: jwt.encode(claims(sub="ana"), JWT_SECRET, algorithm="HS256"), id="bad_subject"),
        pytest.param(lambda: "not.a.token", id="garbage"),
    ],
)
async def test_an_invalid_token_is_refused(gateway: Gateway, engine: FakeEngine, bad_token: Any) -> None:
    response = await gateway.chat({"message": "hola"}, token=bad_token())
    assert response.status == 401
    body = await error_of(response)
    assert body["error"] == "token_invalid"
    assert "sesión" in body["message"]
    assert engine.received == []
    assert inbound(gateway.settings.database_url) == []


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc"])
async def test_a_malformed_authorization_header_is_refused(
    gateway: Gateway, engine: FakeEngine, header: str
) -> None:
    response = await gateway.chat({"message": "hola"}, headers={"Authorization": header})
    assert response.status == 401
    assert (await error_of(response))["error"] == "token_invalid"
    assert engine.received == []


# --- bad requests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"message": "hola"', "application/json", id="malformed_json"),
        pytest.param(b"{}", "application/json", id="missing_message"),
        pytest.param(b'{"message": 42}', "application/json", id="number_message"),
        pytest.param(b'{"message": ["hola"]}', "application/json", id="list_message"),
        pytest.param(b'{"message": null}', "application/json", id="null_message"),
        pytest.param(b'["hola"]', "application/json", id="not_an_object"),
        pytest.param(b"message=hola", "application/x-www-form-urlencoded", id="form_body"),
        pytest.param(b"", "application/json", id="empty_body"),
        pytest.param(b'{"message": "\xff\xfe"}', "application/json", id="not_utf8"),
        pytest.param(b'{"message": "hola", "id": "no spaces allowed"}', "application/json", id="bad_id"),
    ],
)
async def test_a_bad_request_gets_a_spanish_400(
    gateway: Gateway, engine: FakeEngine, body: bytes, content_type: str
) -> None:
    response = await gateway.chat(body, headers={"Content-Type": content_type})
    assert response.status == 400
    error = await error_of(response)
    assert error["error"] == "malformed_request"
    assert "solicitud no es válida" in error["message"].lower()
    assert engine.received == []


@pytest.mark.parametrize("message", ["", "   ", "\n\t "])
async def test_an_empty_message_gets_a_400(gateway: Gateway, engine: FakeEngine, message: str) -> None:
    response = await gateway.chat({"message": message})
    assert response.status == 400
    body = await error_of(response)
    assert body["error"] == "empty_message"
    assert "texto" in body["message"]
    assert engine.received == []


async def test_a_message_over_the_limit_gets_a_413(gateway: Gateway, engine: FakeEngine) -> None:
    limit = gateway.settings.max_message_chars
    at_limit = await gateway.chat({"message": "a" * limit})
    assert at_limit.status == 200
    response = await gateway.chat({"message": "a" * (limit + 1)})
    assert response.status == 413
    body = await error_of(response)
    assert body["error"] == "message_too_long"
    assert str(limit) in body["message"]
    assert len(engine.received) == 1


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024])
async def test_a_body_over_the_limit_gets_a_413_never_a_500(
    gateway: Gateway, engine: FakeEngine, size: int
) -> None:
    body = b'{"message": "' + b"a" * size + b'"}'
    response = await gateway.chat(body)
    assert response.status == 413
    error = await error_of(response)
    assert error["error"] == "request_too_large"
    assert engine.received == []


async def test_a_flooding_sender_is_rate_limited(start_gateway: StartGateway, engine: FakeEngine) -> None:
    gateway = await start_gateway(rate_limit_burst=3, rate_limit_per_second=0.001)
    token = token_for()
    statuses = [(await gateway.chat({"message": f"m{i}"}, token=token)).status for i in range(3)]
    assert statuses == [200, 200, 200]
    limited = await gateway.chat({"message": "otra"}, token=token)
    assert limited.status == 429
    body = await error_of(limited)
    assert body["error"] == "rate_limited"
    assert body["message"] == RATE_LIMIT_MESSAGE
    assert engine.messages == ["m0", "m1", "m2"]
    # Another sender has its own allowance.
    other = await gateway.chat({"message": "hola"}, token=token_for(user_id=2, profile="member"))
    assert other.status == 200


# --- engine failures and retries ------------------------------------------------------------------------
@pytest.mark.parametrize("failure", ["down", "slow"])
async def test_a_message_sent_while_the_engine_is_unavailable_is_answered_later(
    gateway: Gateway, engine: FakeEngine, failure: str
) -> None:
    engine.mode = failure
    token = token_for()
    response = await gateway.chat({"message": "hola", "id": "msg-1"}, token=token)
    assert response.status == 503
    body = await error_of(response)
    assert body["error"] == "engine_unavailable"
    assert body["queued"] is True
    assert "Guardamos tu mensaje" in body["message"]
    received = len(engine.received)
    assert received == 1
    [stored] = inbound(gateway.settings.database_url)
    assert (stored.status, stored.text) == ("pending", "hola")

    engine.mode = "ok"
    assert await gateway.pipeline.retry_pending() == 1
    assert len(engine.received) == received + 1
    assert engine.received[-1] == {"sender": "web:u:1", "message": "hola", "metadata": IDENTITY_1}

    again = await gateway.chat({"message": "hola", "id": "msg-1"}, token=token)
    assert again.status == 200
    assert await again.json() == [{"recipient_id": "web:u:1", "text": "eco: hola"}]
    assert len(engine.received) == received + 1
    assert await gateway.pipeline.retry_pending() == 0


async def test_a_repeated_id_gets_the_stored_answer_without_asking_the_engine_again(
    gateway: Gateway, engine: FakeEngine
) -> None:
    first = await gateway.chat({"message": "hola", "id": "abc-1"})
    cookie = cookie_of(first)
    answer = await first.json()
    again = await gateway.chat({"message": "hola", "id": "abc-1"}, cookie=cookie)
    assert again.status == 200
    assert await again.json() == answer
    assert len(engine.received) == 1


async def test_someone_elses_message_id_never_returns_their_answer(
    gateway: Gateway, engine: FakeEngine
) -> None:
    mine = await gateway.chat({"message": "mi secreto", "id": "shared-id"}, token=token_for())
    assert mine.status == 200
    theirs = await gateway.chat({"message": "hola", "id": "shared-id"})  # an anonymous visitor
    assert theirs.status == 409
    body = await error_of(theirs)
    assert body["error"] == "duplicate_id"
    assert "mi secreto" not in await theirs.text()
    assert len(engine.received) == 1


# --- development sign-in --------------------------------------------------------------------------------
async def test_the_development_endpoints_do_not_exist_outside_development_mode(gateway: Gateway) -> None:
    assert gateway.settings.dev_mode is False
    users = await gateway.client.get("/api/dev/users")
    assert users.status == 404
    minted = await gateway.client.post("/api/dev/token", json={"email": "ana.torres@andina.example"})
    assert minted.status == 404
    assert "token" not in await minted.json()


async def test_development_mode_lists_demo_users_and_mints_their_tokens(
    start_gateway: StartGateway, engine: FakeEngine
) -> None:
    gateway = await start_gateway(dev_mode=True)
    users = await gateway.client.get("/api/dev/users")
    assert users.status == 200
    listed = await users.json()
    ana = {"email": "ana.torres@andina.example", "name": "Ana Torres", "profile": "admin", "account": 1}
    assert ana in listed
    assert {u["account"] for u in listed} <= {1, 2, 3, 4}

    minted = await gateway.client.post("/api/dev/token", json={"email": "ana.torres@andina.example"})
    assert minted.status == 200
    token = (await minted.json())["token"]
    user = tokens.verify(token, gateway.settings)
    assert (user.user_id, user.account_id, user.profile) == (1, 1, "admin")

    chat = await gateway.chat({"message": "hola"}, token=token)
    assert chat.status == 200
    assert engine.received == [{"sender": "web:u:1", "message": "hola", "metadata": IDENTITY_1}]


async def test_development_mode_refuses_an_unknown_email(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(dev_mode=True)
    response = await gateway.client.post("/api/dev/token", json={"email": "nadie@example.com"})
    assert response.status == 404
    body = await error_of(response)
    assert body["error"] == "unknown_user"
    assert "token" not in body
    missing = await gateway.client.post("/api/dev/token", json={})
    assert missing.status == 400


async def test_another_method_gets_a_json_405(gateway: Gateway, engine: FakeEngine) -> None:
    response = await gateway.client.get("/api/chat")
    assert response.status == 405
    assert (await error_of(response))["error"] == "method_not_allowed"
    assert engine.received == []
