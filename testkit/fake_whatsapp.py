"""The WhatsApp side of the fake Twilio (a mixin of `FakeTwilio`): its clock and WhatsApp's 24-hour customer
service window, content templates and media, the statuses an accepted message goes through (and the status
callbacks that report them), and customers' messages posted to the gateway.

- The window (https://www.twilio.com/docs/api/errors/63016): a business may send free text, media or any
  content to a customer within 24 hours of the customer's last message; after that only an approved
  template (ContentSid), never a list picker. Twilio accepts the request (201, "queued") and the message
  fails later with 63016, reported by a status callback (MessageStatus "undelivered" by default here:
  `window_failure_status`, as Twilio does not document which of failed/undelivered it is) and shown by a
  fetch of the message (status, error_code, error_message).
- Statuses: after an accepted create, the message goes through `statuses` (none by default), or fails
  (the window, `fail_next`, a file WhatsApp refuses, more than 3 quick replies in session without
  approval: 63005), each step `callback_delay` seconds after the last; with `deliver_callbacks(base)` each
  is posted to base + the StatusCallback's path, signed for the StatusCallback URL.
- Error texts: https://www.twilio.com/docs/api/errors/<code> (63024 invalid recipient, 63018 rate limit
  for the channel, 63014 blocked by the user's action, 63032 maps to WhatsApp's 472 in Twilio's table
  https://www.twilio.com/docs/whatsapp/api/error-code-mapping).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from testkit.fake_content import (
    LIST_PICKER,
    QUICK_REPLY,
    QUICK_REPLY_SESSION_MAX,
    Content,
    ContentStore,
    Templates,
)
from testkit.fake_media import MediaFetch, MediaStore, whatsapp_refusal
from testkit.fake_webhooks import WEBHOOK_PATH, Post, local_target, message_type, post_signed, status_form
from testkit.twilio_api import API_VERSION, message_json, new_sid, rfc2822

if TYPE_CHECKING:
    from testkit.fake_twilio import SentMessage

Switch = TypeVar("Switch", bound=tuple[Any, ...])
WINDOW = timedelta(hours=24)
SANDBOX_SENDER = "whatsapp:+14155238886"  # Twilio's WhatsApp sandbox number, the fake's sender by default
# Texts of the errors the fake reports by default (https://www.twilio.com/docs/api/errors/<code>).
ERRORS = {
    21211: "The 'To' number {to} is not a valid phone number.",
    63005: "Channel did not accept given content. Please see Channel specific error message for more "
    "information",
    63014: "Channel message blocked by user action",
    63016: "Failed to send freeform message because you are outside the allowed window. If you are using "
    "WhatsApp, please use a Message Template.",
    63018: "Rate limit exceeded for Channel",
    63024: "Invalid message recipient",
}


@dataclass(frozen=True)
class Failure:
    """How an accepted message fails later: its final status and Twilio's error."""

    status: str
    code: int
    message: str


class WhatsAppModel:
    """What `FakeTwilio` models of WhatsApp (its state is set by `_init_whatsapp`)."""

    # Set by FakeTwilio.
    account_sid: str
    auth_token: str
    _changed: threading.Condition
    _records: list[SentMessage]
    _created: dict[str, dict[str, Any]]
    _loop: asyncio.AbstractEventLoop | None

    def _init_whatsapp(
        self, sender: str, templates: Mapping[str, str] | Iterable[str] | None, enforce_window: bool
    ) -> None:
        self.sender = sender  # the WhatsApp sender: To of incoming messages, From of a service's messages
        self.enforce_window = enforce_window  # True: a customer never heard from is outside the window
        self.window = WINDOW
        self.window_failure_status = "undelivered"
        self.statuses: list[str] = []  # what an accepted message goes through, e.g. ["sent", "delivered"]
        self.callback_delay = 0.05  # seconds before each status (the client has its answer by then)
        self.channel_install = new_sid("XE")
        self._offset = timedelta()
        self.contents = ContentStore(self.account_sid, self.now)
        self.templates = Templates(self.contents)
        self.media = MediaStore(self.account_sid, self.now)
        self._wrote: dict[str, datetime] = {}  # each customer's last message, by WhatsApp address
        self._failures: list[tuple[str | None, Failure]] = []
        self._incoming: dict[str, dict[str, Any]] = {}  # the customers' messages, by SID
        self._callback_base: str | None = None
        self._webhook: tuple[str, str, str] | None = None
        self._posts: list[Post] = []
        self._pending = 0
        self._tasks: set[asyncio.Task[None]] = set()
        for sid in templates or ():
            self.templates[sid] = templates[sid] if isinstance(templates, Mapping) else ""

    def fail_next(
        self, to: str | None, code: int, message: str | None = None, *, status: str = "failed"
    ) -> None:
        """Accept the next message to `to` (None: to anyone), then fail it with `code`, once (63024 invalid
        recipient, 63018 rate limit, 63014 blocked by the user, …)."""
        text = message or ERRORS.get(code, f"Twilio error {code}")
        with self._changed:
            self._failures.append((to, Failure(status, code, text)))

    # --- the clock and the customer service window -------------------------------------------------------
    def now(self) -> datetime:
        """The fake's time (UTC): the real time, moved on by `advance`."""
        with self._changed:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0) -> datetime:
        """Move the fake's clock on; return the new time."""
        with self._changed:
            self._offset += timedelta(seconds=seconds, minutes=minutes, hours=hours)
        return self.now()

    def customer_wrote(self, address: str, at: datetime | None = None) -> None:
        """Record a message from this WhatsApp address ("whatsapp:+…"), now or `at`: its window opens."""
        with self._changed:
            self._wrote[address] = at or self.now()

    def last_inbound(self, address: str) -> datetime | None:
        """When this customer last wrote, if the fake knows."""
        with self._changed:
            return self._wrote.get(address)

    def in_window(self, address: str) -> bool:
        """Whether free text may reach this customer now."""
        last = self.last_inbound(address)
        if last is None:
            return not self.enforce_window
        return self.now() - last < self.window

    # --- content, media ---------------------------------------------------------------------------------
    def add_content(
        self,
        types: dict[str, Any],
        *,
        friendly_name: str = "",
        language: str = "es",
        variables: Mapping[str, str] | None = None,
        approved: bool = False,
        sid: str | None = None,
    ) -> str:
        """Create a content template without going through HTTP; return its SID (ValueError if invalid)."""
        content = self.contents.create(
            types,
            friendly_name=friendly_name,
            language=language,
            variables=variables,
            approved=approved,
            sid=sid,
        )
        return content.sid

    def approve(self, content_sid: str, approved: bool = True) -> None:
        """WhatsApp approved this template for business-initiated messages (KeyError: no such content;
        ValueError: a list picker, which cannot be approved)."""
        self.contents.approve(content_sid, approved)

    def content(self, content_sid: str) -> Content | None:
        """A content template, if it exists."""
        return self.contents.get(content_sid)

    def add_media(self, content_type: str, data: bytes, message_sid: str | None = None) -> str:
        """Store a file; return its URL as a webhook's MediaUrl{i} gives it."""
        return self.media.add(content_type, data, message_sid).url

    def declare_media(self, url: str, content_type: str, size: int) -> None:
        """What an outbound MediaUrl the fake cannot fetch serves (so WhatsApp's limits apply to it)."""
        self.media.declare(url, content_type, size)

    def media_fetches(self) -> list[MediaFetch]:
        """Every GET of a media file, in order."""
        return self.media.fetched()

    @property
    def media_redirect(self) -> bool:
        """Whether a media URL answers 307 to a CDN URL (as Twilio does) rather than the bytes."""
        return self.media.redirect

    @media_redirect.setter
    def media_redirect(self, value: bool) -> None:
        self.media.redirect = value

    def posts(self, kind: str | None = None) -> list[Post]:
        """What the fake posted to the gateway ("status" callbacks, "inbound" messages), in order."""
        with self._changed:
            return [p for p in self._posts if kind is None or p.kind == kind]

    def callbacks(self, sid: str | None = None) -> list[Post]:
        """The status callbacks posted (all, or one message's), in order."""
        return [p for p in self.posts("status") if sid is None or p.sid == sid]

    def wait_settled(self, timeout: float = 10.0) -> None:
        """Wait until every status due has been applied and posted. Blocks: for a fake served in a thread."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending:
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"fake Twilio: {self._pending} message(s) still progressing")

    async def settle(self, timeout: float = 10.0) -> None:
        """`wait_settled` for a test's event loop (the fake may be served in it)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                if not self._pending:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"fake Twilio: {self._pending} message(s) still progressing")
            await asyncio.sleep(0.01)

    # --- posting to the gateway ----------------------------------------------------------------------------
    def deliver_callbacks(self, local_base_url: str | None) -> None:
        """Post status callbacks to `local_base_url` + each StatusCallback's path (None: stop posting)."""
        with self._changed:
            self._callback_base = local_base_url

    def webhooks_to(self, local_base_url: str, public_url: str, webhook_path: str = WEBHOOK_PATH) -> None:
        """Where `inbound` posts: local base + webhook path, signed for public URL + webhook path."""
        with self._changed:
            self._webhook = (local_base_url.rstrip("/"), public_url.rstrip("/"), webhook_path)

    async def inbound(
        self,
        from_: str,
        body: str = "",
        *,
        profile_name: str | None = None,
        media: Sequence[tuple[str, bytes]] = (),
        button: tuple[str, str] | None = None,
        list_item: tuple[str, str] | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        address: str | None = None,
        label: str | None = None,
        in_reply_to: str | None = None,
    ) -> int:
        """A customer's WhatsApp message, posted to the gateway as Twilio posts it; return the gateway's
        status. `button` = (payload, text) of a quick reply tapped, `list_item` = (id, title) of a list
        picker's choice, `media` = [(content type, bytes)]. Opens the customer's window."""
        post = self._incoming_post(
            from_,
            body,
            profile_name,
            media,
            button,
            list_item,
            (latitude, longitude, address, label),
            in_reply_to,
        )
        await post_signed(post, self.auth_token)
        with self._changed:
            self._changed.notify_all()
        if post.status is None:
            raise ConnectionError(
                f"fake Twilio could not reach the gateway at {post.posted_to}: {post.error}"
            )
        return post.status

    def inbound_sync(self, from_: str, body: str = "", **options: Any) -> int:
        """`inbound` from a thread without an event loop (for a fake served in a thread: it posts from the
        fake's loop; never call it from that loop)."""
        coroutine = self.inbound(from_, body, **options)
        if self._loop is not None and self._loop.is_running():
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)
        return asyncio.run(coroutine)

    def _incoming_post(
        self,
        from_: str,
        body: str,
        profile_name: str | None,
        media: Sequence[tuple[str, bytes]],
        button: tuple[str, str] | None,
        list_item: tuple[str, str] | None,
        location: tuple[float | None, float | None, str | None, str | None],
        in_reply_to: str | None,
    ) -> Post:
        with self._changed:
            if self._webhook is None:
                raise RuntimeError("fake Twilio: call webhooks_to(local_base_url, public_url) first")
            local_base, public, path = self._webhook
        sid = new_sid("MM" if media else "SM")
        self.customer_wrote(from_)
        files = [self.media.add(content_type, data, sid) for content_type, data in media]
        text = body or (button[1] if button else "") or (list_item[1] if list_item else "")
        latitude, longitude, address, label = location
        kind = message_type(
            [f.content_type for f in files],
            button=bool(button),
            list_item=bool(list_item),
            location=latitude is not None,
        )
        form = {"SmsMessageSid": sid, "NumMedia": str(len(files)), "SmsSid": sid, "SmsStatus": "received"}
        form |= {
            "Body": text,
            "To": self.sender,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
        }
        form |= {
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
            "MessageType": kind,
        }
        form["WaId"] = from_.split(":", 1)[-1].lstrip("+")
        if profile_name is not None:
            form["ProfileName"] = profile_name
        for n, file in enumerate(files):
            form[f"MediaContentType{n}"], form[f"MediaUrl{n}"] = file.content_type, file.url
        if button:
            form["ButtonPayload"], form["ButtonText"] = button
        if list_item:
            form["ListId"], form["ListTitle"] = list_item
        if latitude is not None and longitude is not None:
            form["Latitude"], form["Longitude"] = str(latitude), str(longitude)
            form |= {key: value for key, value in (("Address", address), ("Label", label)) if value}
        with self._changed:
            replied = in_reply_to
            if replied is None and (button or list_item):
                ours = [m.sid for m in self._records if m.accepted and m.to == from_]
                replied = ours[-1] if ours else None
            if replied:
                form["OriginalRepliedMessageSender"], form["OriginalRepliedMessageSid"] = self.sender, replied
            post = Post("inbound", sid, public + path, local_base + path, form)
            self._posts.append(post)
            self._incoming[sid] = message_json(
                self.account_sid,
                sid,
                self.sender,
                from_,
                text,
                self.now(),
                status="received",
                num_media=len(files),
                direction="inbound",
            )
        return post

    def _fate(self, to: str, content: Content | None, media_urls: list[str]) -> Failure | None:
        """How an accepted message will fail, if it will."""
        failure = self._take(self._failures, to)
        if failure is not None:
            return failure[1]
        template = content is not None and content.approved and content.kind != LIST_PICKER
        if not template and not self.in_window(to):
            return Failure(self.window_failure_status, 63016, ERRORS[63016])
        for url in media_urls:
            described = self.media.described(url)
            refusal = whatsapp_refusal(*described) if described else None
            if refusal:
                return Failure("failed", *refusal)
        rich = content is not None and not content.approved and content.kind == QUICK_REPLY
        if rich and content and len(content.types[QUICK_REPLY].get("actions", [])) > QUICK_REPLY_SESSION_MAX:
            return Failure("failed", 63005, ERRORS[63005])  # only 3 buttons in session without approval
        return None

    def _progress_later(
        self, sid: str, callback: str | None, failure: Failure | None, structured: bool
    ) -> None:
        steps = [failure.status] if failure else list(self.statuses)
        if not steps:
            return
        with self._changed:
            self._pending += 1
        task = asyncio.get_running_loop().create_task(
            self._progress(sid, steps, callback, failure, structured)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _progress(
        self, sid: str, steps: list[str], callback: str | None, failure: Failure | None, structured: bool
    ) -> None:
        """Take a message through its statuses: the resource updated, each status posted if asked to."""
        try:
            for state in steps:
                await asyncio.sleep(self.callback_delay)
                with self._changed:
                    message, base, stamp = self._created[sid], self._callback_base, rfc2822(self.now())
                    message |= {"status": state, "date_updated": stamp}
                    if state == "sent":
                        message["date_sent"] = stamp
                    if failure:
                        message |= {"error_code": failure.code, "error_message": failure.message}
                    to, from_, service = message["to"], message["from"], message["messaging_service_sid"]
                if callback is None or base is None:
                    continue
                form = status_form(
                    account=self.account_sid,
                    sid=sid,
                    to=to,
                    from_=from_,
                    status=state,
                    channel_install=self.channel_install,
                    error_code=failure.code if failure else None,
                    structured=structured,
                    service=service,
                )
                post = Post("status", sid, callback, local_target(callback, base), form)
                with self._changed:
                    self._posts.append(post)
                await post_signed(post, self.auth_token)
                with self._changed:
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._pending -= 1
                self._changed.notify_all()

    def _take(self, pending: list[Switch], to: str) -> Switch | None:
        """The first one-shot switch for this recipient (or for anyone), removed; None if none."""
        with self._changed:
            for n, entry in enumerate(pending):
                if entry[0] in (None, to):
                    return pending.pop(n)
        return None
