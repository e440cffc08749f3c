"""A stack of our own for the reliability tests and the soak: its own ports and stores, and faults.

- `Topology`: engine, action server and gateway(s) started with `bot.serve.Stack`, every process carrying
  its whole environment (so a service restarted later gets the same settings), stores of its own, and the
  fake Twilio its gateways send to; it reads the store directly (what was received, answered, sent).
- `TcpProxy`: a forwarder to PostgreSQL that can be cut (connections refused, live ones reset).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from bot.model import model_path
from bot.process_supervisor import GaveUp, RestartPolicy, Supervisor, answers, kill_group
from bot.serve import Service, Stack, services
from bot.settings import PROJECT_ROOT, Settings
from bot.store import history
from bot.store.db import make_engine
from bot.store.models import InboundMessage, OutboundMessage
from testkit.fake_twilio import FakeTwilio

T = TypeVar("T")

PUBLIC_URL = "https://bot.reliability.example"
WHATSAPP_FROM = "whatsapp:+14155238886"


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
        twilio: FakeTwilio,
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
            # Operator metrics off: a test stack must not take the port of an assistant running here.
            "METRICS_PORT": "0",
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
        self.supervisor: Supervisor | None = None
        # Why supervision stopped the stack, if it did (a child restarted too often).
        self.gave_up: GaveUp | None = None
        self._unsupervised = threading.Event()  # set: not supervising (wakes the supervisor to stop)
        self._unsupervised.set()
        self._supervision: threading.Thread | None = None
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

    def supervise(self, policy: RestartPolicy | None = None) -> None:
        """From now on restart what dies or hangs, as `bot serve` does (its supervisor, in a thread)."""
        self.supervisor = Supervisor(
            self.stack, policy or RestartPolicy.from_settings(self.settings), log=self._log_supervision
        )
        self._unsupervised.clear()
        self._supervision = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervision.start()

    def _supervise(self) -> None:
        assert self.supervisor is not None
        try:
            self.supervisor.run(self._unsupervised)
        except GaveUp as error:
            self.gave_up = error

    def _log_supervision(self, line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] supervisor: {line}", flush=True)

    def unsupervise(self) -> None:
        """Stop restarting services (before stopping them)."""
        self._unsupervised.set()
        if self._supervision is not None:
            self._supervision.join(30)
        if self.supervisor is not None:
            self.supervisor.close()

    def stop(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after the grace period), supervision first."""
        self.unsupervise()
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
        kill_group(member.process)

    def answering(self, name: str) -> bool:
        """Whether a service answers its health check."""
        return answers(self.service(name).ready_url)

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
        """Inbound messages that had a failed attempt (kept for later), or those still unanswered (the
        demo history `bot seed` adds is not counted)."""
        query = (
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.attempts > 0, InboundMessage.external_id.not_like(f"{history.MARK}%"))
        )
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


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll a condition (bounded); True once it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
