"""The e2e fake Twilio REST API with a switch for outages: answer 500, or hang past the client's timeout.

`messages()` (inherited) lists only what the fake accepted, i.e. what Twilio would have delivered; every
refused or hung request is kept apart in `refused()`, so a test can tell "retried" from "sent twice".
A hung request is never accepted: it models a request that did not reach Twilio. `lose_answers(s)` models
the other timeout: Twilio accepted the message but its answer never reached the client, which cannot tell
the two apart (Twilio's API has no idempotency key) and must look the message up before sending it again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from tests.e2e.fake_twilio import FakeTwilio, SentMessage
from tests.twilio_api import error_response

OK, FAIL, HANG, LOSE = "ok", "fail", "hang", "lose"


@dataclass(frozen=True)
class Refused:
    """A request the fake did not accept: answered with an error, or left hanging."""

    to: str
    body: str
    mode: str
    at: float  # time.monotonic() when it arrived


class ControlledTwilio(FakeTwilio):
    """`fail()` makes every request get a 500, `hang(s)` makes it wait `s` seconds; `recover()` ends it."""

    def __init__(self, account_sid: str, auth_token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(account_sid, auth_token, host, port)
        self._mode = OK
        self._hang_seconds = 0.0
        self._refused: list[Refused] = []
        self._listeners: list[Callable[[SentMessage], None]] = []
        self._lock = threading.Lock()

    # --- the switch -------------------------------------------------------------------------------------
    def fail(self) -> None:
        """From now on, answer every request with a Twilio-shaped 500."""
        with self._lock:
            self._mode = FAIL

    def hang(self, seconds: float) -> None:
        """From now on, hold every request `seconds` seconds, then answer 504 (the client gave up)."""
        with self._lock:
            self._mode, self._hang_seconds = HANG, seconds

    def lose_answers(self, seconds: float) -> None:
        """From now on, accept every message but hold the answer `seconds` seconds (the client gives up)."""
        with self._lock:
            self._mode, self._hang_seconds = LOSE, seconds

    def recover(self) -> None:
        """Accept requests again (requests already hanging still time out)."""
        with self._lock:
            self._mode = OK

    def refused(self, to: str | None = None) -> list[Refused]:
        """The requests not accepted (all, or to one recipient), in arrival order."""
        with self._lock:
            return [r for r in self._refused if to is None or r.to == to]

    def add_listener(self, listener: Callable[[SentMessage], None]) -> None:
        """Call `listener(message)` (from the fake's thread) for every accepted message."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[SentMessage], None]) -> None:
        """Stop calling a listener."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # --- the server -------------------------------------------------------------------------------------
    async def _create_message(self, request: web.Request) -> web.Response:
        with self._lock:
            mode, hang_seconds = self._mode, self._hang_seconds
        if mode in (OK, LOSE):
            response = await super()._create_message(request)
            if response.status == 201:
                # The base class appended the record and returned without yielding to the loop since.
                with self._changed:
                    record = self._records[-1]
                with self._lock:
                    listeners = list(self._listeners)
                for listener in listeners:
                    listener(record)
            if mode == LOSE:
                await asyncio.sleep(hang_seconds)
            return response
        form = await request.post()
        refused = Refused(str(form.get("To", "")), str(form.get("Body", "")), mode, time.monotonic())
        with self._lock:
            self._refused.append(refused)
        if mode == HANG:
            await asyncio.sleep(hang_seconds)
            return error_response(504, 20504, "Gateway Timeout")
        return error_response(500, 20500, "Internal Server Error")

    async def _list_messages(self, request: web.Request) -> web.Response:
        with self._lock:
            mode, hang_seconds = self._mode, self._hang_seconds
        if mode == FAIL:
            return error_response(500, 20500, "Internal Server Error")
        if mode == HANG:
            await asyncio.sleep(hang_seconds)
            return error_response(504, 20504, "Gateway Timeout")
        return await super()._list_messages(request)
