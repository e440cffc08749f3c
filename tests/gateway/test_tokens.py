"""Webchat sign-in tokens and anonymous conversation cookies."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from bot.gateway import tokens
from bot.gateway.tokens import TokenError, WebUser
from tests.gateway.conftest import JWT_SECRET, token_settings

SETTINGS = token_settings()


def encode(claims: dict[str, Any], key: str | None = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def valid_claims(**changes: Any) -> dict[str, Any]:
    """Claims of user 1 in account 1, valid for ten minutes; a change to None removes the claim."""
    now = int(time.time())
    values: dict[str, Any] = {"sub": "1", "account_id": 1, "profile": "admin", "iat": now, "exp": now + 600}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def refusal(token: str, settings: Any = SETTINGS) -> str:
    """The code verify() refuses the token with."""
    with pytest.raises(TokenError) as refused:
        tokens.verify(token, settings)
    assert refused.value.message  # a Spanish message for the user
    return refused.value.code


# --- sign-in tokens -------------------------------------------------------------------------------------
def test_a_minted_token_verifies_to_its_user() -> None:
    token = tokens.mint(1, 1, "admin", "Ana Torres", SETTINGS, minutes=5)
    user = tokens.verify(token, SETTINGS)
    assert user == WebUser(user_id=1, account_id=1, profile="admin", name="Ana Torres")
    assert user.metadata() == {"identity": {"user_id": 1, "account_id": 1}}
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "1"
    assert claims["account_id"] == 1
    assert 5 * 60 - 5 <= claims["exp"] - time.time() <= 5 * 60
    assert "iss" not in claims


def test_a_token_from_the_host_application_verifies() -> None:
    user = tokens.verify(encode(valid_claims(sub="2", account_id=1, profile="member")), SETTINGS)
    assert (user.user_id, user.account_id, user.profile, user.name) == (2, 1, "member", None)


def test_an_expired_token_is_refused_as_expired() -> None:
    assert refusal(tokens.mint(1, 1, "admin", None, SETTINGS, minutes=-1)) == "token_expired"
    expired = encode(valid_claims(exp=int(time.time()) - 1))
    assert refusal(expired) == "token_expired"


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(valid_claims(account_id="1"), id="account_id_string"),
        pytest.param(valid_claims(account_id=1.0), id="account_id_float"),
        pytest.param(valid_claims(account_id=True), id="account_id_bool"),
        pytest.param(valid_claims(account_id=[1]), id="account_id_list"),
        pytest.param(valid_claims(account_id=None), id="account_id_missing"),
        pytest.param(valid_claims(sub=None), id="sub_missing"),
        pytest.param(valid_claims(sub="ana"), id="sub_not_a_number"),
        pytest.param(valid_claims(sub=1), id="sub_not_a_string"),
        pytest.param(valid_claims(profile=None), id="profile_missing"),
        pytest.param(valid_claims(exp=None), id="exp_missing"),
        pytest.param(valid_claims(exp="tomorrow"), id="exp_not_a_number"),
        pytest.param(valid_claims(iat=int(time.time()) + 3600), id="issued_in_the_future"),
    ],
)
def test_a_token_with_wrong_claims_is_refused(claims: dict[str, Any]) -> None:
    assert refusal(encode(claims)) == "token_invalid"


def test_a_token_signed_otherwise_is_refused() -> None:
    good = encode(valid_claims())
    header, payload, signature = good.split(".")
    assert refusal(encode(valid_claims(), key="another-secret-" + "z" * 40)) == "token_invalid"
    assert refusal(encode(valid_claims(), key=None, algorithm="none")) == "token_invalid"
    assert refusal(f"{header}.{payload}.") == "token_invalid"  # signature stripped
    assert refusal(encode(valid_claims(), key=JWT_SECRET * 2, algorithm="HS512")) == "token_invalid"
    # The claims of another user under this token's signature.
    other = encode(valid_claims(sub="2")).split(".")[1]
    assert refusal(f"{header}.{other}.{signature}") == "token_invalid"
    for garbage in ("", "abc", "a.b.c", good + "x"):
        assert refusal(garbage) == "token_invalid"


def test_the_issuer_is_checked_when_configured() -> None:
    settings = token_settings(jwt_issuer="https://app.example.com")
    minted = tokens.mint(1, 1, "admin", None, settings, minutes=5)
    assert tokens.verify(minted, settings).user_id == 1
    assert refusal(encode(valid_claims()), settings) == "token_invalid"
    assert refusal(encode(valid_claims(iss="https://evil.example.com")), settings) == "token_invalid"


# --- anonymous conversations ----------------------------------------------------------------------------
def test_a_new_conversation_reads_back_from_its_cookie() -> None:
    conversation, cookie = tokens.new_conversation(SETTINGS)
    assert tokens.read_conversation(cookie, SETTINGS) == conversation
    assert len(conversation) >= 20
    another, another_cookie = tokens.new_conversation(SETTINGS)
    assert another != conversation
    assert another_cookie != cookie


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param(encode({"cid": "abc", "typ": tokens.ANONYMOUS_TYPE}, key="x" * 40), id="other_secret"),
        pytest.param(
            encode({"cid": "abc", "typ": tokens.ANONYMOUS_TYPE}, key=None, algorithm="none"), id="none_alg"
        ),
        pytest.param(encode({"cid": "abc"}), id="no_type"),
        pytest.param(encode({"cid": "abc", "typ": "something-else"}), id="other_type"),
        pytest.param(encode({"cid": 123, "typ": tokens.ANONYMOUS_TYPE}), id="cid_not_a_string"),
        pytest.param(encode({"typ": tokens.ANONYMOUS_TYPE}), id="no_cid"),
        pytest.param(encode(valid_claims()), id="a_sign_in_token"),
    ],
)
def test_a_cookie_the_gateway_did_not_sign_names_no_conversation(cookie: str | None) -> None:
    assert tokens.read_conversation(cookie, SETTINGS) is None


def test_a_tampered_cookie_names_no_conversation() -> None:
    _, cookie = tokens.new_conversation(SETTINGS)
    header, _payload, signature = cookie.split(".")
    _, other = tokens.new_conversation(SETTINGS)
    assert tokens.read_conversation(f"{header}.{other.split('.')[1]}.{signature}", SETTINGS) is None
    assert tokens.read_conversation(cookie, token_settings(jwt_secret="another-secret-" + "q" * 40)) is None


def test_a_conversation_cookie_is_not_a_sign_in_token() -> None:
    _, cookie = tokens.new_conversation(SETTINGS)
    assert refusal(cookie) == "token_invalid"
