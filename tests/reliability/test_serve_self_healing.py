"""Self-healing under `bot serve` itself, with no help from the harness: the engine and the action server
killed (SIGKILL) or frozen (SIGSTOP) under light load. `bot serve` alone must bring the part back (a
frozen one once it has not answered its health check for UNRESPONSIVE_SECONDS), keep running, and every
message sent meanwhile must be answered once and reach its user once (testkit.audit).

The stack is the one-machine production setting: two engine workers sharing the SQLite lock file (a
killed engine's stale conversation locks must not hold its conversations after the restart).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.process_supervisor import answers
from bot.settings import PROJECT_ROOT
from testkit.fake_twilio import FakeTwilio
from testkit.load import Load
from testkit.stack import Ports, Topology, wait_until
from tests.reliability.conftest import LOGS
from tests.reliability.test_faults import _recovered

pytestmark = pytest.mark.e2e

PORTS = Ports(engine=6325, actions=6375, gateway=9320)
UNRESPONSIVE_SECONDS = 8
# Which of `bot serve`'s children is which, by its command line.
COMMANDS = {"engine": ["rasa", "run"], "action server": ["rasa_sdk"]}


class Served:
    """A stack run by `bot serve` in a child process; the test sees it only from outside."""

    def __init__(self, topology: Topology, process: subprocess.Popen[bytes], log: Path) -> None:
        self.topology = topology
        self.process = process
        self.log = log

    def child(self, name: str) -> int | None:
        """The pid of one of `bot serve`'s children (the leader of its process group); None while there is
        none (waiting to be restarted)."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
                except OSError:
                    continue
                if all(any(word in part for part in command) for word in COMMANDS[name]):
                    found.append(int(pid))
        assert len(found) <= 1, (name, found)
        return found[0] if found else None

    def whole(self) -> bool:
        """Every service answers its health check."""
        return all(answers(m.ready_url) for m in self.topology.stack.members)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`bot serve` on stores and ports of its own, for the module's tests."""
    folder = tmp_path_factory.mktemp("serve-healing")
    twilio = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    with twilio.running():
        topology = Topology(
            "serve-healing",
            PORTS,
            f"sqlite:///{folder / 'bot.db'}",
            f"sqlite:///{folder / 'tracker.db'}",
            twilio,
            engine_workers=2,
            log_dir=LOGS / "serve-healing",
            extra_env={"UNRESPONSIVE_SECONDS": str(UNRESPONSIVE_SECONDS), "RESTART_BACKOFF_SECONDS": "1"},
        )
        topology.seed()
        log = folder / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.serve"],
                cwd=PROJECT_ROOT,
                env={**os.environ, **topology.env},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        served = Served(topology, process, log)
        try:
            up = wait_until(lambda: served.whole() or process.poll() is not None, timeout=240, interval=1)
            assert up and process.poll() is None, served.output()[-3000:]
            yield served
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            topology.db.dispose()
        assert code == 0, served.output()[-3000:]


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("engine", signal.SIGKILL),
        ("engine", signal.SIGSTOP),
        ("action server", signal.SIGKILL),
        ("action server", signal.SIGSTOP),
    ],
    ids=["engine-killed", "engine-frozen", "actions-killed", "actions-frozen"],
)
def test_bot_serve_brings_a_failed_part_back_and_every_message_is_answered_once(
    served: Served, name: str, fault: signal.Signals
) -> None:
    assert served.whole(), "the stack was not whole at the start"
    before = served.output()
    traffic = Load(served.topology, 4.0, conversations=15)
    try:
        traffic.start()
        time.sleep(3)
        failed = served.child(name)
        assert failed is not None
        os.killpg(failed, fault)
        try:
            # Back: a new process of that part, answering (`bot serve` saw it too), and every other part.
            back = wait_until(
                lambda: (
                    served.child(name) != failed
                    and f"supervisor: {name} is back" in served.output()[len(before) :]
                    and served.whole()
                ),
                timeout=240,
                interval=0.5,
            )
        finally:
            if fault == signal.SIGSTOP:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(failed, signal.SIGKILL)  # only if `bot serve` did not
        log = served.output()[len(before) :]
        assert back, log[-3000:]
        assert served.process.poll() is None, log[-3000:]
        if fault == signal.SIGKILL:
            assert f"supervisor: {name} exited with code -9; restarting it in 1 s" in log, log[-3000:]
        else:
            assert f"supervisor: {name} has not answered its health check for" in log, log[-3000:]
        assert f"supervisor: {name} is back" in log, log[-3000:]
        time.sleep(3)
        _recovered(served.topology, traffic, timeout=120)
    finally:
        traffic.close()
