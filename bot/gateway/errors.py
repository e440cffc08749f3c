"""The HTTP API's one error type and the middleware that answers it (and every other failure) as JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy.exc
from aiohttp import web

log = logging.getLogger("bot.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The store unreachable (network, restart, failover) or its pool exhausted: a moment's outage, not a bug.
STORE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


class ApiError(Exception):
    """A refusal with its status, a code for programs and a Spanish message to show the user."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> web.Response:
        """The JSON answer: {"error": code, "message": text, ...}."""
        body = {"error": self.code, "message": self.message, **self.extra}
        return web.json_response(body, status=self.status)


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal is a clear JSON 4xx on /api/; a store outage a 503; never a 500 with details."""
    try:
        return await handler(request)
    except ApiError as refusal:
        return refusal.response()
    except web.HTTPException as failure:
        if failure.status < 400 or not request.path.startswith("/api/"):
            raise
        if failure.status == 413:
            return ApiError(413, "request_too_large", "La solicitud es demasiado grande.").response()
        code = failure.reason.lower().replace(" ", "_")
        return ApiError(failure.status, code, "Solicitud no válida.").response()
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, web.RequestPayloadError):
        # A body that cannot be read as sent (invalid UTF-8, an undecodable encoding): the client's fault.
        return ApiError(400, "malformed_request", "La solicitud no es válida.").response()
    except STORE_DOWN as failure:
        log.warning("store unavailable on %s: %s", request.path, type(failure).__name__)
        response = ApiError(
            503,
            "store_unavailable",
            "El asistente no está disponible en este momento. Inténtalo en unos segundos.",
        ).response()
        response.headers["Retry-After"] = "5"
        return response
