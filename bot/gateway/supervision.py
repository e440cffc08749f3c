"""Who may read the support team's insights (and review what the assistant did not understand): the
supervisor profile, signed in like agents (a signed token, `Authorization: Bearer …`)."""

from __future__ import annotations

from aiohttp import web

from bot.gateway import tokens
from bot.gateway.channels.webchat import bearer
from bot.gateway.errors import ApiError
from bot.gateway.keys import SETTINGS, USERS
from bot.gateway.tokens import TokenError, WebUser

SUPERVISOR = "supervisor"
NOT_SUPERVISOR = "Necesitas iniciar sesión con un perfil de supervisor."


async def require_supervisor(request: web.Request) -> WebUser:
    """The verified supervisor making the request: 401 without a valid token, 403 for any other profile.

    The profile is checked both in the token and in the store, so a demoted user's old token stops working.
    """
    token = bearer(request)
    if token is None:
        raise ApiError(401, "not_signed_in", NOT_SUPERVISOR)
    try:
        user = tokens.verify(token, request.app[SETTINGS])
    except TokenError as failure:
        raise ApiError(401, failure.code, failure.message) from failure
    stored = await request.app[USERS].by_id(user.user_id)
    if stored is None or stored.profile != SUPERVISOR or user.profile != SUPERVISOR:
        raise ApiError(403, "not_a_supervisor", NOT_SUPERVISOR)
    return WebUser(stored.id, stored.account_id, stored.profile, stored.name)
