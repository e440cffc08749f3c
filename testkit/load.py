"""The load generator of the benchmark, the soak and the reliability tests.

Simulated users converse with the gateway over its two channels, each a multi-turn conversation with at
most one message waiting for its answer:

- the senders: the webchat (`POST /api/chat`, the answer is the HTTP response: `WebchatSender`) and
  WhatsApp (webhooks posted and signed as Twilio does: `WhatsAppSender`); the answer to a WhatsApp message
  is what reaches the fake Twilio for that number, matched to its user by `Replies`;
- the arrivals: at a rate whatever the answers do (`open_loop`: evenly spaced or Poisson), or from
  senders each sending its next message once the last one is answered (`run_closed`);
- the counting: each answer judged as it comes against the calibrated one (`Stats`: answered, lost and
  why, duplicated, mismatched, late, slow, latency), or each message recorded as the client saw it (`Sent`)
  for `testkit.audit` to match against the store and the fake Twilio afterwards.

Two drivers put these together, because they measure different things:

- a step (`Spec`; `run_open`, `run_closed`, `calibrate`): one channel, the benchmark's, in the caller's
  event loop (bench/load.py runs it in a process of its own);
- `Load`: background traffic over both channels in a thread of its own, for the soak and the reliability
  tests, which break parts of the stack meanwhile.

Every time is time.monotonic().
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import random
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import aiohttp

from bot.answers.notices import APOLOGY
from bot.gateway import tokens
from bot.gateway.channels.webchat import COOKIE
from bot.gateway.channels.whatsapp.render import render as whatsapp_render
from testkit.fake_twilio import FakeTwilio, SentMessage, shown
from testkit.signing import twilio_signature
from testkit.twilio_api import API_VERSION, new_sid

if TYPE_CHECKING:
    from testkit.stack import Topology

T = TypeVar("T")

WEBCHAT, WHATSAPP = "webchat", "whatsapp"
CHAT_PATH = "/api/chat"
WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
# Twilio gives a webhook 15 s; the webchat page gives up on a request after as long.
CLIENT_TIMEOUT = 15.0
Messages = list[dict[str, Any]]


# --- the senders ------------------------------------------------------------------------------------------
@dataclass
class Post:
    """One POST to the gateway and what came back."""

    status: int | None = None  # None: no answer (a timeout, a connection error)
    body: bytes = b""
    error: BaseException | None = None  # the timeout or connection error, if the post failed
    cookie: str | None = None  # the webchat conversation cookie the gateway set, if it set one
    done: float = 0.0  # when the answer was read (or the post failed)
    seconds: float = 0.0  # how long the post took

    @property
    def failure(self) -> str:
        """Why the post got no answer."""
        if isinstance(self.error, TimeoutError):
            return "timeout"
        return f"connection: {type(self.error).__name__}"

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode(errors="replace")

    def messages(self) -> Messages:
        """The bot's messages in a JSON list body (ValueError: not JSON)."""
        answer = json.loads(self.body)
        return [m for m in answer if isinstance(m, dict)] if isinstance(answer, list) else []


async def post(
    session: aiohttp.ClientSession, url: str, timeout: aiohttp.ClientTimeout | None = None, **request: Any
) -> Post:
    """POST to `url` (`request`: aiohttp's json, data, headers, params) and read the whole answer; a timeout
    or a connection error is kept in the result, never raised."""
    began = time.monotonic()
    result = Post()
    options = request if timeout is None else {**request, "timeout": timeout}
    try:
        async with session.post(url, **options) as response:
            result.status = response.status
            result.body = await response.read()
            result.done = time.monotonic()
            if morsel := response.cookies.get(COOKIE):
                result.cookie = morsel.value
    except (TimeoutError, aiohttp.ClientError) as error:
        result.error = error
        result.done = time.monotonic()
    result.seconds = time.monotonic() - began
    return result


class WebchatSender:
    """The webchat API: one user message in, the bot's messages out."""

    def __init__(self, session: aiohttp.ClientSession, timeout: aiohttp.ClientTimeout | None = None) -> None:
        self.session = session
        self.timeout = timeout

    async def post(self, base_url: str, text: str, message_id: str, cookie: str | None) -> Post:
        """POST /api/chat on the gateway at `base_url`, in the conversation of `cookie` (None: a new one)."""
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        payload = {"message": text, "id": message_id}
        return await post(
            self.session, base_url.rstrip("/") + CHAT_PATH, self.timeout, json=payload, headers=headers
        )


class WhatsAppSender:
    """Incoming WhatsApp messages, posted to the gateway's webhook as Twilio posts them, signed for the
    public URL the gateway was configured with."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        public_url: str,
        account_sid: str,
        auth_token: str,
        whatsapp_from: str,
        profile: str = "Load",
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        self.session = session
        self.signed_url = public_url.rstrip("/") + WEBHOOK_PATH
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.whatsapp_from = whatsapp_from
        self.profile = profile
        self.timeout = timeout

    def form(self, address: str, body: str, sid: str | None = None) -> dict[str, str]:
        """The form of an incoming WhatsApp text from `address` ("whatsapp:+…"); a new MessageSid unless
        one is given (Twilio's retry of a webhook repeats it)."""
        sid = sid or new_sid()
        return {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": self.profile,
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": address.removeprefix("whatsapp:+"),
            "SmsStatus": "received",
            "Body": body,
            "To": self.whatsapp_from,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": address,
            "ApiVersion": API_VERSION,
        }

    def headers(self, form: dict[str, str]) -> dict[str, str]:
        """The signature header of a form."""
        return {"X-Twilio-Signature": twilio_signature(self.auth_token, self.signed_url, form)}

    async def post(self, base_url: str, form: dict[str, str]) -> Post:
        """POST the signed form to the webhook of the gateway at `base_url`."""
        url = base_url.rstrip("/") + WEBHOOK_PATH
        return await post(self.session, url, self.timeout, data=form, headers=self.headers(form))


class Replies:
    """The texts that reached the fake Twilio for the load's WhatsApp users, matched to them by number.

    `deliver` is the fake's listener (from whichever thread serves it). A watched number's texts are kept in
    arrival order, apologies ("not available, answered later") counted apart; a text to a number not
    watched is counted as unexpected. `wait` waits for a number's n-th text.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._texts: dict[str, list[tuple[float, str]]] = {}
        self._waiters: dict[str, list[tuple[int, asyncio.Future[float]]]] = {}
        self.apologies = 0
        self.unexpected = 0

    def watch(self, address: str) -> None:
        """Keep the texts to `address` from now on."""
        self._texts.setdefault(address, [])

    def watching(self, address: str) -> bool:
        """Whether texts to `address` are kept."""
        return address in self._texts

    def forget(self, address: str) -> None:
        """Stop keeping texts to `address` (its user is done)."""
        self._texts.pop(address, None)
        for _, waiter in self._waiters.pop(address, []):
            waiter.cancel()

    def count(self, address: str) -> int:
        """How many texts (apologies aside) reached `address`."""
        return len(self._texts.get(address, ()))

    def texts(self, address: str) -> list[str]:
        """The texts (apologies aside) that reached `address`, in order."""
        return [body for _, body in self._texts.get(address, ())]

    def deliver(self, message: SentMessage) -> None:
        """The fake Twilio's listener: a message it accepted."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._arrived(message.to, message.shown(), message.at)
        else:
            with contextlib.suppress(RuntimeError):  # the load's loop is closed: nobody waits any more
                self._loop.call_soon_threadsafe(self._arrived, message.to, message.shown(), message.at)

    def _arrived(self, to: str, body: str, at: float) -> None:
        texts = self._texts.get(to)
        if texts is None:
            self.unexpected += 1
            return
        if body == APOLOGY:
            # The engine was too slow: the gateway apologised and answers once the engine catches up.
            # Not the answer (its latency runs on), not a duplicate: counted on its own.
            self.apologies += 1
            return
        texts.append((at, body))
        for count, waiter in self._waiters.get(to, []):
            if len(texts) >= count and not waiter.done():
                waiter.set_result(at)

    async def wait(self, address: str, count: int, timeout: float) -> float:
        """When the `count`-th text to `address` arrived, waiting for it at most `timeout` seconds
        (TimeoutError)."""
        texts = self._texts.setdefault(address, [])
        if len(texts) >= count:
            return texts[count - 1][0]
        waiter: asyncio.Future[float] = self._loop.create_future()
        waiting = self._waiters.setdefault(address, [])
        waiting.append((count, waiter))
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            if (count, waiter) in waiting:
                waiting.remove((count, waiter))


# --- the users --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    """One user message and a word its answer must contain ("": no check)."""

    text: str
    expect: str = ""


def whatsapp_parts(replies: list[dict[str, Any]]) -> list[str]:
    """An answer's WhatsApp messages as the customer sees them (texts, and options to tap), to compare
    with what reaches the fake Twilio (`SentMessage.shown`)."""
    rendered = whatsapp_render(replies)
    parts = []
    for index, text in enumerate(rendered.texts):
        definitions = list(((rendered.content(index) or {}).get("types") or {}).values())
        parts.append(shown(definitions[0]["body"], definitions[0]) if definitions else text)
    return parts


@dataclass(eq=False)
class Conversation:
    """One simulated user following one script."""

    channel: str  # webchat or whatsapp (the benchmark also drives "rest" and "parse")
    address: str = ""  # WhatsApp: "whatsapp:+…"; webchat: the conversation cookie ("" until one is set)
    sender: str = ""  # the store's sender id ("wa:+…", "web:a:…"), or the REST channel's sender id
    turns: list[Turn] = field(default_factory=list)
    script: int = 0  # which script (the calibrated answers are by script and turn)
    position: int = 0  # the turn being asked, or next
    busy: bool = False  # a turn of it is in flight
    expected_parts: int = 0  # WhatsApp: texts expected so far, all turns together
    timed_out: bool = False  # WhatsApp: an answer was given up on (if it comes after all, it is late)


# What the soak's and the reliability tests' users say: an opening question (with a plan) whose answer
# names the plan, then follow-ups that only name another plan: they work only if the context survived.
PLANS = ("Starter", "Specialist", "Expert", "Professional", "Enterprise")
OPENINGS = (
    "¿cuántos usuarios tiene el plan {plan}?",
    "¿cuántos usuarios trae el {plan}?",
    "cuanto almacenamiento tiene el plan {plan}",
    "cuantas interactionz incluye el plan {plan}",
)
FOLLOW_UPS = ("¿y el {plan}?", "y el plan {plan}?", "¿y en el {plan}?")


def script(rng: random.Random, turns: int | None = None) -> list[Turn]:
    """A conversation: a question about a plan, then follow-ups about other plans."""
    count = turns or rng.randint(2, 4)
    plans = rng.sample(PLANS, k=min(count, len(PLANS)))
    opening = rng.choice(OPENINGS).format(plan=plans[0])
    return [Turn(opening, plans[0])] + [
        Turn(rng.choice(FOLLOW_UPS).format(plan=plan), plan) for plan in plans[1:count]
    ]


def new_phone(rng: random.Random) -> str:
    """A WhatsApp address nobody else uses (+52 199 …, outside the demo users' numbers)."""
    return f"whatsapp:+52199{rng.randrange(10**8):08d}"


# --- the arrivals -----------------------------------------------------------------------------------------
async def arrivals(
    rate: float,
    seconds: float | None,
    *,
    poisson: random.Random | None = None,
    begin: float | None = None,
    stopping: threading.Event | None = None,
) -> AsyncIterator[float]:
    """Each arrival's due time, once it is due: `rate` a second from `begin` (default now), evenly spaced
    or, with `poisson` (a random source), at Poisson times; for `seconds` (None: until `stopping` is set).
    A late arrival is yielded at once, without waiting for the loop."""
    begin = time.monotonic() if begin is None else begin
    due, count = begin, 0
    while stopping is None or not stopping.is_set():
        due = due + poisson.expovariate(rate) if poisson is not None else begin + count / rate
        if seconds is not None and due - begin >= seconds:
            return
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        count += 1
        yield due


async def open_loop(
    schedule: AsyncIterator[float],
    speaker: Callable[[float], Conversation | None],
    turn: Callable[[Conversation, float], Coroutine[Any, Any, None]],
    tasks: set[asyncio.Task[None]],
) -> None:
    """Messages arrive on `schedule` whatever the answers do: at each arrival `speaker(due)` names who
    speaks (None: nobody is free, the arrival is skipped), whose turn runs in a task of its own, kept in
    `tasks` until it ends. Returns when the schedule ends, without waiting for the turns in flight."""
    async for due in schedule:
        conversation = speaker(due)
        if conversation is None:
            continue
        task = asyncio.ensure_future(turn(conversation, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


# --- a step of the benchmark ------------------------------------------------------------------------------
@dataclass
class TwilioSpec:
    """The fake Twilio API to serve, and what the gateway was configured with."""

    port: int
    account_sid: str
    auth_token: str
    public_url: str
    whatsapp_from: str
    # The statuses each accepted message goes through, each posted to the gateway's status callback as
    # Twilio does (none: no callbacks).
    statuses: tuple[str, ...] = ()


@dataclass
class Spec:
    """One step of load."""

    kind: str  # "closed", "open", "parse" or "calibrate"
    channel: str  # "webchat", "whatsapp", "rest" or "parse"
    base_url: str
    scripts: list[list[str]]
    # Per script, per turn: the messages of the calibrated answer (None: do not check answers).
    expected: list[list[Messages]] | None = None
    concurrency: int = 1
    rate: float = 0.0
    duration: float = 5.0
    warmup: float = 0.0
    # An answer later than `timeout` counts as slow; one that has not come after `give_up` (default: the
    # timeout) as lost. Open-loop steps wait for the backlog an overload leaves: late is not lost.
    timeout: float = 30.0
    give_up: float | None = None
    # After a WhatsApp step, how long to keep listening for late parts and duplicates, and the gateway's
    # SQLite store: the fake Twilio keeps serving until no stored message is pending (at most `settle` s),
    # so that answers the gateway retries after an overload are seen (late) and any duplicate too.
    grace: float = 2.0
    store: str | None = None
    settle: float = 60.0
    token: str = ""
    twilio: TwilioSpec | None = None
    seed: int = 7

    @property
    def wait(self) -> float:
        """How long a message's answer is waited for before the message counts as lost."""
        return self.timeout if self.give_up is None else max(self.give_up, self.timeout)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Spec:
        """The spec from its JSON form."""
        twilio = data.pop("twilio", None)
        return cls(**data, twilio=TwilioSpec(**twilio) if twilio else None)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Stats:
    """What a step counted."""

    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    answered: int = 0
    # Every answer the stack gave, warm-up included (the CPU it used is divided by this).
    answered_all: int = 0
    completed_in_window: int = 0
    lost: Counter[str] = field(default_factory=Counter)
    duplicated: int = 0
    mismatched: int = 0
    late: int = 0
    slow: int = 0
    unexpected: int = 0
    apologies: int = 0
    pending_after: int | None = None
    settle_s: float | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    conversations: int = 0

    def judge(self, texts: list[str] | None, reason: str, expected: list[str] | None, asked: str) -> bool:
        """Count one answer; True when it was answered."""
        if reason:
            self.lost[reason] += 1
            return False
        if not texts:
            self.lost["empty answer"] += 1
            return False
        self.answered += 1
        self.answered_all += 1
        if expected is not None:
            if len(texts) > len(expected):
                self.duplicated += 1
                self._sample("duplicated", asked, texts, expected)
            elif texts != expected:
                self.mismatched += 1
                self._sample("mismatched", asked, texts, expected)
        return True

    def took(self, seconds: float, timeout: float) -> None:
        """Keep an answered message's latency; later than `timeout` is slow (still answered)."""
        self.latencies.append(seconds)
        if seconds > timeout:
            self.slow += 1

    def _sample(self, what: str, asked: str, texts: list[str], expected: list[str]) -> None:
        if len(self.samples) < 5:
            self.samples.append({"what": what, "asked": asked, "got": texts, "expected": expected})

    def result(self, spec: Spec, window: float) -> dict[str, Any]:
        """The JSON result of the step."""
        ordered = sorted(self.latencies)
        lags = sorted(self.lag)
        return {
            "kind": spec.kind,
            "channel": spec.channel,
            "concurrency": spec.concurrency,
            "rate": spec.rate,
            "duration": round(window, 3),
            "sent": self.sent,
            "answered": self.answered,
            "answered_all": self.answered_all,
            "throughput": round(self.completed_in_window / window, 2) if window > 0 else 0.0,
            "offered_rate": round(self.sent / window, 2) if spec.kind == "open" and window > 0 else None,
            "latency_ms": {
                "n": len(ordered),
                "p50": round(percentile(ordered, 50) * 1000, 1),
                "p90": round(percentile(ordered, 90) * 1000, 1),
                "p99": round(percentile(ordered, 99) * 1000, 1),
                "max": round((ordered[-1] if ordered else 0.0) * 1000, 1),
                "mean": round(sum(ordered) / len(ordered) * 1000, 1) if ordered else 0.0,
            },
            "lost": sum(self.lost.values()),
            "lost_reasons": dict(self.lost),
            "duplicated": self.duplicated,
            "mismatched": self.mismatched,
            "late": self.late,
            "slow": self.slow,
            "apologies": self.apologies,
            "pending_after": self.pending_after,
            "settle_s": self.settle_s,
            "unexpected": self.unexpected,
            "samples": self.samples,
            "generator_lag_p99_ms": round(percentile(lags, 99) * 1000, 1),
            "conversations": self.conversations,
        }


def text_of(message: dict[str, Any]) -> str:
    """What a person reads of one bot message (an image's URL when it has no text)."""
    return str(message.get("text") or message.get("image") or "")


@dataclass(frozen=True)
class Reply:
    """One answer: its texts (None if lost), why it was lost, and when it was complete."""

    texts: list[str] | None
    reason: str
    done: float
    messages: Messages | None = None


class Channel(Protocol):
    """How a step sends a message on one channel and recognises its answer."""

    def new(self, script: int) -> Conversation: ...

    def expected(self, conversation: Conversation) -> list[str] | None: ...

    async def ask(self, conversation: Conversation, text: str) -> Reply: ...


class HttpChannel:
    """The webchat API, the REST channel and /model/parse: the answer is the HTTP response."""

    def __init__(self, spec: Spec, session: aiohttp.ClientSession) -> None:
        self.spec = spec
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=spec.wait)
        self.base = spec.base_url.rstrip("/")
        self.webchat = WebchatSender(session, self.timeout)

    def new(self, script: int) -> Conversation:
        return Conversation(self.spec.channel, sender=f"bench-{uuid.uuid4().hex[:16]}", script=script)

    def expected(self, conversation: Conversation) -> list[str] | None:
        if self.spec.expected is None or self.spec.channel == "parse":
            return None
        return [text_of(m) for m in self.spec.expected[conversation.script][conversation.position]]

    async def ask(self, conversation: Conversation, text: str) -> Reply:
        channel = self.spec.channel
        if channel == WEBCHAT:
            answer = await self.webchat.post(self.base, text, uuid.uuid4().hex, conversation.address or None)
        elif channel == "rest":
            payload = {"sender": conversation.sender, "message": text}
            url = f"{self.base}/webhooks/rest/webhook"
            answer = await post(self.session, url, self.timeout, json=payload)
        else:
            url, params = f"{self.base}/model/parse", {"token": self.spec.token}
            answer = await post(self.session, url, self.timeout, json={"text": text}, params=params)
        if answer.error is not None:
            return Reply(None, answer.failure, answer.done)
        if answer.status != 200:
            return Reply(None, f"http {answer.status}", answer.done)
        if channel == WEBCHAT and answer.cookie:
            conversation.address = answer.cookie
        if channel == "parse":
            try:
                parsed = json.loads(answer.body)
            except ValueError:
                return Reply(None, "not JSON", answer.done)
            intent = (parsed.get("intent") or {}).get("name") if isinstance(parsed, dict) else None
            return Reply([str(intent)] if intent else None, "" if intent else "no intent", answer.done)
        try:
            messages = answer.messages()
        except ValueError:
            return Reply(None, "not JSON", answer.done)
        return Reply([text_of(m) for m in messages], "", answer.done, messages)


class WhatsAppChannel:
    """Signed Twilio webhooks in; the answer is what reaches the fake Twilio for that number (the step
    serves `fake` in its own loop, so the time from the webhook to the answer's last part is on one clock)."""

    def __init__(self, spec: Spec, session: aiohttp.ClientSession, fake: FakeTwilio) -> None:
        assert spec.twilio is not None and spec.expected is not None
        self.spec = spec
        self.base = spec.base_url.rstrip("/")
        twilio = spec.twilio
        self.sender = WhatsAppSender(
            session,
            public_url=twilio.public_url,
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
            whatsapp_from=twilio.whatsapp_from,
            profile="Bench",
            timeout=aiohttp.ClientTimeout(total=spec.wait),
        )
        self.parts = [[whatsapp_parts(turn) for turn in script] for script in spec.expected]
        self.replies = Replies(asyncio.get_running_loop())
        self.conversations: list[Conversation] = []
        self.fake = fake
        fake.add_listener(self.replies.deliver)

    def new(self, script: int) -> Conversation:
        while True:
            # +1555 and seven random digits: never the number of a seeded (verified) demo user.
            number = f"whatsapp:+1555{secrets.randbelow(10**7):07d}"
            if not self.replies.watching(number):
                break
        self.replies.watch(number)
        conversation = Conversation(WHATSAPP, number, sender=number, script=script)
        self.conversations.append(conversation)
        return conversation

    def expected(self, conversation: Conversation) -> list[str] | None:
        return self.parts[conversation.script][conversation.position]

    async def ask(self, conversation: Conversation, text: str) -> Reply:
        parts = len(self.parts[conversation.script][conversation.position])
        conversation.expected_parts += parts
        form = self.sender.form(conversation.address, text)
        deadline = time.monotonic() + self.spec.wait
        answer = await self.sender.post(self.base, form)
        if answer.error is not None:
            # Whether the gateway stored it is unknown: its answer, if any, counts as late.
            conversation.timed_out = True
            return Reply(None, "webhook " + answer.failure, answer.done)
        if answer.status != 200:
            conversation.expected_parts -= parts
            return Reply(None, f"webhook http {answer.status}", answer.done)
        try:
            left = max(0.0, deadline - time.monotonic())
            done = await self.replies.wait(conversation.address, conversation.expected_parts, left)
        except TimeoutError:
            conversation.timed_out = True
            return Reply(None, "no reply within timeout", time.monotonic())
        first = conversation.expected_parts - parts
        texts = self.replies.texts(conversation.address)[first : conversation.expected_parts]
        return Reply(texts, "", done)

    def finish(self, stats: Stats) -> None:
        """After the grace period: parts beyond what was expected are duplicates; timed-out answers that
        came after all are late."""
        self.fake.remove_listener(self.replies.deliver)
        stats.apologies += self.replies.apologies
        stats.unexpected += self.replies.unexpected
        for conversation in self.conversations:
            extra = self.replies.count(conversation.address) - conversation.expected_parts
            if extra > 0:
                stats.duplicated += extra
            if conversation.timed_out and extra >= 0:
                stats.late += 1


async def run_closed(spec: Spec, channel: Channel, stats: Stats) -> float:
    """`concurrency` senders, each sending its next message as soon as the previous one is answered."""
    begin = time.monotonic()
    measure_from = begin + spec.warmup
    stop_at = measure_from + spec.duration

    async def sender(index: int) -> None:
        rng = random.Random(spec.seed * 1000 + index)
        while time.monotonic() < stop_at:
            conversation = channel.new(rng.randrange(len(spec.scripts)))
            stats.conversations += 1
            for turn, text in enumerate(spec.scripts[conversation.script]):
                conversation.position = turn
                started = time.monotonic()
                if started >= stop_at:
                    return
                reply = await channel.ask(conversation, text)
                measured = started >= measure_from
                if measured:
                    stats.sent += 1
                    answered = stats.judge(reply.texts, reply.reason, channel.expected(conversation), text)
                    if answered:
                        stats.took(reply.done - started, spec.timeout)
                else:
                    answered = reply.texts is not None and bool(reply.texts)
                    stats.answered_all += answered
                if answered and measure_from <= reply.done <= stop_at:
                    stats.completed_in_window += 1
                if not answered:
                    break  # a lost message ends the conversation: its context is unknown now

    await asyncio.gather(*(sender(i) for i in range(spec.concurrency)))
    return spec.duration


async def run_open(spec: Spec, channel: Channel, stats: Stats) -> float:
    """Messages arrive at `rate` per second (Poisson) from idle senders, whatever the answers do; a new
    sender starts whenever none is idle."""
    rng = random.Random(spec.seed)
    idle: deque[Conversation] = deque()
    running: set[asyncio.Task[None]] = set()
    next_script = rng.randrange(len(spec.scripts))
    begin = time.monotonic() + 0.05
    stop_at = begin + spec.duration

    def speaker(due: float) -> Conversation:
        nonlocal next_script
        stats.lag.append(max(0.0, time.monotonic() - due))
        if idle:
            conversation = idle.popleft()
        else:
            conversation = channel.new(next_script % len(spec.scripts))
            next_script += 1
            stats.conversations += 1
        stats.sent += 1
        return conversation

    async def handle(conversation: Conversation, due: float) -> None:
        text = spec.scripts[conversation.script][conversation.position]
        reply = await channel.ask(conversation, text)
        answered = stats.judge(reply.texts, reply.reason, channel.expected(conversation), text)
        if not answered:
            return  # the conversation is abandoned
        # From the scheduled arrival: the generator's own lag counts against us, never for us.
        stats.took(reply.done - due, spec.timeout)
        if begin <= reply.done <= stop_at:
            stats.completed_in_window += 1
        conversation.position += 1
        if conversation.position < len(spec.scripts[conversation.script]):
            idle.append(conversation)

    schedule = arrivals(spec.rate, spec.duration, poisson=rng, begin=begin)
    await open_loop(schedule, speaker, handle, running)
    if running:
        await asyncio.gather(*list(running))
    return spec.duration


async def calibrate(spec: Spec, channel: HttpChannel) -> list[list[Messages]]:
    """Every script once, alone, turn by turn: the answers the load's answers are compared with."""
    answers: list[list[Messages]] = []
    for index, lines in enumerate(spec.scripts):
        conversation = channel.new(index)
        turns: list[Messages] = []
        for turn, text in enumerate(lines):
            conversation.position = turn
            reply = await channel.ask(conversation, text)
            if reply.messages is None:
                raise RuntimeError(f"calibration: {text!r} got no answer ({reply.reason})")
            turns.append(reply.messages)
        answers.append(turns)
    return answers


# --- background traffic: the soak and the reliability tests -----------------------------------------------
@dataclass
class Sent:
    """One user message and what became of it, as the client saw it."""

    channel: str
    sender: str  # the store's sender id: "wa:+52…" or "web:a:…"
    address: str  # WhatsApp: "whatsapp:+52…"; webchat: the conversation cookie
    external_id: str  # MessageSid or the webchat message id
    text: str
    expect: str | None
    replica: int
    started: float  # time.monotonic() of the first post
    statuses: list[int | None] = field(default_factory=list)  # each post's status (None: no answer)
    errors: list[str] = field(default_factory=list)  # each refusal's error code (or exception)
    durations: list[float] = field(default_factory=list)  # seconds each post took to get its answer
    queued: bool = False  # the webchat was told its message is stored and will be answered
    replies: list[dict[str, Any]] | None = None  # webchat: the bot's messages the client finally got
    answered_at: float | None = None  # webchat: when the client got them
    params: dict[str, str] | None = None  # WhatsApp: the signed form, re-posted as Twilio's retry

    @property
    def status(self) -> int | None:
        """The latest post's status."""
        return self.statuses[-1] if self.statuses else None

    @property
    def accepted(self) -> bool:
        """The gateway took it: 200 (WhatsApp: stored; webchat: answered)."""
        return self.status == 200

    def record(self, answer: Post) -> None:
        """Keep what one post of it (the first or a retry) got."""
        if answer.error is not None:
            self.errors.append(type(answer.error).__name__)
        elif answer.status != 200:
            self.errors.append(_error_code(answer.text))
            if self.channel == WEBCHAT:
                with contextlib.suppress(ValueError, AttributeError):
                    self.queued = self.queued or bool(json.loads(answer.body).get("queued"))
        elif self.channel == WEBCHAT:
            try:
                self.replies = answer.messages()
                self.answered_at = answer.done
            except ValueError:
                self.errors.append("not JSON")
        self.durations.append(answer.seconds)
        self.statuses.append(answer.status)


def _error_code(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:60] or "empty"
    return str(data.get("error")) if isinstance(data, dict) else "unexpected"


class Load:
    """Posts messages at `rate` per second over both channels from a background thread (bounded).

    `wait_for_replies`: a WhatsApp user waits (up to `reply_timeout`) for the answer before the next
    turn. `webchat_retry`: a webchat user told "queued" retries the same message id after that many
    seconds, doubling the pause, as the page does. Otherwise nobody waits or retries, and the test
    re-posts what was refused (`retry_refused`).
    """

    def __init__(
        self,
        topology: Topology,
        rate: float,
        *,
        whatsapp_share: float = 0.5,
        conversations: int = 20,
        wait_for_replies: bool = False,
        reply_timeout: float = 30.0,
        webchat_retry: float | None = None,
        give_up_after: float = 300.0,
        seed: int | None = None,
        turns: int | None = None,
    ) -> None:
        self.topology = topology
        self.rate = rate
        self.whatsapp_share = whatsapp_share
        self.wait_for_replies = wait_for_replies
        self.reply_timeout = reply_timeout
        self.webchat_retry = webchat_retry
        self.give_up_after = give_up_after
        self.turns = turns
        self.rng = random.Random(seed)
        self.records: list[Sent] = []
        self.skipped = 0  # ticks with no idle user (the offered rate was not reached)
        self.pool = {
            WHATSAPP: [self._conversation(WHATSAPP) for _ in range(conversations)],
            WEBCHAT: [self._conversation(WEBCHAT) for _ in range(conversations)],
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="load", daemon=True)
        self._thread.start()
        self._session: aiohttp.ClientSession = self.call(self._open())
        settings = topology.settings
        self._webchat = WebchatSender(self._session)
        self._whatsapp = WhatsAppSender(
            self._session,
            public_url=settings.public_url,
            account_sid=settings.twilio_account_sid or "",
            auth_token=settings.twilio_auth_token or "",
            whatsapp_from=settings.twilio_whatsapp_from or "",
        )
        self.replies = Replies(self._loop)
        self._generator: concurrent.futures.Future[None] | None = None
        self._stopping = threading.Event()
        topology.twilio.add_listener(self.replies.deliver)

    # --- control ------------------------------------------------------------------------------------------
    def call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the load's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def start(self, seconds: float | None = None) -> None:
        """Start posting (for `seconds`, or until `stop()`)."""
        self._stopping.clear()
        self._generator = asyncio.run_coroutine_threadsafe(self._generate(seconds), self._loop)

    def stop(self, wait: float = 60.0) -> None:
        """Stop posting and wait (bounded) for the posts in flight."""
        self._stopping.set()
        if self._generator is not None:
            with contextlib.suppress(Exception):
                self._generator.result(wait)
        with contextlib.suppress(Exception):
            self.call(self._drain(), wait + 5)

    def close(self) -> None:
        """Stop, close the HTTP session and end the thread."""
        self.topology.twilio.remove_listener(self.replies.deliver)
        with contextlib.suppress(Exception):
            self.stop(wait=30)
        with contextlib.suppress(Exception):
            self.call(self._session.close(), 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def running(self) -> bool:
        """True while the generator posts."""
        return self._generator is not None and not self._generator.done()

    # --- what the tests use ---------------------------------------------------------------------------------
    def senders(self, channel: str | None = None) -> set[str]:
        """Store sender ids of every user who posted."""
        return {r.sender for r in self.records if channel is None or r.channel == channel}

    def recipients(self) -> set[str]:
        """WhatsApp addresses of every user who posted."""
        return {r.address for r in self.records if r.channel == WHATSAPP}

    def between(self, start: float, end: float, channel: str | None = None) -> list[Sent]:
        """Messages first posted in [start, end) (time.monotonic())."""
        return [
            r
            for r in list(self.records)
            if start <= r.started < end and (channel is None or r.channel == channel)
        ]

    def retry_refused(self, timeout: float = 60.0) -> int:
        """Re-post every message the gateway has not taken or answered yet (same MessageSid or message id),
        as Twilio's retry and the webchat page's retry do; return how many were re-posted."""
        return self.call(self._retry_refused(), timeout)

    def ask(self, conversation: Conversation, text: str, expect: str | None = None, replica: int = 0) -> Sent:
        """Post one message now, from the caller's thread (a chosen user, e.g. a follow-up)."""
        return self.call(self._post(conversation, Turn(text, expect or ""), replica), CLIENT_TIMEOUT + 10)

    def conversation(self, channel: str) -> Conversation:
        """A new user, not part of the background load."""
        return self._conversation(channel)

    # --- inside the loop ------------------------------------------------------------------------------------
    async def _open(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=400),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT),
        )

    def _conversation(self, channel: str) -> Conversation:
        turns = script(self.rng, self.turns)
        if channel == WHATSAPP:
            address = new_phone(self.rng)
            return Conversation(WHATSAPP, address, f"wa:{address.removeprefix('whatsapp:')}", turns)
        conversation, cookie = tokens.new_conversation(self.topology.settings)
        return Conversation(WEBCHAT, cookie, f"web:a:{conversation}", turns)

    async def _generate(self, seconds: float | None) -> None:
        schedule = arrivals(self.rate, seconds, stopping=self._stopping)
        await open_loop(schedule, self._speaker, self._turn, self._tasks)

    def _speaker(self, _due: float) -> Conversation | None:
        """An idle user, of the channel drawn for this tick if one is idle (None: nobody is)."""
        first = WHATSAPP if self.rng.random() < self.whatsapp_share else WEBCHAT
        conversation = self._idle(first) or self._idle(WEBCHAT if first == WHATSAPP else WHATSAPP)
        if conversation is None:
            self.skipped += 1
            return None
        conversation.busy = True
        return conversation

    def _idle(self, channel: str) -> Conversation | None:
        pool = self.pool[channel]
        for _ in range(8):
            candidate = self.rng.choice(pool)
            if not candidate.busy:
                return candidate
        return next((c for c in pool if not c.busy), None)

    async def _drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _turn(self, conversation: Conversation, _due: float) -> None:
        try:
            turn = conversation.turns[conversation.position]
            conversation.position += 1
            replica = self.rng.randrange(self.topology.replicas)
            before = 0
            if conversation.channel == WHATSAPP:
                self.replies.watch(conversation.address)
                before = self.replies.count(conversation.address)
            sent = await self._post(conversation, turn, replica)
            if self.wait_for_replies and conversation.channel == WHATSAPP and sent.accepted:
                with contextlib.suppress(TimeoutError):
                    await self.replies.wait(conversation.address, before + 1, self.reply_timeout)
            if self.webchat_retry is not None and conversation.channel == WEBCHAT:
                deadline = time.monotonic() + self.give_up_after
                pause = self.webchat_retry
                while not sent.accepted and time.monotonic() < deadline and not self._stopping.is_set():
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 16.0)
                    await self._repost(sent)
        finally:
            conversation.busy = False
            if conversation.position >= len(conversation.turns):
                pool = self.pool[conversation.channel]
                pool[pool.index(conversation)] = self._conversation(conversation.channel)
                self.replies.forget(conversation.address)

    async def _post(self, conversation: Conversation, turn: Turn, replica: int) -> Sent:
        sent = Sent(
            conversation.channel,
            conversation.sender,
            conversation.address,
            "",
            turn.text,
            turn.expect or None,
            replica,
            time.monotonic(),
        )
        if conversation.channel == WHATSAPP:
            sent.params = self._whatsapp.form(conversation.address, turn.text)
            sent.external_id = sent.params["MessageSid"]
        else:
            sent.external_id = uuid.uuid4().hex
        self.records.append(sent)
        await self._repost(sent)
        return sent

    async def _repost(self, sent: Sent) -> None:
        """One post of a message (first or retry)."""
        url = self.topology.gateway_url(sent.replica)
        if sent.channel == WHATSAPP:
            assert sent.params is not None
            answer = await self._whatsapp.post(url, sent.params)
        else:
            answer = await self._webchat.post(url, sent.text, sent.external_id, sent.address)
        sent.record(answer)

    async def _retry_refused(self) -> int:
        todo = [r for r in self.records if not r.accepted]
        await asyncio.gather(*(self._repost(r) for r in todo))
        return len(todo)
