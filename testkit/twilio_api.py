"""Twilio REST API bodies (Messages and Media resources), for the fake Twilio the tests, bench and soak serve.

One place builds what Twilio answers, so every fake speaks the same API as the real SDK parses it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

API_VERSION = "2010-04-01"
MESSAGES_PATH = f"/{API_VERSION}/Accounts/{{sid}}/Messages.json"


def new_sid(prefix: str = "SM") -> str:
    """A SID: its two-letter prefix ('SM' a message, 'MM' a message with media, 'ME' a media file, 'HX' a
    content template, 'XE' a channel installation) and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def rfc2822(at: datetime | None = None) -> str:
    """A date as the 2010-04-01 API writes it ("Mon, 01 Jan 2024 12:00:00 GMT")."""
    return format_datetime((at or datetime.now(UTC)).astimezone(UTC), usegmt=True)


def message_json(
    account: str,
    sid: str,
    to: str,
    from_: str | None,
    body: str,
    created: datetime | None = None,
    *,
    status: str = "queued",
    messaging_service_sid: str | None = None,
    num_media: int = 0,
    direction: str = "outbound-api",
) -> dict[str, Any]:
    """A Message resource, as Twilio returns it from create, fetch and list (`from` is None while a
    Messaging Service has not picked the sender yet: status "accepted")."""
    stamp = rfc2822(created)
    uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}.json"
    return {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body,
        "date_created": stamp,
        "date_sent": None,
        "date_updated": stamp,
        "direction": direction,
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": messaging_service_sid,
        "num_media": str(num_media),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
        "to": to,
        "uri": uri,
    }


def created_response(message: dict[str, Any]) -> web.Response:
    """201 Created with the new message."""
    return web.json_response(message, status=201)


def page_response(account: str, messages: Sequence[dict[str, Any]], page_size: int) -> web.Response:
    """One page of a Messages list (newest first, as Twilio orders it); the fakes serve a single page."""
    uri = f"/{API_VERSION}/Accounts/{account}/Messages.json?PageSize={page_size}&Page=0"
    return web.json_response(
        {
            "messages": list(messages)[:page_size],
            "end": max(0, min(len(messages), page_size) - 1),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
    )


def not_found_response(path: str) -> web.Response:
    """Twilio's 404 for a SID it does not know (error 20404, https://www.twilio.com/docs/api/errors/20404)."""
    return error_response(404, 20404, f"The requested resource {path} was not found")


def error_response(status: int, code: int, message: str) -> web.Response:
    """An error body shaped like Twilio's."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


def page_size(request: web.Request, default: int = 50) -> int:
    """The PageSize a list request asked for."""
    try:
        return max(1, min(1000, int(request.query.get("PageSize", default))))
    except ValueError:
        return default
