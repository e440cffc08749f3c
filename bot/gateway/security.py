"""Headers every response of the gateway carries: a strict Content-Security-Policy (our own scripts and
styles only, no inline code), framing only by the sites allowed to embed the chat, no MIME sniffing, a
referrer policy, and a `Server` header that names no version."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.settings import Settings

SERVER = "asistente"


def content_security_policy(embed_origins: list[str]) -> str:
    """Our own resources only; framed by nobody, or by the allowed embedding sites."""
    ancestors = " ".join(embed_origins) if embed_origins else "'none'"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # blob: the console shows a customer's files it fetched with the agent's token.
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


def security_headers(settings: Settings) -> object:
    """An `on_response_prepare` handler that sets the headers on every response, errors, files and event
    streams too (and the CORS headers of an allowed embedding site's API calls)."""
    policy = content_security_policy(settings.embed_origins)
    framed = bool(settings.embed_origins)
    allowed = frozenset(settings.embed_origins)

    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers["Server"] = SERVER
        headers.setdefault("Content-Security-Policy", policy)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Cross-Origin-Resource-Policy"] = "cross-origin" if framed else "same-origin"
        if not framed:
            # Browsers without frame-ancestors still refuse to frame the page.
            headers["X-Frame-Options"] = "DENY"
        origin = request.headers.get("Origin")
        if origin in allowed and request.path.startswith("/api/"):
            # Set here, as the response starts: a stream's headers are gone before its handler returns.
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Expose-Headers"] = "X-Conversation"
            headers["Vary"] = "Origin"

    return prepare


def cors_preflight(settings: Settings) -> Middleware:
    """CORS for the API, for the sites in EMBED_ORIGINS only (a host page may call it from its own
    scripts): this answers their preflight requests; `security_headers` adds the CORS headers to the
    answers. Every other origin gets none, so browsers keep their pages out."""
    allowed = frozenset(settings.embed_origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if preflight and request.path.startswith("/api/") and request.headers.get("Origin") in allowed:
            response = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Conversation"
            response.headers["Access-Control-Max-Age"] = "600"
            return response
        return await handler(request)

    return middleware
