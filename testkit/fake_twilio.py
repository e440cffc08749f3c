"""The fake of Twilio's REST API that the tests, the benchmark and the soak send WhatsApp messages to.

One fake, served either way: `app()` is its aiohttp application, for a test to mount in its own event loop
(pytest-aiohttp's `aiohttp_server`; `serving()` serves it in the running loop, as the benchmark's load
generator does); `running()` serves it on 127.0.0.1 in a background thread with a loop of its own (the
end-to-end stack, the soak, the benchmark between its steps). The gateway's real Twilio client, pointed at
it with TWILIO_API_BASE (every host, api.twilio.com and content.twilio.com alike), sends here.

Every request is recorded (`messages()`, `sent`, `bodies`; every request on the wire, in order: `wire()`;
`wait_for` and `quiet` wait for them). Switches model outages: `fail()` answers every request with a 500,
`hang(s)` holds it `s` seconds and answers 504 (the request never reached Twilio), `lose_answers(s)` accepts
the message but holds the answer `s` seconds (Twilio sent it, the client cannot know: Twilio's API has no
idempotency key, so the client must look the message up before sending it again); `recover()` ends the
outage. What an outage refused is kept apart in `refused()`, so a test can tell "retried" from "sent twice".
Listeners hear of every message accepted, from the thread that serves the fake.

What the fake models where WhatsApp operators meet Twilio (each is off or inert until a test uses it, so a
test that only sends text sees the fake it always saw):

- Messages resource (https://www.twilio.com/docs/messaging/api/message-resource): create with From or
  MessagingServiceSid (then status "accepted", `from` null in the answer), Body, MediaUrl (≤ 10, error
  21623), ContentSid + ContentVariables (errors 21654, 21655, 21656; the body is the content rendered);
  list; fetch (GET …/Messages/{sid}.json) showing the status and error a message reached.
- Its own clock (`now()`, `advance()`) and WhatsApp's 24-hour customer service window: free text, media
  and unapproved content to a customer whose last message is older are accepted (201, "queued") and then
  fail with 63016 (https://www.twilio.com/docs/api/errors/63016), reported as status "undelivered" by
  default (`window_failure_status`; Twilio does not document which of failed/undelivered). An approved
  template always goes (a list picker never: it cannot be approved). Unknown customers count as inside the
  window unless `enforce_window`.
- Content API (testkit/fake_content.py), media (testkit/fake_media.py), status callbacks and incoming
  webhooks, signed as Twilio signs them (testkit/fake_webhooks.py): `deliver_callbacks(local_base)` posts
  the statuses in `statuses` (none by default) or a failure (window, `fail_next`, refused media) to the
  StatusCallback given at create; `webhooks_to(...)` and `inbound(...)` post customer messages.
- `refuse_next(to, …)` answers the next create with a Twilio 4xx (21211 by default: the shape of
  https://www.twilio.com/docs/usage/twilios-response).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web

from testkit.fake_content import Content
from testkit.fake_whatsapp import ERRORS, SANDBOX_SENDER, WhatsAppModel
from testkit.twilio_api import (
    MESSAGES_PATH,
    created_response,
    error_response,
    message_json,
    new_sid,
    not_found_response,
    page_response,
    page_size,
)

# Twilio refuses a longer body with error 21617; the fake does the same so an unsplit answer fails loudly.
BODY_LIMIT = 1600
MEDIA_LIMIT = 10  # MediaUrl parameters a message may have (error 21623)
# The switch: answering as Twilio does, or one of the outages.
OK, FAIL, HANG, LOSE = "ok", "fail", "hang", "lose"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SentMessage:
    """One POST to the Messages resource, as the fake received it."""

    sid: str  # "" when an outage refused it (no message was created)
    account_sid: str
    to: str
    from_: str
    body: str  # what the message says: the Body, or the content template rendered
    status_callback: str | None
    at: float  # time.monotonic() when it arrived
    accepted: bool  # False: the fake answered with a Twilio error or left it hanging (it was not "sent")
    mode: str = OK  # the switch when it arrived: ok, or the outage it met (fail, hang, lose)
    form: dict[str, str] = field(default_factory=dict, compare=False)  # every form field posted
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    content: dict[str, Any] | None = field(default=None, compare=False)  # its type's definition, rendered
    media_urls: tuple[str, ...] = ()
    messaging_service_sid: str | None = None

    def shown(self) -> str:
        """What the customer sees (see `shown`)."""
        return shown(self.body, self.content)


def shown(body: str, content: dict[str, Any] | None) -> str:
    """A WhatsApp message as the customer sees it: its text, then the options to tap (numbered, in order; a
    list item's full title is its description when the item was shortened). `content` is a quick reply's
    or a list picker's definition (`{"body", "actions"}` / `{"body", "items"}`)."""
    content = content or {}
    titles = [str(action.get("title", "")) for action in content.get("actions") or []]
    titles += [str(item.get("description") or item.get("item", "")) for item in content.get("items") or []]
    return "\n".join([body, *(f"{n}. {title}" for n, title in enumerate(titles, 1))])


@dataclass
class WireRequest:
    """One request the fake received, in arrival order, and the status it answered (None: still open)."""

    method: str
    path: str
    query: str
    form: dict[str, str]
    body: str
    authorized: bool
    status: int | None = None
    at: float = field(default_factory=time.monotonic)


Listener = Callable[[SentMessage], None]


def _credentials(header: str | None) -> aiohttp.BasicAuth | None:
    if not header:
        return None
    try:
        return aiohttp.BasicAuth.decode(header)
    except ValueError:
        return None


async def _form(request: web.Request) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.post()).items()}


def _record(sid: str, account: str, fields: dict[str, str], accepted: bool, mode: str) -> SentMessage:
    """What the fake keeps of a create request (stamped now)."""
    return SentMessage(
        sid,
        account,
        fields.get("To", ""),
        fields.get("From", ""),
        fields.get("Body", ""),
        fields.get("StatusCallback"),
        time.monotonic(),
        accepted,
        mode,
        fields,
        messaging_service_sid=fields.get("MessagingServiceSid"),
    )


class FakeTwilio(WhatsAppModel):
    """The fake API: `with FakeTwilio(sid, token).running() as fake: ... fake.base_url ...`, or
    `await aiohttp_server(fake.app())` in a test's loop (then set `host` and `port` to the server's).
    `templates` declares approved templates: SID → text (or just SIDs)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sender: str = SANDBOX_SENDER,
        templates: Mapping[str, str] | Iterable[str] | None = None,
        enforce_window: bool = False,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.lists = 0  # how many list requests were answered (uncertain sends being checked)
        self.auth: list[aiohttp.BasicAuth | None] = []  # every create request's credentials, in order
        self._records: list[SentMessage] = []
        self._refused: list[SentMessage] = []
        self._created: dict[str, dict[str, Any]] = {}  # the Message resources, by SID
        self._listeners: list[Listener] = []
        self._mode = OK
        self._hang_seconds = 0.0
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._problem: BaseException | None = None
        self._refusals: list[tuple[str | None, int, int, str | None]] = []
        self._wire: list[WireRequest] = []
        self._init_whatsapp(sender, templates, enforce_window)

    @property
    def base_url(self) -> str:
        """What TWILIO_API_BASE must be set to."""
        return f"http://{self.host}:{self.port}"

    # --- the switch ---------------------------------------------------------------------------------------
    def fail(self) -> None:
        """From now on, answer every request with a Twilio-shaped 500."""
        with self._changed:
            self._mode = FAIL

    def hang(self, seconds: float) -> None:
        """From now on, hold every request `seconds` seconds, then answer 504 (the client gave up)."""
        with self._changed:
            self._mode, self._hang_seconds = HANG, seconds

    def lose_answers(self, seconds: float) -> None:
        """From now on, accept every message but hold the answer `seconds` seconds (the client gives up)."""
        with self._changed:
            self._mode, self._hang_seconds = LOSE, seconds

    def recover(self) -> None:
        """Accept requests again (requests already hanging still time out)."""
        with self._changed:
            self._mode = OK

    def refuse_next(
        self, to: str | None, status: int = 400, code: int = 21211, message: str | None = None
    ) -> None:
        """Answer the next create to `to` (None: to anyone) with a Twilio error, once."""
        with self._changed:
            self._refusals.append((to, status, code, message))

    # --- what the tests read ------------------------------------------------------------------------------
    def messages(self, to: str | None = None) -> list[SentMessage]:
        """The requests that met no outage (all, or those to one recipient), in arrival order; those
        Twilio would refuse too (no body, too long) are among them, not `accepted`."""
        with self._changed:
            return [m for m in self._records if to is None or m.to == to]

    def refused(self, to: str | None = None) -> list[SentMessage]:
        """The requests an outage refused (all, or those to one recipient), in arrival order."""
        with self._changed:
            return [m for m in self._refused if to is None or m.to == to]

    @property
    def sent(self) -> list[dict[str, str]]:
        """The form of every message accepted (with its account's SID as "AccountSid"), in order."""
        with self._changed:
            return [{**m.form, "AccountSid": m.account_sid} for m in self._records if m.accepted]

    @property
    def bodies(self) -> list[str]:
        """The texts accepted, in order (a content template's as rendered)."""
        with self._changed:
            return [m.body for m in self._records if m.accepted]

    @property
    def created(self) -> list[dict[str, Any]]:
        """The Message resources created, newest first (what a list request can return)."""
        with self._changed:
            return [self._created[m.sid] for m in reversed(self._records) if m.sid in self._created]

    def message(self, sid: str) -> dict[str, Any] | None:
        """A Message resource (ours or a customer's) as a fetch returns it now."""
        with self._changed:
            found = self._created.get(sid) or self._incoming.get(sid)
            return dict(found) if found else None

    def wire(self, path: str | None = None) -> list[WireRequest]:
        """Every request received (or those whose path starts with `path`), in arrival order."""
        with self._changed:
            return [w for w in self._wire if path is None or w.path.startswith(path)]

    def clear(self) -> None:
        """Forget every recorded request and post (what an outage refused is kept)."""
        with self._changed:
            self._records.clear()
            self._wire.clear()
            self._posts.clear()

    def wait_for(
        self, to: str, count: int = 1, timeout: float = 20.0, settle: float = 0.0
    ) -> list[SentMessage]:
        """Wait until at least `count` messages went to `to`; then, if `settle` > 0, until none arrives for
        `settle` seconds (so a reply split into parts is complete). Return them all, in order.
        Blocks: for a fake served in a thread (`running()`), never from the loop that serves it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.messages(to)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"fake Twilio: {len(found)} of {count} message(s) to {to} after {timeout:.0f} s: "
                        f"{[m.body for m in found]!r}"
                    )
                self._changed.wait(left)
            while settle > 0:
                seen = len(found)
                self._changed.wait(settle)
                found = self.messages(to)
                if len(found) == seen or time.monotonic() > deadline:
                    break
            return found

    def quiet(self, to: str, seconds: float) -> list[SentMessage]:
        """Wait `seconds` and return what arrived for `to` meanwhile (tests expect nothing)."""
        before = len(self.messages(to))
        time.sleep(seconds)
        return self.messages(to)[before:]

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(message)` (from the loop serving the fake) for every message accepted."""
        with self._changed:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling a listener."""
        with self._changed:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # --- the server ---------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        """The fake's aiohttp application: the Messages and Media resources and the Content API."""

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            entry = WireRequest(
                request.method, request.path, request.query_string, {}, "", self._authorized(request)
            )
            if request.can_read_body:
                entry.body = (await request.read()).decode(errors="replace")
                if request.content_type == "application/x-www-form-urlencoded":
                    entry.form = await _form(request)
            with self._changed:
                self._wire.append(entry)
            try:
                response = await handler(request)
            except web.HTTPException as problem:
                entry.status = problem.status
                raise
            entry.status = response.status
            return response

        app = web.Application(middlewares=[record])
        app.router.add_post(MESSAGES_PATH, self._create_message)
        app.router.add_get(MESSAGES_PATH, self._list_messages)
        app.router.add_get(MESSAGES_PATH.removesuffix(".json") + "/{message}.json", self._fetch_message)
        self.contents.add_routes(app, self._authorized)
        self.media.add_routes(app, self._authorized)
        return app

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _check(
        self, fields: dict[str, str], media_urls: list[str]
    ) -> tuple[Content | None, dict[str, str] | None, tuple[int, int, str] | None]:
        """The content template and its variables, and why Twilio would refuse the request (if it would)."""
        to, body, content_sid = fields.get("To", ""), fields.get("Body", ""), fields.get("ContentSid")
        if not to or not (fields.get("From") or fields.get("MessagingServiceSid")):
            return None, None, (400, 21604, "A 'To' and a 'From' phone number are required.")
        if "ContentVariables" in fields and not content_sid:
            return (
                None,
                None,
                (400, 21654, "A ContentSid must be specified if ContentVariables are provided."),
            )
        if content_sid:
            content = self.contents.get(content_sid)
            if content is None:
                return None, None, (400, 21655, "The ContentSid is Invalid")
            try:
                variables = json.loads(fields.get("ContentVariables") or "{}")
            except ValueError:
                variables = None
            if not isinstance(variables, dict) or any(v is None or v == "" for v in variables.values()):
                return content, None, (400, 21656, "The ContentVariables Parameter is invalid")
            return content, {str(k): str(v) for k, v in variables.items()}, None
        if not body and not media_urls:
            return None, None, (400, 21619, "A text message body or media urls must be specified.")
        if len(body) > BODY_LIMIT:
            return None, None, (400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if len(media_urls) > MEDIA_LIMIT:
            return None, None, (400, 21623, "The number of media files exceeds the allowed limit of 10.")
        return None, None, None

    async def _create_message(self, request: web.Request) -> web.Response:
        """POST /2010-04-01/Accounts/{sid}/Messages.json."""
        with self._changed:
            self.auth.append(_credentials(request.headers.get("Authorization")))
            mode, hang_seconds = self._mode, self._hang_seconds
        account = request.match_info["sid"]
        if mode in (FAIL, HANG):
            return await self._refuse(request, account, mode, hang_seconds)
        if not self._authorized(request) or account != self.account_sid:
            return error_response(401, 20003, "Authenticate")
        posted = await request.post()
        fields = {key: str(value) for key, value in posted.items()}
        media_urls = [str(url) for url in posted.getall("MediaUrl", [])]
        to = fields.get("To", "")
        content, variables, problem = self._check(fields, media_urls)
        refusal = self._take(self._refusals, to)
        if refusal is not None:
            _, status, code, text = refusal
            problem = (status, code, text or ERRORS.get(code, f"Twilio error {code}").format(to=to))
        rendered = content.rendered(variables) if content is not None and variables is not None else None
        body = (
            content.body(variables)
            if content is not None and variables is not None
            else fields.get("Body", "")
        )
        sid = new_sid("MM" if media_urls else "SM")
        record = replace(
            _record(sid, account, fields, problem is None, mode),
            body=body,
            content=rendered,
            media_urls=tuple(media_urls),
            content_sid=content.sid if content is not None else None,
            content_variables=variables if content is not None else None,
        )
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()
        if problem is not None:
            return error_response(*problem)
        service, from_ = fields.get("MessagingServiceSid") or None, fields.get("From", "")
        answer = message_json(
            account,
            sid,
            to,
            from_ or None,
            body,
            self.now(),
            status="accepted" if service and not from_ else "queued",
            messaging_service_sid=service,
            num_media=len(media_urls),
        )
        failure = self._fate(to, content, media_urls)
        with self._changed:
            self._created[sid] = answer | {"from": from_ or self.sender, "status": "queued"}
            listeners = list(self._listeners)
        for listener in listeners:
            listener(record)
        self._progress_later(sid, fields.get("StatusCallback"), failure, content is not None)
        if mode == LOSE:
            await asyncio.sleep(hang_seconds)
        return created_response(answer)

    async def _refuse(self, request: web.Request, account: str, mode: str, seconds: float) -> web.Response:
        """A create request in an outage: kept in `refused()`, answered 500 or, after hanging, 504."""
        refused = _record("", account, await _form(request), False, mode)
        with self._changed:
            self._refused.append(refused)
        if mode == HANG:
            await asyncio.sleep(seconds)
            return error_response(504, 20504, "Gateway Timeout")
        return error_response(500, 20500, "Internal Server Error")

    async def _outage(self) -> web.Response | None:
        """The answer to a read in an outage, if there is one."""
        with self._changed:
            mode, hang_seconds = self._mode, self._hang_seconds
        if mode == FAIL:
            return error_response(500, 20500, "Internal Server Error")
        if mode == HANG:
            await asyncio.sleep(hang_seconds)
            return error_response(504, 20504, "Gateway Timeout")
        return None

    async def _list_messages(self, request: web.Request) -> web.Response:
        """GET /2010-04-01/Accounts/{sid}/Messages.json?To=…&From=…: accepted messages, newest first."""
        outage = await self._outage()
        if outage is not None:
            return outage
        account = request.match_info["sid"]
        if not self._authorized(request) or account != self.account_sid:
            return error_response(401, 20003, "Authenticate")
        to, from_ = request.query.get("To"), request.query.get("From")
        with self._changed:
            self.lists += 1
            found = [
                self._created[m.sid]
                for m in reversed(self._records)
                if m.sid in self._created
                and to in (None, m.to)
                and from_ in (None, self._created[m.sid]["from"])
            ]
        return page_response(account, found, page_size(request))

    async def _fetch_message(self, request: web.Request) -> web.Response:
        """GET /2010-04-01/Accounts/{sid}/Messages/{message}.json."""
        outage = await self._outage()
        if outage is not None:
            return outage
        if not self._authorized(request) or request.match_info["sid"] != self.account_sid:
            return error_response(401, 20003, "Authenticate")
        message = self.message(request.match_info["message"])
        return web.json_response(message) if message else not_found_response(request.path)

    # --- served in a thread -------------------------------------------------------------------------------
    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(self.app(), access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]  # the free port the OS chose for port 0
        except BaseException as problem:
            self._problem = problem
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def start(self) -> None:
        """Serve in a background thread; return once it listens."""
        self._problem = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-twilio", daemon=True)
        self._thread.start()
        ready.wait(10)
        if self._problem is not None:
            raise RuntimeError(f"fake Twilio could not start: {self._problem}") from self._problem
        if self._loop is None:
            raise RuntimeError("fake Twilio did not start within 10 s")

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._thread = None

    @contextmanager
    def running(self) -> Iterator[FakeTwilio]:
        """The fake, serving in a background thread, for the duration of a `with` block."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # --- served in the caller's loop ----------------------------------------------------------------------
    @asynccontextmanager
    async def serving(self) -> AsyncIterator[FakeTwilio]:
        """The fake, serving in the running event loop (a load generator's), for an `async with` block."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            self.port = runner.addresses[0][1]
            yield self
        finally:
            await runner.cleanup()
