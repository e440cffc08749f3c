"""The process supervisor of `bot serve` on real child processes (small HTTP servers): one killed comes back
after its backoff pause, one frozen with SIGSTOP is killed and started again once it has not answered for
the configured time, one that keeps dying stops the stack, and stopping leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.process_supervisor import GaveUp, RestartPolicy, Supervisor, answers
from bot.serve import Service, Stack

FAST = RestartPolicy(
    backoff_seconds=0.2,
    backoff_max_seconds=1.0,
    unresponsive_seconds=2.0,
    limit=3,
    window_seconds=60.0,
    start_seconds=20.0,
    check_interval=0.1,
    probe_timeout=0.5,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _web_server(name: str, prepared: list[str] | None = None) -> Service:
    port = _free_port()
    return Service(
        name=name,
        command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ready_url=f"http://127.0.0.1:{port}/",
        prepare=None if prepared is None else lambda: prepared.append(name),
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Two small web servers, started (served from an empty folder), stopped after the test."""
    folder = tmp_path / "www"
    folder.mkdir()
    started = Stack([_web_server("one"), _web_server("two")], root=folder, log_dir=tmp_path / "log")
    started.start(timeout=30)
    try:
        yield started
    finally:
        started.stop(grace=5)


def _until(supervisor: Supervisor, condition: Callable[[], bool], timeout: float = 20.0) -> float:
    """Run supervision rounds until the condition holds; return the seconds it took."""
    begin = time.monotonic()
    while not condition():
        assert time.monotonic() - begin < timeout, "the condition did not hold in time"
        supervisor.check()
        time.sleep(FAST.check_interval)
    return time.monotonic() - begin


def _pid(stack: Stack, name: str) -> int:
    member = next(m for m in stack.members if m.name == name)
    assert member.process is not None
    return member.process.pid


def test_a_killed_child_is_started_again_and_answers(stack: Stack) -> None:
    lines: list[str] = []
    supervisor = Supervisor(stack, FAST, log=lines.append)
    old = _pid(stack, "one")
    os.killpg(old, signal.SIGKILL)
    _until(supervisor, lambda: _pid(stack, "one") != old and supervisor.whole())
    assert answers(stack.members[0].ready_url) and answers(stack.members[1].ready_url)
    assert supervisor.restarts("one") == 1 and supervisor.restarts("two") == 0
    assert any(
        "one exited with code -9; restarting it in 0.2 s (restart 1 of at most 3" in line for line in lines
    )
    assert any(line.startswith("one is back") for line in lines), lines
    supervisor.close()


def test_a_frozen_child_is_killed_after_the_unresponsive_time_and_started_again(stack: Stack) -> None:
    lines: list[str] = []
    supervisor = Supervisor(stack, FAST, log=lines.append)
    frozen = _pid(stack, "two")
    os.killpg(frozen, signal.SIGSTOP)
    try:
        took = _until(supervisor, lambda: _pid(stack, "two") != frozen)
        # Not before it has been silent for the configured time.
        assert took >= FAST.unresponsive_seconds - FAST.probe_timeout
        _until(supervisor, supervisor.whole)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(frozen, signal.SIGKILL)  # only if the supervisor did not
    assert any("two has not answered its health check for 2 s: killed" in line for line in lines), lines
    assert answers(stack.members[1].ready_url)
    supervisor.close()


def test_a_child_that_keeps_dying_stops_the_stack_after_the_limit(tmp_path: Path) -> None:
    dying = Service("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], "http://127.0.0.1:9/")
    prepared: list[str] = []
    dying.prepare = lambda: prepared.append("flaky")
    stack = Stack([dying], root=tmp_path)
    stack.launch(dying)
    lines: list[str] = []
    supervisor = Supervisor(stack, FAST, log=lines.append)
    pauses: list[float] = []
    with pytest.raises(GaveUp, match="flaky exited with code 3; it was restarted 3 times in the last 60 s"):
        for _ in range(200):
            supervisor.check()
            time.sleep(0.05)
    for line in lines:
        if "restarting it in" in line:
            pauses.append(float(line.split("restarting it in ")[1].split(" s")[0]))
    assert pauses == [0.2, 0.4, 0.8]  # exponential backoff
    assert prepared == ["flaky"] * 4  # the first start and each restart
    supervisor.close()
    stack.stop(grace=1)


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(backoff_seconds=1.0, backoff_max_seconds=30.0)
    assert [policy.pause(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_stopping_a_supervised_stack_leaves_nothing_running(stack: Stack) -> None:
    supervisor = Supervisor(stack, FAST, log=lambda _line: None)
    os.killpg(_pid(stack, "one"), signal.SIGKILL)
    _until(supervisor, supervisor.whole)
    pids = [_pid(stack, "one"), _pid(stack, "two")]
    supervisor.close()
    stack.stop(grace=5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


SLOW_SERVER = """
import http.server, sys, time
class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(1.0)  # busy, as a gateway draining a backlog on a loaded machine
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
"""


def test_a_busy_child_answering_slowly_is_not_killed(tmp_path: Path) -> None:
    port = _free_port()
    busy = Service("busy", [sys.executable, "-c", SLOW_SERVER, str(port)], f"http://127.0.0.1:{port}/")
    stack = Stack([busy], root=tmp_path)
    stack.start(timeout=30)
    lines: list[str] = []
    patient = RestartPolicy(unresponsive_seconds=2.5, probe_timeout=5.0, check_interval=0.1)
    supervisor = Supervisor(stack, patient, log=lines.append)
    try:
        pid = _pid(stack, "busy")
        deadline = time.monotonic() + 6  # several answers, each a second late
        while time.monotonic() < deadline:
            supervisor.check()  # never waits for the slow answers
            time.sleep(0.1)
        assert _pid(stack, "busy") == pid and lines == []
    finally:
        supervisor.close()
        stack.stop(grace=2)
