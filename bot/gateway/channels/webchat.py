"""The webchat: its page, its JSON chat API (the answer is the response), its live events (an agent's
messages and the hand-off's progress) and the development sign-in."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.answers import notices
from bot.gateway import live, tokens
from bot.gateway.channels import Incoming, Rendered
from bot.gateway.errors import ApiError
from bot.gateway.keys import HANDOFFS, PIPELINE, SETTINGS, USERS
from bot.gateway.pipeline.intake import Refusal
from bot.gateway.tokens import TokenError, WebUser
from bot.handoff.events import conversation_topic
from bot.settings import Settings
from bot.store.demo import DEMO_ACCOUNT_IDS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.gateway.outbound import Provider
    from bot.gateway.pipeline import Pipeline

STATIC = Path(__file__).resolve().parent.parent / "static"
COOKIE = "zcc_conversation"
CONVERSATION_HEADER = "X-Conversation"
COOKIE_SECONDS = 30 * 86400
HISTORY_LIMIT = 50
WEBCHAT = "webchat"


class ChatRequest(BaseModel):
    """The body of POST /api/chat."""

    model_config = ConfigDict(extra="ignore")

    message: str = Field(max_length=100_000)
    # Client-chosen id of this message: a retried request with the same id is answered once.
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class TokenRequest(BaseModel):
    """The body of POST /api/dev/token."""

    email: str = Field(max_length=254)


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, or of `?access_token=` (EventSource sends no
    headers)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("access_token") or None


def client_address(request: web.Request, settings: Settings) -> str:
    """The client's address: the connection's own, or with `trusted_proxy_hops` proxies in front, the
    X-Forwarded-For entry the farthest trusted proxy added (entries further left are the client's word)."""
    hops = settings.trusted_proxy_hops
    forwarded = [
        part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()
    ]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.remote or "unknown"


def set_conversation_cookie(response: web.StreamResponse, cookie: str, settings: Settings) -> None:
    """The anonymous conversation: an HTTP-only cookie (same-site, secure over HTTPS; partitioned and
    cross-site when other sites embed the chat over HTTPS) and the `X-Conversation` header, which a framed
    page keeps in its own storage when the browser gives cross-site frames no cookie."""
    secure = settings.public_url.startswith("https://")
    if settings.embed_origins:
        # Framed by another site, the page gets its cookies only if they are cross-site (SameSite=None,
        # so Secure: HTTPS, or localhost for trials) and partitioned by the host's site (CHIPS: Chromium
        # refuses framed pages their storage). Written by hand: Python's cookie module (before 3.14) knows
        # no Partitioned attribute.
        attributes = f"Max-Age={COOKIE_SECONDS}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
        response.headers.add("Set-Cookie", f"{COOKIE}={cookie}; {attributes}")
    else:
        response.set_cookie(
            COOKIE, cookie, httponly=True, samesite="Lax", secure=secure, max_age=COOKIE_SECONDS
        )
    response.headers[CONVERSATION_HEADER] = cookie


class WebchatChannel:
    """The webchat: answers in the HTTP response; signed-in users by token, anonymous ones by cookie."""

    name = WEBCHAT
    answers_in_response = True

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def render(self, replies: list[dict[str, Any]]) -> Rendered:
        """The webchat shows Rasa's messages as they are (buttons and tables included)."""
        return Rendered(tuple(str(r["text"]) for r in replies if r.get("text")))

    def provider(self) -> Provider | None:
        """The answer is the response: nothing to deliver later."""
        return None

    async def open(self, store: sessionmaker[Session]) -> None:
        """Nothing to acquire."""

    async def close(self) -> None:
        """Nothing to release."""

    def add_routes(self, app: web.Application) -> None:
        """The page, the chat API, its live events and the development sign-in."""
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC)
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/chat/events", self.events)
        app.router.add_get("/api/chat/history", self.history)
        app.router.add_get("/widget.js", self.widget)
        app.router.add_get("/api/embed", self.embedding)
        app.router.add_get("/api/dev/users", self.dev_users)
        app.router.add_post("/api/dev/token", self.dev_token)

    # --- routes ---------------------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.FileResponse:
        """The chat page."""
        return web.FileResponse(STATIC / "index.html")

    def _signed_in(self, request: web.Request) -> WebUser | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "token_invalid", "No pudimos verificar tu sesión. Vuelve a iniciar sesión.")
        try:
            return tokens.verify(token.strip(), self._settings)
        except TokenError as failure:
            raise ApiError(401, failure.code, failure.message) from failure

    def _anonymous(self, request: web.Request) -> tuple[str, str | None]:
        """The anonymous conversation of the cookie (or, in a framed page, of the header or, for its event
        stream, of the query), or a new one and the value to set."""
        for kept in (
            request.cookies.get(COOKIE),
            request.headers.get(CONVERSATION_HEADER),
            request.query.get("conversation"),
        ):
            conversation = tokens.read_conversation(kept, self._settings)
            if conversation is not None:
                return conversation, None
        return tokens.new_conversation(self._settings)

    async def chat(self, request: web.Request) -> web.Response:
        """POST /api/chat: one user message in, the bot's messages out (a JSON list like Rasa's REST
        channel)."""
        user = self._signed_in(request)
        try:
            body = ChatRequest.model_validate_json(await request.read())
        except ValidationError as failure:
            message = 'La solicitud no es válida: envía {"message": "..."}.'
            raise ApiError(400, "malformed_request", message) from failure
        new_cookie = None
        if user is not None:
            sender, metadata, client = f"web:u:{user.user_id}", user.metadata(), f"user:{user.user_id}"
        else:
            conversation, new_cookie = self._anonymous(request)
            sender, metadata, client = (
                f"web:a:{conversation}",
                {},
                f"ip:{client_address(request, self._settings)}",
            )
        incoming = Incoming(
            WEBCHAT, body.id or uuid.uuid4().hex, sender, body.message, metadata=metadata, client=client
        )
        try:
            response = web.json_response(await self._answer(request.app[PIPELINE], incoming))
        except ApiError as refusal:
            response = refusal.response()  # with the cookie too: a retry continues this conversation
        if new_cookie is not None:
            set_conversation_cookie(response, new_cookie, self._settings)
        return response

    async def _answer(self, pipeline: Pipeline, incoming: Incoming) -> list[dict[str, Any]]:
        received = await pipeline.receive(self, incoming)
        if isinstance(received, Refusal):
            raise ApiError(received.status, received.error, received.message)
        inbound = received.inbound
        if not received.new and inbound.sender_id != incoming.sender_id:
            raise ApiError(409, "duplicate_id", notices.DUPLICATE_ID)
        if inbound.status == "answered":
            return inbound.replies or []  # a retried request gets the stored answer
        replies = await pipeline.answer(inbound)
        if replies is None:
            raise ApiError(503, "engine_unavailable", notices.ENGINE_QUEUED, queued=True)
        return replies

    async def history(self, request: web.Request) -> web.Response:
        """GET /api/chat/history: this conversation's last exchanges (already redacted), oldest first — for a
        page that cannot keep its transcript itself (a framed page has no storage of its own)."""
        user = self._signed_in(request)
        if user is not None:
            sender = f"web:u:{user.user_id}"
        else:
            conversation, new_cookie = self._anonymous(request)
            if new_cookie is not None:
                return web.json_response([])  # no conversation yet: nothing said
            sender = f"web:a:{conversation}"
        exchanges = await request.app[PIPELINE].history(sender, HISTORY_LIMIT)
        return web.json_response([{"user": text, "replies": replies} for text, replies in exchanges])

    async def events(self, request: web.Request) -> web.StreamResponse:
        """GET /api/chat/events: agent messages and hand-off status for this conversation, live."""
        token = bearer(request)
        new_cookie = None
        if token is not None:
            try:
                sender = f"web:u:{tokens.verify(token, self._settings).user_id}"
            except TokenError as failure:
                raise ApiError(401, failure.code, failure.message) from failure
        else:
            # A first visit opens the stream before chatting: the conversation starts here.
            conversation, new_cookie = self._anonymous(request)
            sender = f"web:a:{conversation}"
        handoffs = request.app[HANDOFFS]
        first: list[tuple[str, dict[str, Any]]] = []
        handoff = await handoffs.queue.active_for(sender)
        if handoff is not None:
            first.append(("handoff", {"status": handoff.status, "position": None}))

        def prepare(response: web.StreamResponse) -> None:
            if new_cookie is not None:
                set_conversation_cookie(response, new_cookie, self._settings)

        return await live.stream(request, handoffs.broker, conversation_topic(sender), first, prepare=prepare)

    async def widget(self, request: web.Request) -> web.FileResponse:
        """GET /widget.js: the loader a host site includes with one <script> tag."""
        response = web.FileResponse(STATIC / "widget.js", headers={"Cache-Control": "public, max-age=300"})
        response.content_type = "text/javascript"
        return response

    async def embedding(self, request: web.Request) -> web.Response:
        """GET /api/embed: the sites a framed chat page may take messages from (its host)."""
        return web.json_response({"origins": self._settings.embed_origins})

    async def dev_users(self, request: web.Request) -> web.Response:
        """GET /api/dev/users: the demo users (development mode only)."""
        if not self._settings.dev_mode:
            raise web.HTTPNotFound()
        users = await request.app[USERS].of_accounts(DEMO_ACCOUNT_IDS)
        return web.json_response(
            [{"email": u.email, "name": u.name, "profile": u.profile, "account": u.account_id} for u in users]
        )

    async def dev_token(self, request: web.Request) -> web.Response:
        """POST /api/dev/token: mint a token for a demo user (development mode only)."""
        settings = request.app[SETTINGS]
        if not settings.dev_mode:
            raise web.HTTPNotFound()
        try:
            body = TokenRequest.model_validate_json(await request.read())
        except ValidationError as failure:
            raise ApiError(400, "malformed_request", "Indica el email del usuario.") from failure
        user = await request.app[USERS].by_email(body.email)
        if user is None or user.account_id not in DEMO_ACCOUNT_IDS:
            raise ApiError(404, "unknown_user", "No existe un usuario de demostración con ese email.")
        token = tokens.mint(
            user.id, user.account_id, user.profile, user.name, settings, settings.dev_token_minutes
        )
        return web.json_response({"token": token})
