"""Child processes of the benchmark: start with timing, peak memory of a process tree, clean stops."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.serve import Service, Stack, stop_groups
from bot.settings import PROJECT_ROOT


def port_free(port: int) -> bool:
    """True when nothing listens on the loopback port (so our service can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def http_ok(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """GET (or POST JSON) a loopback URL; the decoded JSON (or True) on 200, None otherwise."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status != 200:
                return None
            raw = response.read()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    try:
        return json.loads(raw) if body is not None else True
    except ValueError:
        return None


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    children = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_memory_mb(pid: int) -> float | None:
    """Sum of VmHWM (peak resident set) over the process tree, in MiB; None if the process is gone."""
    total_kb = 0
    seen = False
    for member in tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
                seen = True
    return round(total_kb / 1024, 1) if seen else None


def start(stack: Stack, timeout: float = 180.0) -> dict[str, float]:
    """Start the stack, polling its services often (start-up times are measured); seconds until each
    service was ready."""
    return stack.start(timeout, poll=0.1)


def wait_for(check: Callable[[], bool], timeout: float, poll: float = 0.1) -> bool:
    """Poll `check` until it is true or `timeout` seconds passed."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return True
        time.sleep(poll)
    return False


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process tree's live members so far, in seconds."""
    ticks = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds each service's process tree has used so far."""
    return {s.name: cpu_seconds(s.process.pid) for s in stack.members if s.process is not None}


def memory(stack: Stack) -> dict[str, float | None]:
    """Peak memory of each service's process tree, in MiB."""
    return {s.name: peak_memory_mb(s.process.pid) if s.process is not None else None for s in stack.members}


def run_logged(
    command: list[str],
    log: Path,
    cwd: Path = PROJECT_ROOT,
    timeout: float = 900.0,
    env: dict[str, str] | None = None,
) -> tuple[int, float]:
    """Run a command to completion with its output in `log`; (exit code, seconds). Killed (with its whole
    process group) on timeout or interruption."""
    log.parent.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except BaseException:
            kill_group(process)
            raise
    return code, round(time.perf_counter() - begin, 2)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after five seconds."""
    stop_groups([process], grace=5.0)


def load_step(spec: dict[str, Any], log: Path, limit: float) -> dict[str, Any]:
    """Run one step of load in a separate process (`python -m bench.load`); its JSON result, or
    {"error": ...} when it failed or ran past `limit` seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.load"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
        )
        try:
            out, _ = process.communicate(json.dumps(spec).encode(), timeout=limit)
        except subprocess.TimeoutExpired:
            kill_group(process)
            return {"error": f"load generator still running after {limit:.0f} s (killed)"}
        except BaseException:
            kill_group(process)
            raise
    if process.returncode != 0:
        return {"error": f"load generator exited with code {process.returncode} (see {log})"}
    try:
        result: dict[str, Any] = json.loads(out)
    except ValueError:
        return {"error": f"load generator printed no result (see {log})"}
    return result


def service(name: str, command: list[str], ready_url: str, env: dict[str, str] | None = None) -> Service:
    """A service definition for a `Stack` (used for the stock bot)."""
    return Service(name=name, command=command, ready_url=ready_url, env=env or {})
