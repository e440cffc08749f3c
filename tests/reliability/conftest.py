"""A stack of our own for the fault tests: its own ports, stores and a fake Twilio that can fail.

`topology` (SQLite store and tracker store in a temporary folder) lives for the session; a test that
kills or stops services leaves them to the `healthy` fixture of the next test, which restarts whatever
is down. `pg_topology` runs the store on a fresh PostgreSQL database reached through a TCP proxy the
test can cut; it is skipped, saying why, when PostgreSQL is not running on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import secrets
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.model import model_path
from bot.settings import PROJECT_ROOT
from testkit.fake_twilio import FakeTwilio
from testkit.load import Load
from testkit.stack import Ports, TcpProxy, Topology

# Ports of our own, so a run never collides with `make run`, the e2e, scaled or bench stacks.
PORTS = Ports(engine=6305, actions=6355, gateway=9300)
PG_PORTS = Ports(engine=6315, actions=6365, gateway=9310)
PG_ADMIN = os.environ.get(
    "BOT_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LOGS = PROJECT_ROOT / "var" / "log"

MakeLoad = Callable[..., Load]


def _model() -> Path:
    model = Path(os.environ.get("BOT_MODEL") or model_path())
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make model` first")
    return model


def _twilio() -> FakeTwilio:
    return FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """Engine, action server and gateway on SQLite stores of their own, for the whole session."""
    model = _model()
    folder = tmp_path_factory.mktemp("reliability")
    fake = _twilio()
    with fake.running():
        stack = Topology(
            "reliability",
            PORTS,
            f"sqlite:///{folder / 'bot.db'}",
            f"sqlite:///{folder / 'tracker.db'}",
            fake,
            model=model,
            log_dir=LOGS / "reliability",
        )
        try:
            stack.seed()
            stack.start()
            yield stack
        finally:
            stack.close()


@pytest.fixture
def healthy(topology: Topology) -> Topology:
    """The session's stack with every service up and Twilio answering (whatever the last test left)."""
    topology.twilio.recover()
    for member in topology.stack.members:
        if member.process is None or member.process.poll() is not None:
            topology.restart(member.name)
    return topology


class Loads:
    """Makes background loads on a stack and closes them all at the end of the test."""

    def __init__(self, stack: Topology) -> None:
        self.stack = stack
        self.created: list[Load] = []

    def __call__(self, rate: float, **options: Any) -> Load:
        load = Load(self.stack, rate, **options)
        self.created.append(load)
        return load

    def close(self) -> None:
        for load in self.created:
            load.close()


@pytest.fixture
def load(healthy: Topology) -> Iterator[MakeLoad]:
    """`load(rate, **options)`: background traffic on the session's stack, closed after the test."""
    loads = Loads(healthy)
    try:
        yield loads
    finally:
        loads.close()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_topology(tmp_path: Path) -> Iterator[tuple[Topology, TcpProxy, MakeLoad]]:
    """A stack whose store is a fresh PostgreSQL database behind a proxy the test can cut."""
    if not _reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    model = _model()
    database = f"zcc_reliability_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    base = urllib.parse.urlsplit(PG_ADMIN)
    user = base.netloc.rsplit("@", 1)[0] + "@" if "@" in base.netloc else ""
    proxy = TcpProxy(base.port or 5432, base.hostname or "127.0.0.1")
    proxy.start()
    fake = _twilio()
    stack: Topology | None = None
    try:
        with fake.running():
            stack = Topology(
                "reliability-pg",
                PG_PORTS,
                f"postgresql+psycopg://{user}127.0.0.1:{proxy.port}/{database}",
                f"sqlite:///{tmp_path / 'tracker.db'}",
                fake,
                query_url=f"postgresql+psycopg://{base.netloc}/{database}",
                model=model,
                log_dir=LOGS / "reliability-pg",
                extra_env={"CATALOGUE_CACHE_SECONDS": "1"},
            )
            stack.seed()
            stack.start()
            loads = Loads(stack)
            try:
                yield stack, proxy, loads
            finally:
                loads.close()
    finally:
        if stack is not None:
            stack.close()
        proxy.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
