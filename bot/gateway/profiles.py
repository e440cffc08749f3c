"""Who may use a staff API: a user of one profile (agent, supervisor), signed in with a token
(`Authorization: Bearer …`). The agent console and the supervisors' pages share this guard."""

from __future__ import annotations

from aiohttp import web

from bot.gateway import tokens
from bot.gateway.channels.webchat import bearer
from bot.gateway.errors import ApiError
from bot.gateway.keys import SETTINGS, USERS
from bot.gateway.tokens import TokenError, WebUser


async def require_profile(request: web.Request, profile: str, refusal: str, message: str) -> WebUser:
    """The verified user of `profile` making the request: 401 without a valid token, 403 (`refusal`,
    `message`) for any other profile.

    The profile is checked both in the token and in the store, so a demoted user's old token stops working.
    """
    token = bearer(request)
    if token is None:
        raise ApiError(401, "not_signed_in", message)
    try:
        user = tokens.verify(token, request.app[SETTINGS])
    except TokenError as failure:
        raise ApiError(401, failure.code, failure.message) from failure
    stored = await request.app[USERS].by_id(user.user_id)
    if stored is None or stored.profile != profile or user.profile != profile:
        raise ApiError(403, refusal, message)
    return WebUser(stored.id, stored.account_id, stored.profile, stored.name)
