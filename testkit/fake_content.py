"""The fake Twilio's Content API (https://content.twilio.com/v1/Content): content templates with text, quick
replies or a list picker, and which of them WhatsApp approved for business-initiated use.

Create (POST, a JSON body), fetch, list and delete, as Twilio's Content API answers them (the SDK's
`client.content.v1.contents`), and the approval status (GET /v1/Content/{sid}/ApprovalRequests). What is
created through the API is not approved: a test approves it (`FakeTwilio.approve`) or declares an approved
template outright (`FakeTwilio.templates[sid] = "text"`, or `templates=` to the constructor).

Limits, as Twilio documents them (a request over one is answered 400):
- twilio/quick-reply: body ≤ 1,024 characters, 1 to 10 actions, of which only 3 may be sent in a WhatsApp
  session without approval (https://www.twilio.com/docs/content/twilio-quick-reply); a title ≤ 20
  characters (WhatsApp's reply button, https://whatsapp.github.io/WhatsApp-Nodejs-SDK/api-reference/types/
  ButtonObject); an id ≤ 200 characters (the fake applies the list picker's id limit: unconfirmed).
- twilio/list-picker: body ≤ 1,024, 1 to 10 items, item ≤ 24, id ≤ 200, description ≤ 72
  (https://www.twilio.com/docs/content/twiliolist-picker); button ≤ 20 (WhatsApp's list button text:
  https://whatsappapijs.web.app/classes/messages.ActionList.html); never approvable and never
  business-initiated ("List-picker templates aren't supported for approval").
- twilio/text: body ≤ 1,600 (the Messages resource's limit).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from testkit.twilio_api import error_response, new_sid, not_found_response, page_size

CONTENT_HOST = "https://content.twilio.com"
CONTENT_PATH = "/v1/Content"
TEXT, QUICK_REPLY, LIST_PICKER = "twilio/text", "twilio/quick-reply", "twilio/list-picker"
RICH_BODY_MAX, TEXT_BODY_MAX = 1024, 1600
QUICK_REPLY_MAX, QUICK_REPLY_SESSION_MAX, TITLE_MAX, ID_MAX = 10, 3, 20, 200
LIST_ITEMS_MAX, ITEM_MAX, DESCRIPTION_MAX, BUTTON_MAX = 10, 24, 72, 20
# The code the fake answers a content it refuses with. Twilio's own code for these is unconfirmed.
INVALID_CONTENT = 400
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def iso8601(at: datetime) -> str:
    """A date as the Content API writes it (ISO 8601, UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """`value` (a string, or lists and objects of them) with every {{name}} that has a value replaced."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


@dataclass
class Content:
    """One Content resource."""

    sid: str
    account_sid: str
    friendly_name: str
    language: str
    variables: dict[str, str]
    types: dict[str, Any]
    created: datetime
    approved: bool = False  # approved by WhatsApp for business-initiated messages
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def kind(self) -> str:
        """The content type a WhatsApp message of it has (the richest of those it defines)."""
        for kind in (QUICK_REPLY, LIST_PICKER, TEXT):
            if kind in self.types:
                return kind
        return next(iter(self.types), TEXT)

    def rendered(self, values: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The content type's definition with the variables in (the defaults, then `values`)."""
        spec = self.types.get(self.kind)
        merged = {**self.variables, **(values or {})}
        return dict(substitute(spec, merged)) if isinstance(spec, dict) else {}

    def body(self, values: Mapping[str, str] | None = None) -> str:
        """The text the message carries, variables in."""
        return str(self.rendered(values).get("body", ""))

    def json(self) -> dict[str, Any]:
        """The resource as the Content API returns it."""
        url = f"{CONTENT_HOST}{CONTENT_PATH}/{self.sid}"
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "friendly_name": self.friendly_name,
            "language": self.language,
            "variables": self.variables,
            "types": self.types,
            "url": url,
            "date_created": iso8601(self.created),
            "date_updated": iso8601(self.updated),
            "links": {
                "approval_fetch": f"{url}/ApprovalRequests",
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
            },
        }


def _text(spec: Mapping[str, Any], key: str, limit: int, where: str, required: bool = True) -> str | None:
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        return f"{where}.{key} is required"
    if len(value) > limit:
        return f"{where}.{key} is longer than {limit} characters"
    return None


def _entries(spec: Mapping[str, Any], key: str, limit: int, where: str) -> list[Any] | str:
    entries = spec.get(key)
    if not isinstance(entries, list) or not entries:
        return f"{where}.{key} needs at least one entry"
    if len(entries) > limit:
        return f"{where}.{key} has {len(entries)} entries, more than {limit}"
    if not all(isinstance(entry, dict) for entry in entries):
        return f"{where}.{key} entries must be objects"
    return entries


def invalid_types(types: Any) -> str | None:
    """Why Twilio would refuse these `types`, or None."""
    if not isinstance(types, dict) or not types:
        return "types is required"
    for kind, spec in types.items():
        if not isinstance(spec, dict):
            return f"{kind} must be an object"
        if kind == TEXT:
            problem = _text(spec, "body", TEXT_BODY_MAX, kind)
        elif kind == QUICK_REPLY:
            actions = _entries(spec, "actions", QUICK_REPLY_MAX, kind)
            problem = _text(spec, "body", RICH_BODY_MAX, kind) or (
                actions if isinstance(actions, str) else None
            )
            for n, action in enumerate(actions if isinstance(actions, list) else []):
                where = f"{kind}.actions[{n}]"
                problem = problem or _text(action, "title", TITLE_MAX, where)
                problem = problem or _text(action, "id", ID_MAX, where, required=False)
        elif kind == LIST_PICKER:
            items = _entries(spec, "items", LIST_ITEMS_MAX, kind)
            problem = _text(spec, "body", RICH_BODY_MAX, kind) or _text(spec, "button", BUTTON_MAX, kind)
            problem = problem or (items if isinstance(items, str) else None)
            for n, item in enumerate(items if isinstance(items, list) else []):
                where = f"{kind}.items[{n}]"
                problem = problem or _text(item, "item", ITEM_MAX, where) or _text(item, "id", ID_MAX, where)
                problem = problem or _text(item, "description", DESCRIPTION_MAX, where, required=False)
        else:
            problem = None  # other content types are stored as given
        if problem:
            return problem
    return None


class ContentStore:
    """The account's Content resources (thread-safe)."""

    def __init__(self, account_sid: str, now: Callable[[], datetime]) -> None:
        self.account_sid = account_sid
        self._now = now
        self._lock = threading.RLock()
        self._items: dict[str, Content] = {}

    def create(
        self,
        types: dict[str, Any],
        *,
        friendly_name: str = "",
        language: str = "es",
        variables: Mapping[str, str] | None = None,
        sid: str | None = None,
        approved: bool = False,
        check: bool = True,
    ) -> Content:
        """Store a content (replacing one with the same SID); ValueError when Twilio would refuse it
        (unless not `check`: a template a test declares)."""
        problem = invalid_types(types) if check else None
        if problem:
            raise ValueError(problem)
        if sid is not None and not _SID.match(sid):
            raise ValueError(f"not a content SID: {sid!r} (HX and 32 hex digits)")
        now = self._now()
        content = Content(
            sid or new_sid("HX"), self.account_sid, friendly_name, language, dict(variables or {}), types, now
        )
        content.updated = now
        if approved:
            self._check_approvable(content)
            content.approved = True
        with self._lock:
            self._items[content.sid] = content
        return content

    @staticmethod
    def _check_approvable(content: Content) -> None:
        if content.kind == LIST_PICKER:
            raise ValueError("list-picker templates can't be submitted for WhatsApp approval")

    def get(self, sid: str) -> Content | None:
        """The content with this SID, if it exists."""
        with self._lock:
            return self._items.get(sid)

    def all(self) -> list[Content]:
        """Every content, oldest first."""
        with self._lock:
            return list(self._items.values())

    def delete(self, sid: str) -> bool:
        """Delete a content; False if there was none."""
        with self._lock:
            return self._items.pop(sid, None) is not None

    def approve(self, sid: str, approved: bool = True) -> None:
        """Mark a content approved (or no longer) for business-initiated WhatsApp messages."""
        with self._lock:
            content = self._items.get(sid)
            if content is None:
                raise KeyError(sid)
            if approved:
                self._check_approvable(content)
            content.approved = approved
            content.updated = self._now()

    # --- the HTTP API ---------------------------------------------------------------------------------
    def add_routes(self, app: web.Application, authorized: Callable[[web.Request], bool]) -> None:
        """Serve /v1/Content on `app`, answering 401 where `authorized(request)` is false."""

        def guarded(handler: Handler) -> Handler:
            async def guard(request: web.Request) -> web.StreamResponse:
                if not authorized(request):
                    return error_response(401, 20003, "Authenticate")
                return await handler(request)

            return guard

        app.router.add_post(CONTENT_PATH, guarded(self._create))
        app.router.add_get(CONTENT_PATH, guarded(self._list))
        app.router.add_get(CONTENT_PATH + "/{content}", guarded(self._fetch))
        app.router.add_delete(CONTENT_PATH + "/{content}", guarded(self._delete))
        app.router.add_get(CONTENT_PATH + "/{content}/ApprovalRequests", guarded(self._approval))

    async def _create(self, request: web.Request) -> web.Response:
        try:
            payload = json.loads(await request.text())
        except ValueError:
            # What Twilio answers a body that is not JSON (twilio/twilio-python#932: the SDK's async client
            # form-encodes the Content API's JSON body).
            return error_response(400, INVALID_CONTENT, "Request input may be invalid")
        if not isinstance(payload, dict):
            return error_response(400, INVALID_CONTENT, "Request input may be invalid")
        variables = payload.get("variables") or {}
        language = payload.get("language")
        if not isinstance(language, str) or not language:
            return error_response(400, INVALID_CONTENT, "language is required")
        if not isinstance(variables, dict):
            return error_response(400, INVALID_CONTENT, "variables must be an object")
        types = payload.get("types")
        if not isinstance(types, dict):
            return error_response(400, INVALID_CONTENT, "types is required")
        try:
            content = self.create(
                types,
                friendly_name=str(payload.get("friendly_name") or ""),
                language=language,
                variables={str(key): str(value) for key, value in variables.items()},
            )
        except ValueError as problem:
            return error_response(400, INVALID_CONTENT, str(problem))
        return web.json_response(content.json(), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        size = page_size(request)
        url = f"{CONTENT_HOST}{CONTENT_PATH}?PageSize={size}&Page=0"
        meta = {
            "page": 0,
            "page_size": size,
            "first_page_url": url,
            "previous_page_url": None,
            "url": url,
            "next_page_url": None,
            "key": "contents",
        }
        return web.json_response({"contents": [c.json() for c in self.all()][:size], "meta": meta})

    async def _fetch(self, request: web.Request) -> web.Response:
        content = self.get(request.match_info["content"])
        if content is None:
            return not_found_response(request.path.removeprefix("/v1"))
        return web.json_response(content.json())

    async def _delete(self, request: web.Request) -> web.Response:
        if not self.delete(request.match_info["content"]):
            return not_found_response(request.path.removeprefix("/v1"))
        return web.Response(status=204)

    async def _approval(self, request: web.Request) -> web.Response:
        content = self.get(request.match_info["content"])
        if content is None:
            return not_found_response(request.path.removeprefix("/v1"))
        status = "approved" if content.approved else "unsubmitted"
        whatsapp = {"type": "whatsapp", "name": content.friendly_name, "category": "UTILITY"}
        whatsapp |= {"content_type": content.kind, "status": status, "rejection_reason": ""}
        return web.json_response(
            {
                "sid": content.sid,
                "account_sid": content.account_sid,
                "whatsapp": whatsapp,
                "url": f"{CONTENT_HOST}{CONTENT_PATH}/{content.sid}/ApprovalRequests",
            }
        )


class Templates(MutableMapping[str, str]):
    """The approved templates, by SID → their text: `templates[sid] = "Hola {{1}}"` declares an approved
    twilio/text template with that SID; `del templates[sid]` deletes it."""

    def __init__(self, store: ContentStore) -> None:
        self._store = store

    def _approved(self) -> list[Content]:
        return [c for c in self._store.all() if c.approved]

    def __getitem__(self, sid: str) -> str:
        content = self._store.get(sid)
        if content is None or not content.approved:
            raise KeyError(sid)
        return content.body()

    def __setitem__(self, sid: str, text: str) -> None:
        self._store.create({TEXT: {"body": text}}, sid=sid, approved=True, friendly_name=sid, check=False)

    def __delitem__(self, sid: str) -> None:
        if sid not in self or not self._store.delete(sid):
            raise KeyError(sid)

    def __iter__(self) -> Iterator[str]:
        return iter([c.sid for c in self._approved()])

    def __len__(self) -> int:
        return len(self._approved())

    def __contains__(self, sid: object) -> bool:
        content = self._store.get(sid) if isinstance(sid, str) else None
        return content is not None and content.approved
