"""Supervision of `bot serve`'s children, as a process supervisor would: a child that exits is started
again after an exponentially growing pause; one that stops answering its health check (hung, or frozen
with SIGSTOP) for a while is killed and started again; too many restarts of one child in a window stop
the whole stack. The gateway keeps storing messages meanwhile and answers them once the engine is back."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:  # bot.serve runs the supervisor
    from bot.serve import Service, Stack


class GaveUp(RuntimeError):
    """A child was restarted too often: the stack stops rather than flap."""


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart a child, and when to give up."""

    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    unresponsive_seconds: float = 30.0
    limit: int = 5
    window_seconds: float = 300.0
    # A restarted child must answer within this long (the engine loads its model first).
    start_seconds: float = 180.0
    check_interval: float = 1.0
    # A busy child (a gateway draining a backlog on a loaded machine) may take seconds to answer: it is
    # alive. A frozen one never answers, and is killed UNRESPONSIVE_SECONDS after its last answer.
    probe_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RestartPolicy:
        """The policy the settings describe (RESTART_* and UNRESPONSIVE_SECONDS)."""
        return cls(
            backoff_seconds=settings.restart_backoff_seconds,
            backoff_max_seconds=settings.restart_backoff_max_seconds,
            unresponsive_seconds=settings.unresponsive_seconds,
            limit=settings.restart_limit,
            window_seconds=settings.restart_window_seconds,
        )

    def pause(self, recent_restarts: int) -> float:
        """Seconds to wait before the next restart: 1, 2, 4 … (by default), capped."""
        return min(self.backoff_max_seconds, self.backoff_seconds * float(2**recent_restarts))


def answers(url: str, timeout: float = 3.0) -> bool:
    """The health check: the URL answers 200 within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def say(line: str) -> None:
    """A supervision log line (stderr: the journal under systemd)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {line}", file=sys.stderr, flush=True)


@dataclass
class _Watch:
    """What the supervisor knows of one child."""

    service: Service
    # Since when it has been starting (not ready yet), or when it last answered its health check.
    since: float
    ready: bool = True
    restart_at: float | None = None
    restarts: deque[float] = field(default_factory=deque)
    # The health check under way (one at a time; a restart forgets it, its answer was the old process's).
    probe: Future[bool] | None = None


class Supervisor:
    """Watches a started stack; `check()` once a second or so, from the thread that started it."""

    def __init__(
        self,
        stack: Stack,
        policy: RestartPolicy,
        log: Callable[[str], None] = say,
        probe: Callable[[str, float], bool] = answers,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.policy = policy
        self._log = log
        self._probe = probe
        self._clock = clock
        now = clock()
        self._watches = [_Watch(member, now) for member in stack.members]
        # Two threads a child: a forgotten check of a restarted child may still be waiting for its answer.
        self._pool = ThreadPoolExecutor(
            max_workers=2 * max(1, len(stack.members)), thread_name_prefix="health"
        )

    def close(self) -> None:
        """Release the health-check threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def restarts(self, name: str) -> int:
        """How many times a child was restarted within the current window."""
        return len(self._watch(name).restarts)

    def whole(self) -> bool:
        """Every child running and answering."""
        return all(w.ready and w.restart_at is None for w in self._watches)

    def run(self, stop: threading.Event) -> None:
        """Check every `check_interval` seconds until `stop` is set (it wakes the wait at once). Raises
        GaveUp when a child needs restarting once too often."""
        while not stop.is_set():
            self.check()
            stop.wait(self.policy.check_interval)

    def check(self) -> None:
        """One round: restart what is due, collect the health checks that finished, start new ones (in
        threads: a round never waits for a slow answer), act. Raises GaveUp when a child needs restarting
        once too often."""
        now = self._clock()
        for watch in self._watches:
            if watch.restart_at is not None and now >= watch.restart_at:
                self._start(watch, now)
        for watch in self._watches:
            if watch.restart_at is not None:
                continue
            process = watch.service.process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                self._schedule(watch, now, f"{watch.service.name} exited with code {code}")
                continue
            if watch.probe is not None and watch.probe.done():
                answered, watch.probe = watch.probe.result(), None
                if answered:
                    if not watch.ready:
                        self._log(f"{watch.service.name} is back, answering after {now - watch.since:.1f} s")
                    watch.ready, watch.since = True, now
            if watch.probe is None:
                watch.probe = self._pool.submit(
                    self._probe, watch.service.ready_url, self.policy.probe_timeout
                )
            if watch.ready and now - watch.since >= self.policy.unresponsive_seconds:
                kill_group(process)
                self._schedule(
                    watch,
                    now,
                    f"{watch.service.name} has not answered its health check for "
                    f"{now - watch.since:.0f} s: killed",
                )
            elif not watch.ready and now - watch.since >= self.policy.start_seconds:
                kill_group(process)
                late = f"{now - watch.since:.0f} s"
                self._schedule(
                    watch, now, f"{watch.service.name} was not ready {late} after its start: killed"
                )

    def _watch(self, name: str) -> _Watch:
        return next(w for w in self._watches if w.service.name == name)

    def _schedule(self, watch: _Watch, now: float, why: str) -> None:
        while watch.restarts and now - watch.restarts[0] > self.policy.window_seconds:
            watch.restarts.popleft()
        if len(watch.restarts) >= self.policy.limit:
            raise GaveUp(
                f"{why}; it was restarted {len(watch.restarts)} times in the last "
                f"{self.policy.window_seconds:.0f} s, so the stack stops (see its log)"
            )
        pause = self.policy.pause(len(watch.restarts))
        watch.restart_at, watch.probe = now + pause, None
        self._log(
            f"{why}; restarting it in {pause:g} s "
            f"(restart {len(watch.restarts) + 1} of at most {self.policy.limit} "
            f"in {self.policy.window_seconds:.0f} s)"
        )

    def _start(self, watch: _Watch, now: float) -> None:
        self._log(f"restarting {watch.service.name}")
        watch.restarts.append(now)
        watch.restart_at, watch.ready, watch.since = None, False, now
        try:
            self.stack.launch(watch.service)
        except Exception as error:  # e.g. the lock store unreachable: counted as a failed start
            self._log(f"{watch.service.name} could not be started: {type(error).__name__}: {error}")
            watch.service.process = None


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (a stopped process cannot handle SIGTERM) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
