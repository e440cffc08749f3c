"""The soak run: `python -m soak [--rate 40] [--minutes 10] [--scaled] [--faults]`.

Starts the stack on ports of its own with fresh stores (SQLite by default; with --scaled a fresh
PostgreSQL database, the Redis lock store, two engine workers and two gateway replicas), a fake Twilio in
this process, then posts `rate` messages a second for `minutes` over both channels from many simulated
users in multi-turn conversations (a WhatsApp user waits for the answer before the next turn; a webchat
user told "queued" retries the same message id with backoff). The services are supervised as `bot serve`
supervises them (bot.process_supervisor). With --faults Twilio answers 500 for ten seconds early on (15 %),
then the engine is killed mid-run (40 %): the supervisor starts it again, and the table reports how long
after its return the messages kept meanwhile were all answered (the drain time).
Afterwards it waits (bounded) until everything is answered and delivered, counts, prints a table and
writes results/soak/soak.json. Every process it started is stopped at the end, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bot.answers.notices import APOLOGY
from bot.model import model_path
from bot.settings import PROJECT_ROOT
from testkit.audit import Audit, audit
from testkit.fake_twilio import FakeTwilio
from testkit.load import WEBCHAT, WHATSAPP, Load
from testkit.stack import Ports, Topology, wait_until

PORTS = Ports(engine=6405, actions=6455, gateway=9400)
SCALED_PORTS = Ports(engine=6415, actions=6465, gateway=9410)
PG_ADMIN = os.environ.get(
    "BOT_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/2")
OUT = PROJECT_ROOT / "results" / "soak"


@dataclass
class Fault:
    """One fault injected during the run and what came of it."""

    name: str
    started: float = 0.0
    ended: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    ok: bool | None = None
    error: str | None = None

    def line(self) -> str:
        """The fault's line of the table."""
        result = "ok" if self.ok else ("FAILED" if self.ok is False else "not run")
        return f"  {self.name:<18} {result:<8} {self.details.get('summary', self.error or '')}"


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def _postgres_database() -> Iterator[tuple[str, str]]:
    """A fresh database for the run (dropped afterwards): (store URL, tracker store URL)."""
    name = f"zcc_soak_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = urllib.parse.urlsplit(PG_ADMIN)
    try:
        yield f"postgresql+psycopg://{base.netloc}/{name}", f"postgresql://{base.netloc}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _topology(args: argparse.Namespace, resources: ExitStack, twilio: FakeTwilio) -> Topology:
    """The stack to soak, on its own ports and fresh stores."""
    ports = SCALED_PORTS if args.scaled else PORTS
    wanted = [ports.engine, ports.actions, *(ports.gateway + i for i in range(2 if args.scaled else 1))]
    busy = [p for p in wanted if not _free(p)]
    if busy:
        raise SystemExit(f"ports in use: {busy} (another soak running?)")
    if args.scaled:
        if not _reachable("127.0.0.1", 5432) or not _reachable("127.0.0.1", 6379):
            raise SystemExit("--scaled needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
        store, tracker = resources.enter_context(_postgres_database())
        return Topology(
            "soak-scaled",
            ports,
            store,
            tracker,
            twilio,
            gateway_replicas=2,
            engine_workers=2,
            lock_store_url=REDIS,
            log_dir=PROJECT_ROOT / "var" / "log" / "soak-scaled",
        )
    folder = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
    return Topology(
        "soak",
        ports,
        f"sqlite:///{folder / 'bot.db'}",
        f"sqlite:///{folder / 'tracker.db'}",
        twilio,
        # The one-machine production setting: two engine workers sharing a SQLite lock file.
        engine_workers=2,
        log_dir=PROJECT_ROOT / "var" / "log" / "soak",
    )


# --- faults -----------------------------------------------------------------------------------------------
def _engine_kill(stack: Topology, load: Load, fault: Fault) -> None:
    """Kill the engine (SIGKILL), let the supervisor start it again, and measure how the backlog drains."""
    fault.started = time.monotonic()
    stack.kill("engine")
    killed = time.monotonic()
    if not wait_until(lambda: stack.answering("engine"), timeout=300, interval=0.2):
        raise RuntimeError("the supervisor did not bring the engine back within 300 s")
    back = time.monotonic()
    restart_seconds = back - killed
    # Messages kept while it was down (a failed attempt counted) are answered after the restart.
    drained = wait_until(lambda: stack.kept(pending_only=True) == 0, timeout=300, interval=1.0)
    fault.ended = time.monotonic()
    during = load.between(fault.started, back)
    refused = [r for r in during if r.channel == WEBCHAT and r.statuses and r.statuses[0] == 503]
    kept = stack.kept()
    apologies = [m for m in stack.twilio.messages() if m.body == APOLOGY]
    fault.details = {
        "outage_s": round(back - fault.started, 1),
        "restart_s": round(restart_seconds, 1),
        "webchat_503_queued": len(refused),
        "apologies": len(apologies),
        "apologised_users": len({m.to for m in apologies}),
        "kept_messages": kept,
        "backlog_answered_s_after_restart": round(fault.ended - back, 1) if drained else None,
    }
    fault.ok = drained
    fault.details["summary"] = (
        f"outage {fault.details['outage_s']} s; {len(refused)} webchat 503 (queued); "
        f"{len(apologies)} apologies to {fault.details['apologised_users']} users; {kept} kept, "
        + (
            f"drain: all answered {fault.details['backlog_answered_s_after_restart']} s after its return"
            if drained
            else "NOT drained"
        )
    )


def _twilio_burst(stack: Topology, fault: Fault, seconds: float = 10.0) -> None:
    """Twilio answers 500 for `seconds`; the outbox retries with backoff until everything is delivered."""
    before = len(stack.twilio.refused())
    fault.started = time.monotonic()
    stack.twilio.fail()
    time.sleep(seconds)
    stack.twilio.recover()
    recovered = time.monotonic()
    drained = wait_until(lambda: stack.retried(pending_only=True) == 0, timeout=180, interval=1.0)
    fault.ended = time.monotonic()
    refused = len(stack.twilio.refused()) - before
    retried = stack.retried()
    fault.details = {
        "seconds": seconds,
        "refused_attempts": refused,
        "texts_retried": retried,
        "delivered_s_after_recovery": round(fault.ended - recovered, 1) if drained else None,
    }
    fault.ok = drained and refused > 0
    fault.details["summary"] = (
        f"{seconds:.0f} s of 500s; {refused} refused attempts; {retried} texts retried, "
        + (
            f"all delivered {fault.details['delivered_s_after_recovery']} s after recovery"
            if drained
            else "NOT delivered"
        )
    )


def _faults(stack: Topology, load: Load, seconds: float, faults: list[Fault], stop: threading.Event) -> None:
    """The fault schedule (a thread): a Twilio 500 burst early on, then the engine killed mid-run (its
    backlog takes longest to drain, so it comes second); a fault is skipped if the load has ended."""
    begin = time.monotonic()
    engine, twilio = faults
    try:
        if stop.wait(seconds * 0.15):
            return
        _say("fault: Twilio answers 500 for 10 s")
        _twilio_burst(stack, twilio)
        _say(f"fault: Twilio 500 burst: {twilio.details['summary']}")
        if stop.wait(max(5.0, seconds * 0.4 - (time.monotonic() - begin))):
            return
        if seconds - (time.monotonic() - begin) < 15 or not load.running():
            engine.details["summary"] = "not run: too little of the load was left (a longer --minutes)"
            return
        _say("fault: killing the engine (SIGKILL); the supervisor starts it again")
        _engine_kill(stack, load, engine)
        _say(f"fault: engine kill: {engine.details['summary']}")
    except Exception as error:  # reported in the table, never left to kill the thread silently
        for fault in (twilio, engine):
            if fault.ok is None:
                fault.ok, fault.error = False, f"{type(error).__name__}: {error}"
                break


# --- the report -------------------------------------------------------------------------------------------
def _table(result: Audit, header: str, faults: list[Fault]) -> str:
    rows = [header, ""]
    rows.append(
        f"  {'channel':<9} {'sent':>7} {'received':>9} {'answered':>9} {'delivered':>10} {'lost':>5} "
        f"{'duplicated':>10} {'p50 ms':>8} {'p99 ms':>8}"
    )
    totals = {"sent": 0, "received": 0, "answered": 0, "delivered": 0, "lost": 0, "duplicated": 0}
    for name in (WHATSAPP, WEBCHAT):
        c = result.channels[name].summary()
        for key in totals:
            totals[key] += c[key]
        rows.append(
            f"  {name:<9} {c['sent']:>7} {c['received']:>9} {c['answered']:>9} {c['delivered']:>10} "
            f"{c['lost']:>5} {c['duplicated']:>10} {_ms(c['p50_ms']):>8} {_ms(c['p99_ms']):>8}"
        )
    rows.append(
        f"  {'total':<9} {totals['sent']:>7} {totals['received']:>9} {totals['answered']:>9} "
        f"{totals['delivered']:>10} {totals['lost']:>5} {totals['duplicated']:>10}"
    )
    wrong = sum(c.wrong for c in result.channels.values())
    silent = sum(c.silent for c in result.channels.values())
    rows.append("")
    rows.append(
        f"  still pending: {result.pending_inbound} inbound, {result.pending_outbound} outbound; "
        f"answered with nothing: {silent}; answers not naming the plan asked about: {wrong}; "
        f"most apologies to one WhatsApp user: {max(result.apologies_by_sender.values(), default=0)}"
    )
    if faults:
        rows += ["", f"  {'fault':<18} {'result':<8} details"]
        rows += [fault.line() for fault in faults]
    return "\n".join(rows)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _equal(result: Audit) -> bool:
    return all(
        c.sent == c.received == c.answered == c.delivered and c.lost == c.duplicated == 0
        for c in result.channels.values()
    )


# --- the run ------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    """Start, load, inject faults, drain, count, report; stop everything whatever happens."""
    model = model_path()
    if not model.exists():
        print(f"no trained model at {model}: run `make model` first", file=sys.stderr)
        return 2
    seconds = args.minutes * 60
    started_at = datetime.now(UTC)
    faults = [Fault("engine kill"), Fault("twilio 500 burst")] if args.faults else []
    stop = threading.Event()
    with ExitStack() as resources:
        twilio = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
        resources.enter_context(twilio.running())
        stack = _topology(args, resources, twilio)
        resources.callback(stack.close)
        _say(f"starting {stack.name}: engine :{stack.ports.engine}, gateway :{stack.ports.gateway} …")
        stack.seed()
        stack.start()
        stack.supervise()
        load = Load(
            stack,
            args.rate,
            conversations=args.conversations or max(100, int(args.rate * 25)),
            wait_for_replies=True,
            reply_timeout=30.0,
            webchat_retry=2.0,
            give_up_after=240.0,
            seed=args.seed,
        )
        resources.callback(load.close)
        resources.callback(stop.set)
        _say(f"load: {args.rate:g} messages/s for {args.minutes:g} min over WhatsApp and the webchat")
        begin = time.monotonic()
        load.start(seconds)
        scheduler = None
        if faults:
            scheduler = threading.Thread(
                target=_faults, args=(stack, load, seconds, faults, stop), daemon=True
            )
            scheduler.start()
        while load.running():
            time.sleep(min(10.0, max(0.5, seconds / 20)))
            _say(f"  {len(load.records)} messages posted, {load.skipped} ticks without an idle user")
        loaded = time.monotonic() - begin
        if scheduler is not None:
            scheduler.join(600)
        _say("load done: waiting for the answers (bounded)")
        load.stop(wait=300)
        left = stack.wait_settled(None, None, timeout=args.drain)
        reposted = load.retry_refused(timeout=120)
        if reposted:
            _say(f"re-posted {reposted} messages the gateway had refused (Twilio's and the page's retry)")
            left = stack.wait_settled(None, None, timeout=args.drain)
        _say(f"settled (pending inbound, outbound): {left}; counting")
        result = audit(stack, load.records, everything=True)
        sent = len(load.records)
        mode = "PostgreSQL + Redis, 2 engine workers, 2 gateways" if args.scaled else "SQLite, 1 gateway"
        header = (
            f"Soak: {args.rate:g} messages/s offered for {args.minutes:g} min ({mode}); "
            f"{sent} messages sent ({sent / max(loaded, 1e-9):.1f}/s), {load.skipped} ticks with no idle user"
        )
        ok = _equal(result) and result.pending_inbound == result.pending_outbound == 0
        ok = ok and all(f.ok is not False for f in faults) and stack.gave_up is None
        report = _table(result, header, faults)
        print("\n" + report + "\n", flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        summary = {
            "started": started_at.isoformat(timespec="seconds"),
            "ok": ok,
            "config": {
                "rate": args.rate,
                "minutes": args.minutes,
                "scaled": args.scaled,
                "faults": args.faults,
                "seed": args.seed,
                "conversations_per_channel": len(load.pool[WHATSAPP]),
            },
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
            "load_seconds": round(loaded, 1),
            "sent": sent,
            "achieved_rate": round(sent / max(loaded, 1e-9), 2),
            "skipped_ticks": load.skipped,
            "reposted_after_drain": reposted,
            **result.summary(),
            "faults": [
                {"name": f.name, "ok": f.ok, "error": f.error, **{k: v for k, v in f.details.items()}}
                for f in faults
            ],
            "table": report,
        }
        (OUT / "soak.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        _say(f"wrote {(OUT / 'soak.json').relative_to(PROJECT_ROOT)}; stopping")
    return 0 if ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="messages per second (default 40)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the load (default 10)")
    parser.add_argument("--scaled", action="store_true", help="PostgreSQL + Redis, 2 workers, 2 gateways")
    parser.add_argument("--faults", action="store_true", help="kill the engine, then a Twilio 500 burst")
    parser.add_argument("--conversations", type=int, default=0, help="simulated users per channel at once")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the backlog")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the conversations")
    return parser


def main() -> int:
    """Entry point: Ctrl-C and SIGTERM stop the run and every process it started."""
    args = _parser().parse_args()
    if args.rate <= 0 or args.minutes <= 0:
        raise SystemExit("--rate and --minutes must be positive")

    def _interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell that starts us in the background leaves SIGINT ignored otherwise.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every process was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    raise SystemExit(main())
