"""A fake of Twilio's REST API (Messages resource) for the end-to-end tests.

It runs an aiohttp server on 127.0.0.1 in a background thread with its own event loop, so the
gateway's real Twilio client (pointed at it with TWILIO_API_BASE) sends its outbound WhatsApp
messages here. Every request is recorded; tests read, clear and wait for the records.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.twilio_api import (
    MESSAGES_PATH,
    created_response,
    error_response,
    message_json,
    new_sid,
    page_response,
    page_size,
)

# Twilio refuses a longer body with error 21617; the fake does the same so an unsplit answer fails loudly.
BODY_LIMIT = 1600


@dataclass(frozen=True)
class SentMessage:
    """One POST to the Messages resource, as the fake received it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    at: float  # time.monotonic() when it arrived
    accepted: bool  # False: the fake answered with a Twilio error (it was not "sent")


class FakeTwilio:
    """The fake API: `with FakeTwilio(sid, token).running() as fake: ... fake.base_url ...`."""

    def __init__(self, account_sid: str, auth_token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self._records: list[SentMessage] = []
        self._created: dict[str, dict[str, Any]] = {}  # what a list of messages returns, by SID
        self.lists = 0  # how many list requests arrived (uncertain sends being checked)
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._problem: BaseException | None = None

    @property
    def base_url(self) -> str:
        """What TWILIO_API_BASE must be set to."""
        return f"http://{self.host}:{self.port}"

    # --- what the tests use -----------------------------------------------------------------------------
    def messages(self, to: str | None = None) -> list[SentMessage]:
        """The recorded requests (all, or those to one recipient), in arrival order."""
        with self._changed:
            return [m for m in self._records if to is None or m.to == to]

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._changed:
            self._records.clear()

    def wait_for(
        self, to: str, count: int = 1, timeout: float = 20.0, settle: float = 0.0
    ) -> list[SentMessage]:
        """Wait until at least `count` messages went to `to`; then, if `settle` > 0, until none arrives for
        `settle` seconds (so a reply split into parts is complete). Return them all, in order."""
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

    # --- the server -------------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    async def _create_message(self, request: web.Request) -> web.Response:
        """POST /2010-04-01/Accounts/{sid}/Messages.json."""
        account = request.match_info["sid"]
        if not self._authorized(request) or account != self.account_sid:
            return error_response(401, 20003, "Authenticate")
        form = await request.post()
        fields = {key: str(value) for key, value in form.items()}
        to, from_, body = fields.get("To", ""), fields.get("From", ""), fields.get("Body", "")
        sid = new_sid()
        accepted = bool(to and from_ and body) and len(body) <= BODY_LIMIT
        record = SentMessage(
            sid, account, to, from_, body, fields.get("StatusCallback"), time.monotonic(), accepted
        )
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()
        if not to or not from_:
            return error_response(400, 21604, "A 'To' and a 'From' phone number are required.")
        if not body:
            return error_response(400, 21619, "A text message body or media urls must be specified.")
        if len(body) > BODY_LIMIT:
            return error_response(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        message = message_json(account, sid, to, from_, body)
        with self._changed:
            self._created[sid] = message
        return created_response(message)

    async def _list_messages(self, request: web.Request) -> web.Response:
        """GET /2010-04-01/Accounts/{sid}/Messages.json?To=…&From=…: accepted messages, newest first."""
        account = request.match_info["sid"]
        if not self._authorized(request) or account != self.account_sid:
            return error_response(401, 20003, "Authenticate")
        to, from_ = request.query.get("To"), request.query.get("From")
        with self._changed:
            self.lists += 1
            found = [
                self._created[m.sid]
                for m in reversed(self._records)
                if m.sid in self._created and to in (None, m.to) and from_ in (None, m.from_)
            ]
        return page_response(account, found, page_size(request))

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self._create_message)
        app.router.add_get(MESSAGES_PATH, self._list_messages)
        return app

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(self._app(), access_log=None)
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
        """The fake, serving, for the duration of a `with` block."""
        self.start()
        try:
            yield self
        finally:
            self.stop()
