"""What the reliability tests and the soak share: a stack on its own ports and stores, faults, load, audit.

- `Topology`: engine, action server and gateway(s) started with `bot.serve.Stack`, every process carrying
  its whole environment (so a service restarted later gets the same settings), stores of its own.
- `TcpProxy`: a forwarder to PostgreSQL that can be cut (connections refused, live ones reset).
- `Load`: a background thread with its own event loop posting signed WhatsApp webhooks and webchat
  messages at a given rate, from many senders with multi-turn conversations; it records every post.
- `audit`: what the gateway stored and answered, and what the users got (fake Twilio, webchat replies),
  matched message by message: received, answered, delivered, lost, duplicated, latency.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.answers.notices import APOLOGY
from bot.gateway import tokens
from bot.gateway.channels.webchat import COOKIE
from bot.gateway.render import for_text_channel
from bot.model import model_path
from bot.serve import Service, Stack, services
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import make_engine
from bot.store.models import InboundMessage, OutboundMessage
from tests.e2e.fake_twilio import SentMessage
from tests.reliability.fake_twilio_control import ControlledTwilio, Refused

T = TypeVar("T")

PUBLIC_URL = "https://bot.reliability.example"
WHATSAPP_FROM = "whatsapp:+14155238886"
WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
WEBCHAT, WHATSAPP = "webchat", "whatsapp"
# Twilio gives a webhook 15 s; the webchat page gives up on a request after as long.
CLIENT_TIMEOUT = 15.0


# --- the stack --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ports:
    """Where the services listen (gateway replicas on gateway, gateway + 1, …)."""

    engine: int
    actions: int
    gateway: int


@dataclass(frozen=True)
class Row:
    """A stored inbound message, as the audit reads it."""

    id: int
    channel: str
    external_id: str
    sender_id: str
    reply_to: str | None
    text: str
    status: str
    attempts: int
    replies: list[dict[str, Any]] | None


@dataclass(frozen=True)
class OutRow:
    """A stored outbound WhatsApp text."""

    id: int
    recipient: str
    body: str
    status: str
    attempts: int
    provider_id: str | None = None


class Topology:
    """A stack on its own ports and stores; `query_url` reads the store directly (not through a proxy)."""

    def __init__(
        self,
        name: str,
        ports: Ports,
        store_url: str,
        tracker_store_url: str,
        twilio: ControlledTwilio,
        *,
        query_url: str | None = None,
        gateway_replicas: int = 1,
        engine_workers: int = 1,
        lock_store_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        model: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.ports = ports
        self.twilio = twilio
        self.env = {
            "DATABASE_URL": store_url,
            "TRACKER_STORE_URL": tracker_store_url,
            "ENGINE_URL": f"http://127.0.0.1:{ports.engine}",
            "ACTION_SERVER_PORT": str(ports.actions),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(ports.gateway),
            "GATEWAY_REPLICAS": str(gateway_replicas),
            "ENGINE_WORKERS": str(engine_workers),
            "PUBLIC_URL": PUBLIC_URL,
            "JWT_SECRET": secrets_hex(32),
            "DEV_MODE": "false",
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
            "TWILIO_API_BASE": twilio.base_url,
            # Load comes from a few hundred simulated senders at most a few messages a second each.
            "RATE_LIMIT_PER_SECOND": "1000",
            "RATE_LIMIT_BURST": "1000",
            # Messages stored while the engine was down are retried every second, not every five.
            "RETRY_INTERVAL_SECONDS": "1",
            **({"LOCK_STORE_URL": lock_store_url} if lock_store_url else {}),
            **(extra_env or {}),
        }
        self.settings = Settings(**{key.lower(): value for key, value in self.env.items()})  # type: ignore[arg-type]
        self.model = model or model_path()
        if not self.model.exists():
            raise FileNotFoundError(f"no trained model at {self.model}: run `make model`")
        self.log_dir = log_dir or PROJECT_ROOT / "var" / "log" / name
        members = services(self.settings, self.model)
        for member in members:
            member.env = {**self.env, **member.env}
        self.stack = Stack(members, log_dir=self.log_dir)
        query = query_url or store_url
        self.db: Engine = make_engine(query) if query.startswith("sqlite") else create_engine(query)

    # --- processes --------------------------------------------------------------------------------------
    def seed(self) -> None:
        """Migrate and seed the store (catalogue and demo accounts)."""
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "seed"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"seeding {self.name} failed:\n{done.stdout}{done.stderr}")

    def start(self, timeout: float = 240.0) -> None:
        """Start every service and wait until each answers."""
        self.stack.start(timeout)

    def stop(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after the grace period)."""
        self.stack.stop()

    def close(self) -> None:
        """Stop everything and release the store connection."""
        try:
            self.stop()
        finally:
            self.db.dispose()

    def service(self, name: str) -> Service:
        """A member by name: 'engine', 'action server', 'gateway' (or 'gateway 1', 'gateway 2')."""
        for member in self.stack.members:
            if member.name == name or (name == "gateway" and member.name.startswith("gateway")):
                return member
        raise KeyError(name)

    def kill(self, name: str) -> None:
        """SIGKILL a service's process group (no clean shutdown) and reap it."""
        member = self.service(name)
        assert member.process is not None and member.process.poll() is None, f"{name} is not running"
        os.killpg(member.process.pid, signal.SIGKILL)
        member.process.wait(10)

    def restart(self, name: str, timeout: float = 240.0) -> float:
        """Start a stopped service again with the same command and environment; return the seconds it took."""
        started = time.monotonic()
        Stack([self.service(name)], log_dir=self.log_dir).start(timeout)
        return time.monotonic() - started

    def gateway_url(self, replica: int = 0) -> str:
        """Base URL of a gateway replica."""
        return f"http://127.0.0.1:{self.ports.gateway + replica}"

    @property
    def replicas(self) -> int:
        """How many gateway replicas run."""
        return self.settings.gateway_replicas

    # --- the store ----------------------------------------------------------------------------------------
    def rows(self, senders: Collection[str] | None = None) -> list[Row]:
        """Stored inbound messages (all, or those of some senders), oldest first."""
        query = select(InboundMessage).order_by(InboundMessage.id)
        found: list[Row] = []
        with Session(self.db) as session:
            for chunk in _chunks(senders):
                selected = query if chunk is None else query.where(InboundMessage.sender_id.in_(chunk))
                found += [
                    Row(
                        r.id,
                        r.channel,
                        r.external_id,
                        r.sender_id,
                        r.reply_to,
                        r.text,
                        r.status,
                        r.attempts,
                        r.replies,
                    )
                    for r in session.scalars(selected)
                ]
        return sorted(found, key=lambda r: r.id)

    def outbox(self, recipients: Collection[str] | None = None) -> list[OutRow]:
        """Stored outbound texts (all, or those to some recipients), oldest first."""
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        found: list[OutRow] = []
        with Session(self.db) as session:
            for chunk in _chunks(recipients):
                selected = query if chunk is None else query.where(OutboundMessage.recipient.in_(chunk))
                found += [
                    OutRow(r.id, r.recipient, r.body, r.status, r.attempts, r.provider_id)
                    for r in session.scalars(selected)
                ]
        return sorted(found, key=lambda r: r.id)

    def kept(self, pending_only: bool = False) -> int:
        """Inbound messages that had a failed attempt (kept for later), or those still unanswered."""
        query = select(func.count()).select_from(InboundMessage).where(InboundMessage.attempts > 0)
        if pending_only:
            query = query.where(InboundMessage.status != "answered")
        with Session(self.db) as session:
            return int(session.scalar(query) or 0)

    def retried(self, pending_only: bool = False) -> int:
        """Outbound texts that had a failed attempt, or those still unsent."""
        query = select(func.count()).select_from(OutboundMessage).where(OutboundMessage.attempts > 0)
        if pending_only:
            query = query.where(OutboundMessage.status != "sent")
        with Session(self.db) as session:
            return int(session.scalar(query) or 0)

    def unsettled(
        self, senders: Collection[str] | None, recipients: Collection[str] | None
    ) -> tuple[int, int]:
        """(pending inbound messages, pending outbound texts) of these senders and recipients."""
        inbound = sum(r.status != "answered" for r in self.rows(senders))
        outbound = sum(r.status != "sent" for r in self.outbox(recipients))
        return inbound, outbound

    def wait_settled(
        self,
        senders: Collection[str] | None,
        recipients: Collection[str] | None,
        timeout: float,
        quiet: float = 1.0,
    ) -> tuple[int, int]:
        """Wait (bounded) until every message is answered and every text sent, then `quiet` seconds more."""
        deadline = time.monotonic() + timeout
        left = self.unsettled(senders, recipients)
        while left != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.5)
            left = self.unsettled(senders, recipients)
        if left == (0, 0) and quiet:
            time.sleep(quiet)  # texts sent just now reach the fake
        return left


def _chunks(values: Collection[str] | None, size: int = 500) -> Iterable[list[str] | None]:
    if values is None:
        yield None
        return
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def secrets_hex(length: int) -> str:
    """Random hex of `length` bytes."""
    return os.urandom(length).hex()


# --- a PostgreSQL link that can be cut ----------------------------------------------------------------------
class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` refuses new connections and resets live ones."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.is_cut = False
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        """Listen in a background thread."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> None:
        """The database becomes unreachable: connection refused, established connections reset."""
        self._call(self._cut())

    def restore(self) -> None:
        """The database is reachable again, on the same port."""
        self._call(self._listen())

    def stop(self) -> None:
        """Stop forwarding and end the thread."""
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _listen(self) -> None:
        self.is_cut = False
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        self.is_cut = True
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._live):
            writer.transport.abort()
        self._live.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._live.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        finally:
            for end in (writer, up_writer):
                self._live.discard(end)
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


# --- what the simulated users say ---------------------------------------------------------------------------
PLANS = ("Starter", "Specialist", "Expert", "Professional", "Enterprise")
# Opening questions (with a plan) whose answer names the plan, and follow-ups that only name another plan:
# the follow-up works only if the conversation's context survived.
OPENINGS = (
    "¿cuántos usuarios tiene el plan {plan}?",
    "¿cuántos usuarios trae el {plan}?",
    "cuanto almacenamiento tiene el plan {plan}",
    "cuantas interactionz incluye el plan {plan}",
)
FOLLOW_UPS = ("¿y el {plan}?", "y el plan {plan}?", "¿y en el {plan}?")


@dataclass(frozen=True)
class Turn:
    """One user message and a word its answer must contain."""

    text: str
    expect: str


def script(rng: random.Random, turns: int | None = None) -> list[Turn]:
    """A conversation: a question about a plan, then follow-ups about other plans."""
    count = turns or rng.randint(2, 4)
    plans = rng.sample(PLANS, k=min(count, len(PLANS)))
    opening = rng.choice(OPENINGS).format(plan=plans[0])
    return [Turn(opening, plans[0])] + [
        Turn(rng.choice(FOLLOW_UPS).format(plan=plan), plan) for plan in plans[1:count]
    ]


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


@dataclass
class Conversation:
    """A simulated user on one channel."""

    channel: str
    sender: str
    address: str
    turns: list[Turn]
    position: int = 0
    busy: bool = False


class WhatsAppSigner:
    """Signs webhook forms the way Twilio does, for our public URL."""

    def __init__(self, settings: Settings) -> None:
        self.account_sid = settings.twilio_account_sid or ""
        self.validator = RequestValidator(settings.twilio_auth_token)
        self.url = settings.public_url.rstrip("/") + WEBHOOK_PATH

    def params(self, address: str, body: str, sid: str | None = None) -> dict[str, str]:
        """The form of an incoming WhatsApp text."""
        return {
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "AccountSid": self.account_sid,
            "From": address,
            "To": WHATSAPP_FROM,
            "NumMedia": "0",
            "Body": body,
        }

    def headers(self, params: dict[str, str]) -> dict[str, str]:
        """The signature header for a form."""
        return {"X-Twilio-Signature": self.validator.compute_signature(self.url, params)}


def new_phone(rng: random.Random) -> str:
    """A WhatsApp address nobody else uses (+52 199 …, outside the demo users' numbers)."""
    return f"whatsapp:+52199{rng.randrange(10**8):08d}"


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
        self.signer = WhatsAppSigner(topology.settings)
        self.records: list[Sent] = []
        self.skipped = 0  # ticks with no idle user (the offered rate was not reached)
        self.pool = {
            WHATSAPP: [self._conversation(WHATSAPP) for _ in range(conversations)],
            WEBCHAT: [self._conversation(WEBCHAT) for _ in range(conversations)],
        }
        self._replied: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="load", daemon=True)
        self._thread.start()
        self._session: aiohttp.ClientSession = self.call(self._open())
        self._generator: concurrent.futures.Future[None] | None = None
        self._stopping = threading.Event()
        topology.twilio.add_listener(self._on_accept)

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
        self.topology.twilio.remove_listener(self._on_accept)
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
            return Conversation(WHATSAPP, f"wa:{address.removeprefix('whatsapp:')}", address, turns)
        conversation, cookie = tokens.new_conversation(self.topology.settings)
        return Conversation(WEBCHAT, f"web:a:{conversation}", cookie, turns)

    async def _generate(self, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ticks = 0
        while not self._stopping.is_set():
            due = start + ticks / self.rate
            if seconds is not None and due - start >= seconds:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            ticks += 1
            first = WHATSAPP if self.rng.random() < self.whatsapp_share else WEBCHAT
            conversation = self._idle(first) or self._idle(WEBCHAT if first == WHATSAPP else WHATSAPP)
            if conversation is None:
                self.skipped += 1
                continue
            conversation.busy = True
            task = asyncio.create_task(self._turn(conversation))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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

    async def _turn(self, conversation: Conversation) -> None:
        try:
            turn = conversation.turns[conversation.position]
            conversation.position += 1
            replica = self.rng.randrange(self.topology.replicas)
            event = self._replied.setdefault(conversation.address, asyncio.Event())
            event.clear()
            sent = await self._post(conversation, turn, replica)
            if self.wait_for_replies and conversation.channel == WHATSAPP and sent.accepted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), self.reply_timeout)
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
                self._replied.pop(conversation.address, None)

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
            sent.params = self.signer.params(conversation.address, turn.text)
            sent.external_id = sent.params["MessageSid"]
        else:
            sent.external_id = uuid.uuid4().hex
        self.records.append(sent)
        await self._repost(sent)
        return sent

    async def _repost(self, sent: Sent) -> None:
        """One post of a message (first or retry)."""
        url = self.topology.gateway_url(sent.replica)
        status: int | None = None
        began = time.monotonic()
        try:
            if sent.channel == WHATSAPP:
                assert sent.params is not None
                async with self._session.post(
                    url + WEBHOOK_PATH, data=sent.params, headers=self.signer.headers(sent.params)
                ) as response:
                    status = response.status
                    body = await response.text()
                    if status != 200:
                        sent.errors.append(_error_code(body))
            else:
                payload = {"message": sent.text, "id": sent.external_id}
                async with self._session.post(
                    url + "/api/chat", json=payload, headers={"Cookie": f"{COOKIE}={sent.address}"}
                ) as response:
                    status = response.status
                    body = await response.text()
                    if status == 200:
                        sent.replies = json.loads(body)
                        sent.answered_at = time.monotonic()
                    else:
                        sent.errors.append(_error_code(body))
                        with contextlib.suppress(ValueError, AttributeError):
                            sent.queued = sent.queued or bool(json.loads(body).get("queued"))
        except (aiohttp.ClientError, TimeoutError) as problem:
            sent.errors.append(type(problem).__name__)
        sent.durations.append(time.monotonic() - began)
        sent.statuses.append(status)

    async def _retry_refused(self) -> int:
        todo = [r for r in self.records if not r.accepted]
        await asyncio.gather(*(self._repost(r) for r in todo))
        return len(todo)

    def _on_accept(self, message: SentMessage) -> None:
        """Called from the fake Twilio's thread for every accepted text."""
        if message.body != APOLOGY:
            self._loop.call_soon_threadsafe(self._arrived, message.to)

    def _arrived(self, to: str) -> None:
        event = self._replied.get(to)
        if event is not None:
            event.set()


def _error_code(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:60] or "empty"
    return str(data.get("error")) if isinstance(data, dict) else "unexpected"


# --- the audit ---------------------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of the values, or None."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def texts_of(replies: list[dict[str, Any]] | None) -> list[str]:
    """What WhatsApp gets for a stored answer."""
    return list(for_text_channel(replies or []).texts)


def reply_text(replies: list[dict[str, Any]] | None) -> str:
    """All the text of the bot's messages."""
    return "\n".join(str(m.get("text") or "") for m in replies or [])


@dataclass
class ChannelAudit:
    """Counts of one channel (see `audit`)."""

    sent: int = 0  # distinct user messages posted
    received: int = 0  # stored by the gateway
    answered: int = 0  # stored rows marked answered
    delivered: int = 0  # the user got the answer (WhatsApp: every text, in order; webchat: the reply)
    lost: int = 0  # posted but never delivered
    duplicated: int = 0  # WhatsApp texts delivered more often than answered
    silent: int = 0  # answered with nothing to say (the user sees no reply)
    wrong: int = 0  # delivered, but the answer does not name what was asked about
    apologies: int = 0  # WhatsApp "not available" notices
    out_of_order: int = 0  # WhatsApp recipients whose texts arrived in another order
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The counts and latency percentiles (ms)."""
        p50, p99 = percentile(self.latencies, 50), percentile(self.latencies, 99)
        return {
            "sent": self.sent,
            "received": self.received,
            "answered": self.answered,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "silent": self.silent,
            "wrong": self.wrong,
            "apologies": self.apologies,
            "out_of_order": self.out_of_order,
            "p50_ms": None if p50 is None else round(p50 * 1000, 1),
            "p99_ms": None if p99 is None else round(p99 * 1000, 1),
        }


@dataclass
class Audit:
    """Per channel counts, plus what a test needs to explain a failure."""

    channels: dict[str, ChannelAudit]
    pending_inbound: int
    pending_outbound: int
    apologies_by_sender: dict[str, int]
    problems: list[str]

    def summary(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **{name: c.summary() for name, c in self.channels.items()},
            "pending_inbound": self.pending_inbound,
            "pending_outbound": self.pending_outbound,
            "max_apologies_per_sender": max(self.apologies_by_sender.values(), default=0),
            "problems": self.problems[:50],
        }

    @property
    def clean(self) -> bool:
        """Everything received, answered and delivered exactly once."""
        return not self.problems


def audit(topology: Topology, records: list[Sent], everything: bool = False) -> Audit:
    """Match what was posted, stored and delivered, message by message.

    `everything`: read the whole store (a store only this load used: the soak), not only its senders.
    """
    senders = None if everything else {r.sender for r in records}
    rows = topology.rows(senders)
    outbox = topology.outbox(None if everything else {r.address for r in records if r.channel == WHATSAPP})
    by_key = {(r.channel, r.external_id): r for r in rows}
    posted = {(r.channel, r.external_id): r for r in records}
    channels = {WHATSAPP: ChannelAudit(), WEBCHAT: ChannelAudit()}
    problems: list[str] = []
    for sent in records:
        count = channels[sent.channel]
        count.sent += 1
        row = by_key.get((sent.channel, sent.external_id))
        if row is None:
            count.lost += 1
            problems.append(f"{sent.channel} {sent.external_id} never stored (statuses {sent.statuses})")
            continue
        count.received += 1
        count.answered += row.status == "answered"
        if row.status == "answered" and not texts_of(row.replies):
            count.silent += 1
            problems.append(f"{sent.channel} {sent.external_id} answered with nothing: {sent.text!r}")
        if sent.expect and row.status == "answered" and sent.expect not in reply_text(row.replies):
            count.wrong += 1
    for row in rows:
        if (row.channel, row.external_id) not in posted:
            problems.append(f"stored but never posted: {row.channel} {row.external_id}")
    # Webchat: the client got the stored answer (first time or on its retry with the same id).
    for sent in records:
        if sent.channel != WEBCHAT or (sent.channel, sent.external_id) not in by_key:
            continue
        row = by_key[(sent.channel, sent.external_id)]
        if sent.replies and texts_of(sent.replies):
            if _without_recipient(sent.replies) != _without_recipient(row.replies):
                problems.append(f"webchat {sent.external_id}: the client got another answer than stored")
            channels[WEBCHAT].delivered += 1
            if sent.answered_at is not None:
                channels[WEBCHAT].latencies.append(sent.answered_at - sent.started)
        else:
            channels[WEBCHAT].lost += 1
            problems.append(f"webchat {sent.external_id} not delivered (statuses {sent.statuses})")
    # WhatsApp: per recipient, the accepted texts are exactly the answers' texts, in order.
    arrived: dict[str, list[SentMessage]] = defaultdict(list)
    for message in topology.twilio.messages():
        arrived[message.to].append(message)
    apologies: dict[str, int] = {}
    wa = channels[WHATSAPP]
    by_address: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.channel == WHATSAPP and row.reply_to:
            by_address[row.reply_to].append(row)
    for address in {r.address for r in records if r.channel == WHATSAPP}:
        got = [m for m in arrived.get(address, []) if m.body != APOLOGY]
        apologies[address] = len(arrived.get(address, [])) - len(got)
        wa.apologies += apologies[address]
        if apologies[address] > 1:
            problems.append(f"{address} got {apologies[address]} apologies")
        expected = [text for row in by_address[address] for text in texts_of(row.replies)]
        bodies = [m.body for m in got]
        extra = Counter(bodies) - Counter(expected)
        if extra:
            wa.duplicated += sum(extra.values())
            problems.append(f"{address}: delivered more than answered: {list(extra)[:3]}")
        if not extra and bodies != expected and Counter(bodies) == Counter(expected):
            wa.out_of_order += 1
            problems.append(f"{address}: texts out of order")
        position = 0
        for row in by_address[address]:
            texts = texts_of(row.replies)
            found = _find(bodies, texts, position) if texts else None
            asked = posted.get((WHATSAPP, row.external_id))
            if found is None:
                if row.status == "answered" and texts:
                    wa.lost += 1
                    problems.append(f"{address}: answer to {row.external_id} not delivered")
                continue
            wa.delivered += 1
            if asked is not None:
                wa.latencies.append(got[found].at - asked.started)
            position = found + len(texts)
    pending_in = sum(r.status != "answered" for r in rows)
    pending_out = sum(r.status != "sent" for r in outbox)
    if pending_in or pending_out:
        problems.append(f"still pending: {pending_in} inbound, {pending_out} outbound")
    return Audit(channels, pending_in, pending_out, apologies, problems)


def _find(haystack: list[str], needle: list[str], start: int) -> int | None:
    for index in range(start, len(haystack) - len(needle) + 1):
        if haystack[index : index + len(needle)] == needle:
            return index
    return None


def _without_recipient(replies: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "recipient_id"} for m in replies or []]


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll a condition (bounded); True once it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def backoff_gaps(attempts: Iterable[Refused]) -> dict[tuple[str, str], list[float]]:
    """Seconds between successive refused attempts of the same text to the same user."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for attempt in attempts:
        times[(attempt.to, attempt.body)].append(attempt.at)
    return {key: [b - a for a, b in itertools.pairwise(at)] for key, at in times.items()}
