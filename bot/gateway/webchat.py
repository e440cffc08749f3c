"""The webchat page, its JSON chat API and the development sign-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.gateway import tokens
from bot.gateway.keys import CONVERSATIONS, SETTINGS
from bot.gateway.tokens import TokenError, WebUser
from bot.settings import Settings
from bot.store.demo import DEMO_ACCOUNT_IDS

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "zcc_conversation"


class ChatRequest(BaseModel):
    """The body of POST /api/chat."""

    model_config = ConfigDict(extra="ignore")

    message: str = Field(max_length=100_000)
    # Client-chosen id of this message: a retried request with the same id is answered once.
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error the page shows to the user (the message is Spanish)."""
    return web.json_response({"error": code, "message": message, **extra}, status=status)


async def index(request: web.Request) -> web.FileResponse:
    """The chat page."""
    return web.FileResponse(STATIC / "index.html")


def _signed_in(request: web.Request) -> WebUser | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("token_invalid", "No pudimos verificar tu sesión. Vuelve a iniciar sesión.")
    return tokens.verify(token.strip(), request.app[SETTINGS])


async def chat(request: web.Request) -> web.Response:
    """POST /api/chat: one user message in, the bot's messages out (a JSON list like Rasa's REST channel)."""
    settings = request.app[SETTINGS]
    try:
        user = _signed_in(request)
    except TokenError as failure:
        return error(401, failure.code, failure.message)
    try:
        body = ChatRequest.model_validate_json(await request.read())
    except ValidationError:
        return error(400, "malformed_request", 'La solicitud no es válida: envía {"message": "..."}.')
    new_cookie = None
    if user is not None:
        sender, metadata = f"web:u:{user.user_id}", user.metadata()
    else:
        conversation = tokens.read_conversation(request.cookies.get(COOKIE), settings)
        if conversation is None:
            conversation, new_cookie = tokens.new_conversation(settings)
        sender, metadata = f"web:a:{conversation}", {}
    result = await request.app[CONVERSATIONS].webchat(sender, body.id, body.message, metadata)
    if result.messages is not None:
        response = web.json_response(result.messages)
    else:
        response = error(result.status, result.error or "error", result.message or "", queued=result.queued)
    if new_cookie is not None:
        set_conversation_cookie(response, new_cookie, settings)
    return response


def set_conversation_cookie(response: web.StreamResponse, cookie: str, settings: Settings) -> None:
    """The anonymous conversation cookie: HTTP only, same-site, secure when served over HTTPS."""
    secure = settings.public_url.startswith("https://")
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="Lax", secure=secure, max_age=30 * 86400)


async def dev_users(request: web.Request) -> web.Response:
    """GET /api/dev/users: the demo users (development mode only)."""
    if not request.app[SETTINGS].dev_mode:
        raise web.HTTPNotFound()
    users = await request.app[CONVERSATIONS].inbox.users(DEMO_ACCOUNT_IDS)
    return web.json_response(
        [{"email": u.email, "name": u.name, "profile": u.profile, "account": u.account_id} for u in users]
    )


class TokenRequest(BaseModel):
    """The body of POST /api/dev/token."""

    email: str = Field(max_length=254)


async def dev_token(request: web.Request) -> web.Response:
    """POST /api/dev/token: mint a token for a demo user (development mode only)."""
    settings = request.app[SETTINGS]
    if not settings.dev_mode:
        raise web.HTTPNotFound()
    try:
        body = TokenRequest.model_validate_json(await request.read())
    except ValidationError:
        return error(400, "malformed_request", "Indica el email del usuario.")
    user = await request.app[CONVERSATIONS].inbox.user_by_email(body.email)
    if user is None or user.account_id not in DEMO_ACCOUNT_IDS:
        return error(404, "unknown_user", "No existe un usuario de demostración con ese email.")
    token = tokens.mint(
        user.id, user.account_id, user.profile, user.name, settings, settings.dev_token_minutes
    )
    return web.json_response({"token": token})


def add_routes(app: web.Application) -> None:
    """Routes of the webchat."""
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/dev/users", dev_users)
    app.router.add_post("/api/dev/token", dev_token)
