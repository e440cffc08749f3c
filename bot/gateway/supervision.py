"""Who may read the support team's insights (and review what the assistant did not understand): the
supervisor profile, signed in like agents (a signed token, `Authorization: Bearer …`)."""

from __future__ import annotations

from aiohttp import web

from bot.gateway.profiles import require_profile
from bot.gateway.tokens import WebUser

SUPERVISOR = "supervisor"
NOT_SUPERVISOR = "Necesitas iniciar sesión con un perfil de supervisor."


async def require_supervisor(request: web.Request) -> WebUser:
    """The verified supervisor making the request: 401 without a valid token, 403 for any other profile."""
    return await require_profile(request, SUPERVISOR, "not_a_supervisor", NOT_SUPERVISOR)
