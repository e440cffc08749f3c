"""Starts the engine, the action server and the gateway(s), waits until each answers, keeps them running
(bot.process_supervisor restarts one that dies or hangs) and stops them cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot import engine_config
from bot.model import engine_executable, model_path
from bot.process_supervisor import GaveUp, RestartPolicy, Supervisor, answers
from bot.settings import PROJECT_ROOT, Settings, get_settings


@dataclass
class Service:
    """One child process and the URL that answers once it is ready."""

    name: str
    command: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    # Run before each start, the first and every restart (the engine's stale conversation locks go).
    prepare: Callable[[], None] | None = None


def services(settings: Settings, model: Path, root: Path = PROJECT_ROOT) -> list[Service]:
    """The processes of the embedded default topology."""
    engine_port = settings.engine_url.rsplit(":", 1)[-1].rstrip("/")
    return [
        Service(
            name="action server",
            command=[
                sys.executable,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(settings.action_server_port),
            ],
            ready_url=f"http://127.0.0.1:{settings.action_server_port}/health",
            # Loopback only; rasa-sdk 3.x warns about the 3.6 engine's version, which is known to work.
            env={"SANIC_HOST": "127.0.0.1", "PYTHONWARNINGS": "ignore::UserWarning"},
        ),
        Service(
            name="engine",
            command=[
                str(engine_executable(root)),
                "run",
                "--model",
                str(model),
                "--enable-api",
                "--auth-token",
                settings.engine_token,
                "--interface",
                "127.0.0.1",
                "--port",
                engine_port,
                "--endpoints",
                str(engine_config.write(settings, root)),
                "--credentials",
                "credentials.yml",
            ],
            ready_url=f"{settings.engine_url}/status?token={settings.engine_token}",
            env={"SANIC_WORKERS": str(settings.engine_workers)},
            prepare=lambda: engine_config.clear_locks(settings),
        ),
        *(
            Service(
                name="gateway" if settings.gateway_replicas == 1 else f"gateway {index + 1}",
                command=[sys.executable, "-m", "bot.gateway"],
                ready_url=f"http://127.0.0.1:{settings.gateway_port + index}/",
                # Replicas share state only through the store (and Redis); each listens on its own port.
                env={
                    "GATEWAY_PORT": str(settings.gateway_port + index),
                    # Each replica's operator metrics on a port of its own (0: off for all).
                    "METRICS_PORT": str(settings.metrics_port + index if settings.metrics_port else 0),
                    "ACTION_SERVER_URL": settings.action_server_url
                    or f"http://127.0.0.1:{settings.action_server_port}",
                },
            )
            for index in range(settings.gateway_replicas)
        ),
    ]


class Stack:
    """A group of services started together and stopped together."""

    def __init__(
        self, members: list[Service], root: Path = PROJECT_ROOT, log_dir: Path | None = None
    ) -> None:
        self.members = members
        self.root = root
        self.log_dir = log_dir

    def start(self, timeout: float = 180.0, poll: float = 0.5) -> dict[str, float]:
        """Start every service and wait until each answers; return, per service, the seconds until it
        was ready. Raises (after stopping the stack) when one dies or is not ready in time."""
        busy = [s.name for s in self.members if answers(s.ready_url, timeout=2)]
        if busy:
            # Another copy is already listening: ours could not bind, and answers would come from it.
            raise RuntimeError(f"already running elsewhere: {', '.join(busy)} (stop it first)")
        begin = time.monotonic()
        for service in self.members:
            self.launch(service)
        ready: dict[str, float] = {}
        pending = list(self.members)
        while pending:
            for service in list(pending):
                assert service.process is not None
                if service.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{service.name} exited with code {service.process.returncode}")
                if answers(service.ready_url, timeout=2):
                    ready[service.name] = round(time.monotonic() - begin, 2)
                    print(f"  {service.name} ready after {ready[service.name]:.1f} s", flush=True)
                    pending.remove(service)
            if pending and time.monotonic() > begin + timeout:
                self.stop()
                raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(s.name for s in pending)}")
            if pending:
                time.sleep(poll)
        return ready

    def launch(self, service: Service) -> None:
        """Start one service's process (in a process group of its own), without waiting for it."""
        if service.prepare is not None:
            service.prepare()
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{service.name.replace(' ', '-')}.log").open("ab")
        service.process = subprocess.Popen(
            service.command,
            cwd=self.root,
            env={**os.environ, **service.env},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if output is not None:
            output.close()  # the child holds its own copy

    def stop(self, grace: float = 10.0) -> None:
        """Stop the services from the front (gateways) to the back (action server), each after the one
        that calls it has exited: the engine closes its keep-alive connections to the action server before
        that server drains its own. SIGKILL for a group still alive `grace` seconds after its SIGTERM."""
        for member in reversed(self.members):
            if member.process is not None:
                stop_groups([member.process], grace)


def stop_groups(processes: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM each process's group, then SIGKILL the groups still alive after `grace` seconds."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def running(
    settings: Settings | None = None, log_dir: Path | None = None, model: Path | None = None
) -> Iterator[Stack]:
    """The stack, started, for the duration of a `with` block (default: the model of the current inputs)."""
    settings = settings or get_settings()
    model = model or model_path()
    if not model.exists():
        raise FileNotFoundError(f"no trained model at {model}: run `make model`")
    stack = Stack(services(settings, model), log_dir=log_dir)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def _usage(settings: Settings) -> str:
    page = settings.public_url.rstrip("/")
    dev = (
        "  Development mode: pick a demo user on the page to try the Admin flows.\n"
        if settings.dev_mode
        else ""
    )
    whatsapp = (
        f"  WhatsApp webhook: {page}/webhooks/twilio/whatsapp\n"
        if settings.twilio_enabled
        else "  WhatsApp: disabled (no Twilio credentials configured)\n"
    )
    metrics = (
        f"  Operator metrics: http://{settings.metrics_host}:{settings.metrics_port}/metrics\n"
        if settings.metrics_port
        else ""
    )
    return f"""
The assistant is running.

  Webchat: {page}/
{dev}{whatsapp}{metrics}
Or ask it over the chat API:

  curl -s {page}/api/chat -H 'Content-Type: application/json' \\
       -d '{{"message": "¿cuántos usuarios trae el plan Expert?"}}'

Press Ctrl-C to stop.
"""


def main() -> int:
    """Run the stack in the foreground until Ctrl-C or SIGTERM."""
    settings = get_settings()
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("Starting the action server and the engine...", flush=True)
    policy = RestartPolicy.from_settings(settings)
    with running(settings) as stack:
        print(_usage(settings), flush=True)
        supervisor = Supervisor(stack, policy)
        try:
            supervisor.run(stopping)
        except GaveUp as error:
            print(f"Stopped: {error}", file=sys.stderr, flush=True)
            return 1
        finally:
            supervisor.close()
        print("Stopping...", flush=True)
    print("Stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
