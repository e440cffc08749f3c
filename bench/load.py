"""The load generator: one step of load, in its own process, so it never shares a core's event loop with
the stack it measures.

    python -m bench.load < spec.json > result.json

The spec (`Spec`) says what to drive and how: closed loop (N concurrent senders, each waiting for its
answer before its next message), open loop (messages arrive at a fixed mean rate, Poisson, whatever the
answers do) or bare NLU parsing; over the webchat API, signed WhatsApp webhooks, Rasa's REST channel
(the stock bot) or the engine's /model/parse. Each simulated sender is one conversation that follows a
multi-turn script; a sender never has more than one message waiting for its answer.

For WhatsApp this process also serves the fake Twilio REST API the gateway sends its answers to, so
the time from the webhook POST to the arrival of the answer's last part is measured on one clock. When
the engine is slower than the gateway's ENGINE_TIMEOUT_SECONDS, the gateway sends an apology first and
the answer later: apologies are counted apart, and the latency runs until the answer itself.

Every answer is checked against the calibration (the same script answered once, alone): a message
with no answer within the give-up time is lost, one answered after the timeout (30 s) is slow but
answered (its latency counts), more messages than calibrated are duplicates, different texts are
mismatches (wrong answers under load).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import random
import secrets
import sqlite3
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.answers.notices import APOLOGY
from bot.gateway.render import for_text_channel
from tests.twilio_api import (
    API_VERSION,
    MESSAGES_PATH,
    created_response,
    error_response,
    message_json,
    new_sid,
)

WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
Messages = list[dict[str, Any]]


# --- the spec and the result ------------------------------------------------------------------------------
@dataclass
class TwilioSpec:
    """The fake Twilio API to serve, and what the gateway was configured with."""

    port: int
    account_sid: str
    auth_token: str
    public_url: str
    whatsapp_from: str


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


# --- channels ---------------------------------------------------------------------------------------------
@dataclass
class Conversation:
    """One simulated sender following one script."""

    script: int
    turn: int = 0
    sender: str = ""  # the REST channel's sender id, or the WhatsApp number
    cookie: str | None = None  # the webchat's anonymous conversation cookie
    expected_total: int = 0  # WhatsApp: parts expected so far
    received: list[tuple[float, str]] = field(default_factory=list)
    waiter: asyncio.Future[float] | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class Reply:
    """One answer: its texts (None if lost), why it was lost, and when it was complete."""

    texts: list[str] | None
    reason: str
    done: float
    messages: Messages | None = None


class Channel(Protocol):
    """How one channel sends a message and recognises its answer."""

    def new(self, script: int) -> Conversation: ...

    def expected(self, conversation: Conversation) -> list[str] | None: ...

    async def ask(self, conversation: Conversation, text: str) -> Reply: ...


def _failure(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timeout"
    return f"connection: {type(error).__name__}"


class HttpChannel:
    """The webchat API, the REST channel and /model/parse: the answer is the HTTP response."""

    def __init__(self, spec: Spec, session: aiohttp.ClientSession) -> None:
        self.spec = spec
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=spec.wait)
        base = spec.base_url.rstrip("/")
        self.url = {
            "webchat": f"{base}/api/chat",
            "rest": f"{base}/webhooks/rest/webhook",
            "parse": f"{base}/model/parse",
        }[spec.channel]

    def new(self, script: int) -> Conversation:
        return Conversation(script, sender=f"bench-{uuid.uuid4().hex[:16]}")

    def expected(self, conversation: Conversation) -> list[str] | None:
        if self.spec.expected is None or self.spec.channel == "parse":
            return None
        return [text_of(m) for m in self.spec.expected[conversation.script][conversation.turn]]

    async def ask(self, conversation: Conversation, text: str) -> Reply:
        channel = self.spec.channel
        headers: dict[str, str] = {}
        params: dict[str, str] = {}
        if channel == "webchat":
            payload: dict[str, Any] = {"message": text, "id": uuid.uuid4().hex}
            if conversation.cookie:
                headers["Cookie"] = f"zcc_conversation={conversation.cookie}"
        elif channel == "rest":
            payload = {"sender": conversation.sender, "message": text}
        else:
            payload, params = {"text": text}, {"token": self.spec.token}
        try:
            async with self.session.post(
                self.url, json=payload, headers=headers, params=params, timeout=self.timeout
            ) as response:
                body = await response.read()
                done = time.perf_counter()
                if response.status != 200:
                    return Reply(None, f"http {response.status}", done)
                if channel == "webchat" and (morsel := response.cookies.get("zcc_conversation")):
                    conversation.cookie = morsel.value
        except (TimeoutError, aiohttp.ClientError) as error:
            return Reply(None, _failure(error), time.perf_counter())
        try:
            answer = json.loads(body)
        except ValueError:
            return Reply(None, "not JSON", done)
        if channel == "parse":
            intent = (answer.get("intent") or {}).get("name") if isinstance(answer, dict) else None
            return Reply([str(intent)] if intent else None, "" if intent else "no intent", done)
        messages = [m for m in answer if isinstance(m, dict)] if isinstance(answer, list) else []
        return Reply([text_of(m) for m in messages], "", done, messages)


class WhatsAppChannel:
    """Signed Twilio webhooks in; the answer is what reaches the fake Twilio API for that number."""

    def __init__(self, spec: Spec, session: aiohttp.ClientSession) -> None:
        assert spec.twilio is not None and spec.expected is not None
        self.spec = spec
        self.twilio = spec.twilio
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=spec.wait)
        self.url = spec.base_url.rstrip("/") + WEBHOOK_PATH
        self.signed_url = self.twilio.public_url.rstrip("/") + WEBHOOK_PATH
        self.validator = RequestValidator(self.twilio.auth_token)
        self.numbers: dict[str, Conversation] = {}
        self.parts = [[list(for_text_channel(turn).texts) for turn in script] for script in spec.expected]
        self.stats: Stats | None = None
        credentials = f"{self.twilio.account_sid}:{self.twilio.auth_token}".encode()
        self.authorization = "Basic " + base64.b64encode(credentials).decode()

    def new(self, script: int) -> Conversation:
        while True:
            # +1555 and seven random digits: never the number of a seeded (verified) demo user.
            number = f"whatsapp:+1555{secrets.randbelow(10**7):07d}"
            if number not in self.numbers:
                break
        conversation = Conversation(script, sender=number)
        self.numbers[number] = conversation
        return conversation

    def expected(self, conversation: Conversation) -> list[str] | None:
        return self.parts[conversation.script][conversation.turn]

    def _params(self, number: str, body: str, sid: str) -> dict[str, str]:
        return {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": "Bench",
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": number.removeprefix("whatsapp:+"),
            "SmsStatus": "received",
            "Body": body,
            "To": self.twilio.whatsapp_from,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": self.twilio.account_sid,
            "From": number,
            "ApiVersion": API_VERSION,
        }

    async def ask(self, conversation: Conversation, text: str) -> Reply:
        parts = len(self.parts[conversation.script][conversation.turn])
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        conversation.waiter = waiter
        conversation.expected_total += parts
        params = self._params(conversation.sender, text, new_sid())
        signature = str(self.validator.compute_signature(self.signed_url, params))
        headers = {"X-Twilio-Signature": signature}
        deadline = time.perf_counter() + self.spec.wait
        try:
            async with self.session.post(
                self.url, data=params, headers=headers, timeout=self.timeout
            ) as response:
                await response.read()
                if response.status != 200:
                    conversation.expected_total -= parts
                    return Reply(None, f"webhook http {response.status}", time.perf_counter())
        except (TimeoutError, aiohttp.ClientError) as error:
            # Whether the gateway stored it is unknown: its answer, if any, counts as late.
            conversation.timed_out = True
            return Reply(None, "webhook " + _failure(error), time.perf_counter())
        if len(conversation.received) >= conversation.expected_total and not waiter.done():
            waiter.set_result(conversation.received[-1][0])
        try:
            done = await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            conversation.timed_out = True
            return Reply(None, "no reply within timeout", time.perf_counter())
        first = conversation.expected_total - parts
        texts = [body for _, body in conversation.received[first : conversation.expected_total]]
        return Reply(texts, "", done)

    # --- the fake Twilio REST API -------------------------------------------------------------------------
    async def create_message(self, request: web.Request) -> web.Response:
        """POST /2010-04-01/Accounts/{sid}/Messages.json: record the part, wake its sender."""
        arrived = time.perf_counter()
        if request.headers.get("Authorization") != self.authorization:
            return error_response(401, 20003, "Authenticate")
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        conversation = self.numbers.get(to)
        if conversation is None:
            if self.stats is not None:
                self.stats.unexpected += 1
        elif body == APOLOGY:
            # The engine was too slow: the gateway apologised and answers once the engine catches up.
            # Not the answer (its latency runs on), not a duplicate: counted on its own.
            if self.stats is not None:
                self.stats.apologies += 1
        else:
            conversation.received.append((arrived, body))
            waiter = conversation.waiter
            if (
                waiter is not None
                and not waiter.done()
                and len(conversation.received) >= (conversation.expected_total)
            ):
                waiter.set_result(arrived)
        message = message_json(request.match_info["sid"], new_sid(), to, str(form.get("From", "")), body)
        return created_response(message)

    def finish(self, stats: Stats) -> None:
        """After the grace period: parts beyond what was expected are duplicates; timed-out answers that
        came after all are late."""
        for conversation in self.numbers.values():
            extra = len(conversation.received) - conversation.expected_total
            if extra > 0:
                stats.duplicated += extra
            if conversation.timed_out and extra >= 0:
                stats.late += 1


@contextlib.asynccontextmanager
async def fake_twilio(channel: WhatsAppChannel) -> Any:
    """Serve the fake Twilio API on loopback for the duration of the block."""
    assert channel.twilio is not None
    app = web.Application()
    app.router.add_post(MESSAGES_PATH, channel.create_message)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", channel.twilio.port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


# --- the loops --------------------------------------------------------------------------------------------
async def closed_loop(spec: Spec, channel: Channel, stats: Stats) -> float:
    """`concurrency` senders, each sending its next message as soon as the previous one is answered."""
    begin = time.perf_counter()
    measure_from = begin + spec.warmup
    stop_at = measure_from + spec.duration

    async def sender(index: int) -> None:
        rng = random.Random(spec.seed * 1000 + index)
        while time.perf_counter() < stop_at:
            conversation = channel.new(rng.randrange(len(spec.scripts)))
            stats.conversations += 1
            for turn, text in enumerate(spec.scripts[conversation.script]):
                conversation.turn = turn
                started = time.perf_counter()
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


async def open_loop(spec: Spec, channel: Channel, stats: Stats) -> float:
    """Messages arrive at `rate` per second (Poisson) from idle senders, whatever the answers do."""
    rng = random.Random(spec.seed)
    idle: deque[Conversation] = deque()
    running: set[asyncio.Task[None]] = set()
    next_script = rng.randrange(len(spec.scripts))
    begin = time.perf_counter() + 0.05
    stop_at = begin + spec.duration

    async def handle(conversation: Conversation, due: float) -> None:
        text = spec.scripts[conversation.script][conversation.turn]
        reply = await channel.ask(conversation, text)
        answered = stats.judge(reply.texts, reply.reason, channel.expected(conversation), text)
        if not answered:
            return  # the conversation is abandoned
        # From the scheduled arrival: the generator's own lag counts against us, never for us.
        stats.took(reply.done - due, spec.timeout)
        if begin <= reply.done <= stop_at:
            stats.completed_in_window += 1
        conversation.turn += 1
        if conversation.turn < len(spec.scripts[conversation.script]):
            idle.append(conversation)

    due = begin
    while True:
        due += rng.expovariate(spec.rate)
        if due >= stop_at:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.lag.append(max(0.0, time.perf_counter() - due))
        if idle:
            conversation = idle.popleft()
        else:
            conversation = channel.new(next_script % len(spec.scripts))
            next_script += 1
            stats.conversations += 1
        stats.sent += 1
        task = asyncio.ensure_future(handle(conversation, due))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.gather(*list(running))
    return spec.duration


async def calibrate(spec: Spec, channel: HttpChannel) -> list[list[Messages]]:
    """Every script once, alone, turn by turn: the answers the load's answers are compared with."""
    answers: list[list[Messages]] = []
    for index, script in enumerate(spec.scripts):
        conversation = channel.new(index)
        turns: list[Messages] = []
        for turn, text in enumerate(script):
            conversation.turn = turn
            reply = await channel.ask(conversation, text)
            if reply.messages is None:
                raise RuntimeError(f"calibration: {text!r} got no answer ({reply.reason})")
            turns.append(reply.messages)
        answers.append(turns)
    return answers


def pending(store: str) -> int:
    """Messages the gateway stored and has not answered yet."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)) as db:
        row = db.execute("SELECT count(*) FROM inbound_messages WHERE status = 'pending'").fetchone()
    return int(row[0])


async def settle(store: str, limit: float) -> tuple[int, float]:
    """Wait (serving the fake Twilio meanwhile) until the gateway answered everything it stored, at most
    `limit` seconds; (messages still pending, seconds waited)."""
    begin = time.perf_counter()
    left = await asyncio.to_thread(pending, store)
    while left and time.perf_counter() - begin < limit:
        await asyncio.sleep(0.5)
        left = await asyncio.to_thread(pending, store)
    return left, round(time.perf_counter() - begin, 1)


async def run(spec: Spec) -> dict[str, Any]:
    """Run the step and return its result."""
    stats = Stats()
    limit = max(spec.concurrency, int(spec.rate * 4), 10) + 10
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        if spec.kind == "calibrate":
            return {"expected": await calibrate(spec, HttpChannel(spec, session))}
        loop: Callable[[Spec, Channel, Stats], Awaitable[float]] = (
            open_loop if spec.kind == "open" else closed_loop
        )
        if spec.channel == "whatsapp":
            whatsapp = WhatsAppChannel(spec, session)
            whatsapp.stats = stats
            async with fake_twilio(whatsapp):
                window = await loop(spec, whatsapp, stats)
                await asyncio.sleep(spec.grace)
                if spec.store:
                    stats.pending_after, stats.settle_s = await settle(spec.store, spec.settle)
                whatsapp.finish(stats)
        else:
            window = await loop(spec, HttpChannel(spec, session), stats)
    return stats.result(spec, window)


def main() -> int:
    """Read the spec on stdin, print the result as JSON on stdout."""
    spec = Spec.from_json(json.loads(sys.stdin.read()))
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    begin = time.process_time()
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(run(spec))
    # Its own CPU time: it shares the machine's cores with the stack it measures.
    result["cpu_s"] = round(time.process_time() - begin, 3)
    json.dump(result, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
