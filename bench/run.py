"""`make bench`: our stack in production configuration and a stock `rasa init` bot, measured in one run.

    python -m bench            # the full benchmark (about 15 minutes)
    python -m bench --quick    # a few seconds per step, fewer levels, no training (under 3 minutes)

Our stack runs on its own ports (engine 7005, actions 7055, gateway 7100; the stock bot 7006, the fake
Twilio API 7190) with a fresh store and tracker store in a temporary folder, so it never meets a
developer's stack or the end-to-end tests. The load comes from a separate process (bench/load.py).
Results: a table on stdout, results/bench/bench.json and results/bench/latency.png; the processes'
logs in results/bench/logs/. Exit code 0 only when our stack lost and duplicated nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procs, report, stock
from bench.load import pending
from bench.questions import OURS, STOCK, flat
from bench.report import CALLBACKS_SERIES
from bot.model import engine_executable, model_path
from bot.serve import Stack, services
from bot.settings import PROJECT_ROOT, Settings, get_settings
from testkit.fake_twilio import FakeTwilio

PUBLIC_URL = "https://bot.bench.example"
WHATSAPP_FROM = "whatsapp:+14155238886"
# The status callbacks Twilio posts for each text the gateway sends, in the open-loop series that has them.
STATUSES = ("sent", "delivered", "read")
# How long after an open-loop step's arrivals stop its backlog may take to be answered.
OPEN_SETTLE_S = 60.0


@dataclass(frozen=True)
class Plan:
    """What to measure and for how long."""

    quick: bool
    parse_clients: tuple[int, ...]
    senders: tuple[int, ...]
    rates: tuple[float, ...]
    parse_seconds: float
    closed_seconds: float
    warmup_seconds: float
    open_seconds: float
    timeout: float
    train: bool

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, (1, 10), (1, 10), (40.0,), 3, 3, 1, 5, 30, False)
        return cls(False, (1, 10), (1, 10, 40, 100), (40.0, 100.0), 20, 30, 3, 60, 30, True)


@dataclass(frozen=True)
class Ports:
    """Where everything listens (all on 127.0.0.1)."""

    engine: int = 7005
    actions: int = 7055
    gateway: int = 7100
    stock: int = 7006
    twilio: int = 7190


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per step, fewer levels")
    parser.add_argument(
        "--stock",
        choices=("auto", "always", "never"),
        default="auto",
        help="measure the stock bot: auto = always in the full run, only if already cached with --quick",
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "bench")
    parser.add_argument("--port-base", type=int, default=7000, help="engine = base+5, stock = base+6, ...")
    parser.add_argument("--senders", type=_numbers, help="closed-loop levels, e.g. 1,10,40,100")
    parser.add_argument("--rates", type=_numbers, help="open-loop rates in messages/s, e.g. 40,100")
    parser.add_argument("--closed-seconds", type=float, help="measured seconds of each closed-loop step")
    parser.add_argument("--open-seconds", type=float, help="seconds of arrivals of each open-loop step")
    return parser.parse_args(argv)


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def _plan(args: argparse.Namespace) -> Plan:
    """The plan of the mode, with the command line's overrides."""
    plan = Plan.make(args.quick)
    changes: dict[str, Any] = {}
    if args.senders:
        changes["senders"] = tuple(int(n) for n in args.senders)
    if args.rates:
        changes["rates"] = args.rates
    if args.closed_seconds:
        changes["closed_seconds"] = args.closed_seconds
    if args.open_seconds:
        changes["open_seconds"] = args.open_seconds
    return replace(plan, **changes)


def _terminate_on_sigterm() -> None:
    """SIGTERM (and SIGHUP) behave like Ctrl-C: unwind, stopping every process we started."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    # Even when started in the background (where a shell ignores SIGINT), Ctrl-C / SIGINT stops the run.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _say(text: str) -> None:
    print(text, flush=True)


class Bench:
    """One run: its plan, its folders, what it measured."""

    def __init__(self, plan: Plan, ports: Ports, out: Path, tmp: Path, stock_mode: str) -> None:
        self.plan = plan
        self.ports = ports
        self.out = out
        self.logs = out / "logs"
        self.tmp = tmp
        self.stock_mode = stock_mode
        # Between WhatsApp steps (whose load generator serves the fake Twilio API itself), this one takes
        # what the gateway still sends, so its retries of stored messages never fail for want of Twilio.
        self.sink: FakeTwilio | None = None
        # The stacks whose processes' CPU time each step measures.
        self.measured: Stack | None = None
        self.stock_stack: Stack | None = None
        self.results: dict[str, Any] = {
            "mode": "quick" if plan.quick else "full",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            "plan": asdict(plan),
            "ours": {"steps": []},
            "stock": {"steps": []},
            "training": {},
            "notes": [],
        }

    # --- helpers ----------------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        self.results["notes"].append(text)
        _say(f"  note: {text}")

    def step(self, side: str, name: str, spec: dict[str, Any], series: str | None = None) -> dict[str, Any]:
        """One step of load in the load generator's process; its result is kept under `side` (and, for the
        table, in `series`: its channel unless told)."""
        _say(f"  {name}...")
        wait = max(spec.get("timeout", 30), spec.get("give_up") or 0)
        limit = spec.get("warmup", 0) + spec.get("duration", 0) + wait * 2 + 60
        limit += spec.get("settle", 0)
        whatsapp = spec["channel"] == "whatsapp" and self.sink is not None
        if whatsapp and self.sink is not None:
            self.sink.stop()
        measured = self.measured if side == "ours" else self.stock_stack
        cpu_before = procs.cpu(measured) if measured is not None else {}
        try:
            result = procs.load_step(spec, self.logs / f"load-{side}.log", limit)
        finally:
            if whatsapp and self.sink is not None:
                self.sink.start()
        result["name"] = name
        result["series"] = series or spec["channel"]
        if side == "ours" and spec["channel"] != "parse":
            before = len(self.sink.messages()) if self.sink is not None else 0
            left, waited = self.settle()
            result["pending_after"] = left
            result["settle_s"] = round((result.get("settle_s") or 0) + waited, 1)
            if self.sink is not None:
                result["sent_to_twilio_after_step"] = len(self.sink.messages()) - before
        if measured is not None and result.get("answered_all"):
            # Per answered message, warm-up included; the step's backlog was answered by now (settled).
            used = procs.cpu(measured)
            result["cpu_ms_per_answer"] = {
                service: round(
                    (used[service] - cpu_before.get(service, 0.0)) * 1000 / result["answered_all"], 2
                )
                for service in used
            }
            if result.get("cpu_s") is not None:
                result["cpu_ms_per_answer"]["load generator"] = round(
                    result["cpu_s"] * 1000 / result["answered_all"], 2
                )
        self.results[side]["steps"].append(result)
        if "error" in result:
            _say(f"    FAILED: {result['error']}")
        else:
            lat = result["latency_ms"]
            _say(
                f"    {result['throughput']:.1f} msg/s, p50 {lat['p50']:.0f} ms, p90 {lat['p90']:.0f} ms, "
                f"p99 {lat['p99']:.0f} ms, lost {result['lost']}, duplicated {result['duplicated']}, "
                f"mismatched {result['mismatched']}, apologies {result.get('apologies', 0)}"
            )
        if result.get("pending_after"):
            self.note(f"{name}: {result['pending_after']} message(s) still unanswered in the gateway's store")
        return result

    def settle(self, limit: float = 60.0) -> tuple[int, float]:
        """Wait until the gateway has answered everything it stored (an overloaded step leaves a backlog
        that would run into the next step); (messages still pending, seconds waited)."""
        begin = time.perf_counter()
        store = str(self.tmp / "bot.db")
        left = pending(store)
        while left and time.perf_counter() - begin < limit:
            time.sleep(0.5)
            left = pending(store)
        return left, round(time.perf_counter() - begin, 1)

    def calibrate(self, channel: str, base_url: str, scripts: list[list[str]]) -> list[Any]:
        """The answers of every script, each asked once alone (what the load's answers must equal)."""
        spec = {"kind": "calibrate", "channel": channel, "base_url": base_url, "scripts": scripts}
        result = procs.load_step(spec, self.logs / "load-calibrate.log", 300)
        if "error" in result:
            raise RuntimeError(f"calibration failed: {result['error']}")
        expected: list[Any] = result["expected"]
        for script, answers in zip(scripts, expected, strict=True):
            for text, messages in zip(script, answers, strict=True):
                if not messages:
                    raise RuntimeError(f"calibration: {text!r} got an empty answer: fix bench/questions.py")
        return expected

    # --- training ---------------------------------------------------------------------------------------
    def train(self, bot: stock.StockBot | None) -> None:
        training = self.results["training"]
        if not self.plan.train:
            training["ours"] = training["stock"] = "skipped"
            return
        rasa = str(engine_executable())
        cache = {"RASA_CACHE_DIRECTORY": str(self.tmp / "rasa-cache")}
        _say("Training our model (rasa train --force)...")
        command = [rasa, "train", "--force", "--config", "config.yml", "--domain", "domain.yml"]
        command += ["--data", "data", "--out", str(self.tmp / "train-ours")]
        code, seconds = procs.run_logged(command, self.logs / "train-ours.log", env=cache)
        training["ours"] = seconds if code == 0 else f"failed (exit {code})"
        _say(f"  {training['ours']} s")
        if bot is None:
            training["stock"] = "skipped"
            return
        _say("Training the stock bot (rasa train --force)...")
        command = [rasa, "train", "--force", "--out", str(self.tmp / "train-stock")]
        stock_env = {**cache, "ENGINE_SPEEDUPS": "0"}  # stock Rasa, without our engine speed-ups
        code, seconds = procs.run_logged(
            command, self.logs / "train-stock.log", cwd=bot.directory, env=stock_env
        )
        training["stock"] = seconds if code == 0 else f"failed (exit {code})"
        _say(f"  {training['stock']} s")

    # --- our stack --------------------------------------------------------------------------------------
    def our_environment(self) -> dict[str, str]:
        return {
            "DEV_MODE": "false",
            "ENGINE_URL": f"http://127.0.0.1:{self.ports.engine}",
            "ENGINE_TOKEN": secrets.token_hex(16),
            "ACTION_SERVER_PORT": str(self.ports.actions),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.ports.gateway),
            "PUBLIC_URL": PUBLIC_URL,
            "JWT_SECRET": secrets.token_hex(32),
            "DATABASE_URL": f"sqlite:///{self.tmp / 'bot.db'}",
            "TRACKER_STORE_URL": f"sqlite:///{self.tmp / 'tracker.db'}",
            # Production on one machine (README): two engine workers sharing a SQLite lock file.
            "ENGINE_WORKERS": "2",
            "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
            "TWILIO_API_BASE": f"http://127.0.0.1:{self.ports.twilio}",
            # Many senders, each answered before its next message; the limit must not be what we measure.
            "RATE_LIMIT_PER_SECOND": "1000",
            "RATE_LIMIT_BURST": "1000",
        }

    def ours(self) -> None:
        model = model_path()
        if not model.exists():
            raise RuntimeError(f"no trained model at {model}: run `make model`")
        os.environ.update(self.our_environment())
        get_settings.cache_clear()
        settings = Settings()
        side = self.results["ours"]
        side["model"] = model.name
        side["config"] = {
            "engine_workers": settings.engine_workers,
            "lock_store": bool(settings.lock_store_url),
            "tracker_store": settings.tracker_store_url.split(":", 1)[0],
            "database": settings.database_url.split(":", 1)[0],
        }
        _say("Seeding a fresh store...")
        code, _ = procs.run_logged([sys.executable, "-m", "bot.cli", "seed"], self.logs / "seed.log")
        if code != 0:
            raise RuntimeError(f"seeding failed (see {self.logs / 'seed.log'})")
        _say(f"Starting our stack (engine :{self.ports.engine}, gateway :{self.ports.gateway})...")
        stack = Stack(services(settings, model), log_dir=self.logs)
        assert settings.twilio_account_sid and settings.twilio_auth_token
        self.sink = FakeTwilio(
            settings.twilio_account_sid, settings.twilio_auth_token, port=self.ports.twilio
        )
        self.sink.start()
        self.measured = stack
        begin = time.perf_counter()
        try:
            side["ready_s"] = procs.start(stack)
            gateway = f"http://127.0.0.1:{self.ports.gateway}"

            def answered() -> bool:
                reply = procs.http_ok(f"{gateway}/api/chat", {"message": "hola"}, timeout=10)
                return isinstance(reply, list) and bool(reply)

            if not procs.wait_for(answered, 60):
                raise RuntimeError("our stack never answered a first message")
            side["cold_start_s"] = round(time.perf_counter() - begin, 2)
            _say(f"  first answer after {side['cold_start_s']:.1f} s")
            self.drive_ours(settings, gateway)
            side["memory_mb"] = procs.memory(stack)
        finally:
            self.mark_logs(stack)
            stack.stop()
            self.measured = None
            self.sink.stop()
            self.sink = None

    def drive_ours(self, settings: Settings, gateway: str) -> None:
        plan = self.plan
        scripts = [list(s) for s in OURS]
        expected = self.calibrate("webchat", gateway, scripts)
        common = {"scripts": scripts, "expected": expected, "timeout": plan.timeout}
        questions = [[q] for q in flat(OURS)]
        for clients in plan.parse_clients:
            self.step(
                "ours",
                f"parse c={clients}",
                {
                    "kind": "closed",
                    "channel": "parse",
                    "base_url": settings.engine_url,
                    "scripts": questions,
                    "token": settings.engine_token,
                    "concurrency": clients,
                    "duration": plan.parse_seconds,
                    "warmup": plan.warmup_seconds,
                    "timeout": plan.timeout,
                },
            )
        for senders in plan.senders:
            self.step(
                "ours",
                f"closed webchat c={senders}",
                {
                    **common,
                    "kind": "closed",
                    "channel": "webchat",
                    "base_url": gateway,
                    "concurrency": senders,
                    "duration": plan.closed_seconds,
                    "warmup": plan.warmup_seconds,
                },
            )
        twilio = {
            "port": self.ports.twilio,
            "account_sid": settings.twilio_account_sid,
            "auth_token": settings.twilio_auth_token,
            "public_url": PUBLIC_URL,
            "whatsapp_from": WHATSAPP_FROM,
        }
        # WhatsApp twice: the messages alone (the target), then with the status callbacks a real number
        # gets for every text (posted by the load generator, on this machine's cores too).
        series = (
            ("webchat", "webchat", None),
            ("whatsapp", "whatsapp", twilio),
            (CALLBACKS_SERIES, "whatsapp", {**twilio, "statuses": list(STATUSES)}),
        )
        for rate in plan.rates:
            for label, channel, fake in series:
                self.step(
                    "ours",
                    f"open {label} {rate:g}/s",
                    {
                        **common,
                        "kind": "open",
                        "channel": channel,
                        "base_url": gateway,
                        "rate": rate,
                        "duration": plan.open_seconds,
                        "twilio": fake,
                        "store": str(self.tmp / "bot.db") if channel == "whatsapp" else None,
                        "settle": OPEN_SETTLE_S,
                        # An overload leaves a backlog, answered after the arrivals stop: waited for
                        # (its latency counts), and lost only when it never comes.
                        "give_up": plan.open_seconds + OPEN_SETTLE_S,
                    },
                    series=label,
                )

    # --- the stock bot ----------------------------------------------------------------------------------
    def stock_bot(self) -> stock.StockBot | None:
        """The cached stock bot, created if this run wants it."""
        version = stock.rasa_version()
        self.results["stock"]["rasa"] = version
        bot = stock.cached(version)
        wanted = self.stock_mode == "always" or (self.stock_mode == "auto" and not self.plan.quick)
        if bot is None and wanted:
            _say(f"Creating the stock bot (rasa init --no-prompt, rasa {version}; cached afterwards)...")
            bot = stock.create(version, self.logs / "stock-init.log", {})
            _say(f"  {bot.init_seconds:.0f} s")
        if self.stock_mode == "never" or bot is None:
            reason = "--stock never" if self.stock_mode == "never" else "not cached yet (run `make bench`)"
            self.results["stock"]["skipped"] = reason
            self.note(f"stock bot skipped: {reason}")
            return None
        self.results["stock"]["init_seconds"] = bot.init_seconds
        return bot

    def stock(self, bot: stock.StockBot) -> None:
        side = self.results["stock"]
        side["model"] = bot.model().name
        _say(f"Starting the stock bot (rasa run --enable-api, :{self.ports.stock})...")
        stack = Stack([stock.engine_service(bot, self.ports.stock)], root=bot.directory, log_dir=self.logs)
        self.stock_stack = stack
        base = f"http://127.0.0.1:{self.ports.stock}"
        begin = time.perf_counter()
        try:
            side["ready_s"] = procs.start(stack)

            def answered() -> bool:
                reply = procs.http_ok(
                    f"{base}/webhooks/rest/webhook", {"sender": "cold-start", "message": "hello"}, timeout=10
                )
                return isinstance(reply, list) and bool(reply)

            if not procs.wait_for(answered, 60):
                raise RuntimeError("the stock bot never answered a first message")
            side["cold_start_s"] = round(time.perf_counter() - begin, 2)
            _say(f"  first answer after {side['cold_start_s']:.1f} s")
            scripts = [list(s) for s in STOCK]
            expected = self.calibrate("rest", base, scripts)
            for senders in self.plan.senders:
                self.step(
                    "stock",
                    f"stock closed rest c={senders}",
                    {
                        "kind": "closed",
                        "channel": "rest",
                        "base_url": base,
                        "scripts": scripts,
                        "expected": expected,
                        "concurrency": senders,
                        "duration": self.plan.closed_seconds,
                        "warmup": self.plan.warmup_seconds,
                        "timeout": self.plan.timeout,
                    },
                )
            side["memory_mb"] = procs.memory(stack)
        finally:
            self.mark_logs(stack)
            stack.stop()

    def mark_logs(self, stack: Stack) -> None:
        """Remember how long each service's log is before it is stopped: what a service logs while it is
        stopped (Sanic's manager prints a traceback on SIGTERM) is shutdown noise, not a fault of the run."""
        marks = self.results.setdefault("log_marks", {})
        for member in stack.members:
            log = self.logs / f"{member.name.replace(' ', '-')}.log"
            if log.exists():
                marks[log.stem] = log.stat().st_size

    # --- the whole run ----------------------------------------------------------------------------------
    def check_ports(self) -> None:
        busy = [p for p in asdict(self.ports).values() if not procs.port_free(p)]
        if busy:
            raise RuntimeError(f"ports already in use on 127.0.0.1: {busy} (another benchmark running?)")

    def run(self) -> None:
        self.check_ports()
        bot = self.stock_bot()
        self.train(bot)
        self.ours()
        if bot is not None:
            self.stock(bot)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder for the stores and trained models, removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when our stack lost and duplicated nothing, 1 otherwise, 2 when it broke."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    args = _parse_args(argv)
    plan = _plan(args)
    base = args.port_base
    ports = Ports(base + 5, base + 55, base + 100, base + 6, base + 190)
    shutil.rmtree(args.out / "logs", ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    _terminate_on_sigterm()
    # Every rasa process we start: no usage data leaves the machine.
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    started = time.perf_counter()
    _say(f"Benchmark ({'quick' if plan.quick else 'full'}); logs in {args.out / 'logs'}")
    failure = None
    with _scratch() as tmp:
        bench = Bench(plan, ports, args.out, tmp, args.stock)
        try:
            bench.run()
        except KeyboardInterrupt:
            _say("Interrupted: every process was stopped.")
            return 130
        except Exception as error:
            failure = f"{type(error).__name__}: {error}"
            bench.results["error"] = failure
            _say(f"FAILED: {failure}")
    bench.results["seconds"] = round(time.perf_counter() - started, 1)
    marks = bench.results.pop("log_marks", {})
    bench.results["log_problems"] = report.log_problems(args.out / "logs", marks)
    bench.results["log_problems_at_shutdown"] = {
        name: count - bench.results["log_problems"].get(name, 0)
        for name, count in report.log_problems(args.out / "logs", {}).items()
        if count - bench.results["log_problems"].get(name, 0)
    }
    # The raw results first: a fault in the summary or the plot must not lose the measurements.
    (args.out / "bench.json").write_text(json.dumps(bench.results, indent=2, ensure_ascii=False))
    summary = report.summarise(bench.results)
    bench.results["summary"] = summary
    (args.out / "bench.json").write_text(json.dumps(bench.results, indent=2, ensure_ascii=False))
    plot = report.plot(bench.results, args.out / "latency.png")
    print()
    print(report.table(bench.results))
    print()
    _say(f"Saved {args.out / 'bench.json'}" + (f" and {plot}" if plot else " (no plot: matplotlib missing)"))
    if failure is not None:
        return 2
    return 0 if summary["clean"] else 1
