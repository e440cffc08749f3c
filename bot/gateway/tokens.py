"""Signed webchat tokens (JWT HS256, issued by the host application) and anonymous conversation ids."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from bot.settings import Settings

ALGORITHM = "HS256"
ANONYMOUS_TYPE = "anon-conversation"


class TokenError(Exception):
    """A token that must be refused, with the code and the Spanish message the client gets."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class WebUser:
    """The verified claims of a signed-in webchat user."""

    user_id: int
    account_id: int
    profile: str
    name: str | None = None

    def metadata(self) -> dict[str, Any]:
        """The identity metadata the engine's actions read."""
        return {"identity": {"user_id": self.user_id, "account_id": self.account_id}}


def verify(token: str, settings: Settings) -> WebUser:
    """Verify signature, expiry and claims; raise TokenError with a clear reason otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "account_id", "profile"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenError("token_expired", "Tu sesión expiró. Vuelve a iniciar sesión.") from error
    except jwt.PyJWTError as error:
        raise TokenError(
            "token_invalid", "No pudimos verificar tu sesión. Vuelve a iniciar sesión."
        ) from error
    try:
        return WebUser(
            user_id=_database_id(int(claims["sub"])),
            account_id=_database_id(_strict_int(claims["account_id"])),
            profile=str(claims["profile"]),
            name=claims.get("name"),
        )
    except (TypeError, ValueError) as error:
        raise TokenError(
            "token_invalid", "No pudimos verificar tu sesión. Vuelve a iniciar sesión."
        ) from error


def _database_id(value: int) -> int:
    """An id a database row can have (a 64-bit integer: larger ones make the store raise, not miss)."""
    if not -(2**63) <= value < 2**63:
        raise ValueError("id out of range")
    return value


def _strict_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer claim")
    return value


def mint(
    user_id: int, account_id: int, profile: str, name: str | None, settings: Settings, minutes: int
) -> str:
    """A token like the host application issues (development mode, scripts and tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "account_id": account_id,
        "profile": profile,
        "iat": now,
        "exp": now + minutes * 60,
    }
    if name:
        claims["name"] = name
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def new_conversation(settings: Settings) -> tuple[str, str]:
    """A fresh anonymous conversation id and its signed cookie value."""
    conversation = secrets.token_urlsafe(18)
    cookie = jwt.encode(
        {"cid": conversation, "typ": ANONYMOUS_TYPE}, settings.jwt_secret, algorithm=ALGORITHM
    )
    return conversation, cookie


def read_conversation(cookie: str | None, settings: Settings) -> str | None:
    """The anonymous conversation id in a cookie the gateway signed, or None."""
    if not cookie:
        return None
    try:
        claims = jwt.decode(cookie, settings.jwt_secret, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        return None
    conversation = claims.get("cid")
    if claims.get("typ") != ANONYMOUS_TYPE or not isinstance(conversation, str):
        return None
    return conversation
