"""The benchmark's summary, its one table, its plot, and a scan of the processes' logs for errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# The targets on this two-core machine.
TARGET_RATE = 100.0
TARGET_P99_MS = 300.0
# The open-loop series, in the table's order; the targets are the channels' (WhatsApp's with its messages
# alone: the callbacks' series shows what Twilio's status reports add, posted from this machine's cores).
CALLBACKS_SERIES = "whatsapp+statuses"
OPEN_SERIES = ("webchat", "whatsapp", CALLBACKS_SERIES)
TARGET_SERIES = ("webchat", "whatsapp")
TARGET_STOCK_RATIO = 10.0
TARGET_ONE_SENDER_P50_MS = 40.0
TARGET_COST_RATIO = 1.5
TARGET_COLD_START_S = 20.0
TARGET_TRAINING_S = 90.0

_PROBLEM = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


def _ok(step: dict[str, Any]) -> bool:
    return "error" not in step


def _steps(results: dict[str, Any], side: str, kind: str, channel: str) -> list[dict[str, Any]]:
    """A side's steps of one kind on one channel, or in one series (a channel's steps under other
    conditions, e.g. WhatsApp with status callbacks)."""
    return [
        s
        for s in results.get(side, {}).get("steps", [])
        if _ok(s) and s["kind"] == kind and s.get("series", s["channel"]) == channel
    ]


def _point(step: dict[str, Any]) -> dict[str, Any]:
    lat = step["latency_ms"]
    return {
        "throughput": step["throughput"],
        "offered": step.get("offered_rate"),
        "p50": lat["p50"],
        "p90": lat["p90"],
        "p99": lat["p99"],
        "lost": step["lost"],
        "duplicated": step["duplicated"],
        "mismatched": step["mismatched"],
        "apologies": step.get("apologies", 0),
        "slow": step.get("slow", 0),
    }


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the table shows, the ratios and the targets."""
    parse = {s["concurrency"]: _point(s) for s in _steps(results, "ours", "closed", "parse")}
    ours = {s["concurrency"]: _point(s) for s in _steps(results, "ours", "closed", "webchat")}
    theirs = {s["concurrency"]: _point(s) for s in _steps(results, "stock", "closed", "rest")}
    open_loop: dict[str, dict[float, dict[str, Any]]] = {}
    for series in OPEN_SERIES:
        points = {s["rate"]: _point(s) for s in _steps(results, "ours", "open", series)}
        if points or series in TARGET_SERIES:
            open_loop[series] = points
    ratios = {
        n: round(ours[n]["throughput"] / theirs[n]["throughput"], 1)
        for n in ours
        if n in theirs and theirs[n]["throughput"] > 0
    }
    cost = None
    if 1 in ours and 1 in parse and parse[1]["p50"] > 0:
        cost = round(ours[1]["p50"] / parse[1]["p50"], 2)
    our_steps = results.get("ours", {}).get("steps", [])
    lost = sum(s.get("lost", 0) for s in our_steps if _ok(s))
    duplicated = sum(s.get("duplicated", 0) for s in our_steps if _ok(s))
    mismatched = sum(s.get("mismatched", 0) for s in our_steps if _ok(s))
    apologies = sum(s.get("apologies", 0) for s in our_steps if _ok(s))
    late = sum(s.get("late", 0) for s in our_steps if _ok(s))
    slow = sum(s.get("slow", 0) for s in our_steps if _ok(s))
    pending = sum(s.get("pending_after") or 0 for s in our_steps if _ok(s))
    failed = [s["name"] for s in our_steps if not _ok(s)]
    clean = not failed and lost == 0 and duplicated == 0 and "error" not in results and bool(our_steps)
    summary: dict[str, Any] = {
        "parse": parse,
        "ours_closed": ours,
        "stock_closed": theirs,
        "open_loop": open_loop,
        "throughput_ratio_ours_over_stock": ratios,
        "max_throughput_ratio": (
            round(
                max(p["throughput"] for p in ours.values()) / max(p["throughput"] for p in theirs.values()), 1
            )
            if ours and theirs and max(p["throughput"] for p in theirs.values()) > 0
            else None
        ),
        "e2e_over_parse_p50": cost,
        "lost": lost,
        "duplicated": duplicated,
        "mismatched": mismatched,
        "apologies": apologies,
        "late": late,
        "slow": slow,
        "pending_after_steps": pending,
        "failed_steps": failed,
        "clean": clean,
    }
    summary["targets"] = _targets(results, summary)
    return summary


def _targets(results: dict[str, Any], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue: what was measured and whether it is met (None: not measured)."""
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        targets.append({"target": name, "measured": measured, "met": met})

    for channel in TARGET_SERIES:
        point = summary["open_loop"].get(channel, {}).get(TARGET_RATE)
        name = f"{TARGET_RATE:g} msg/s {channel}: p99 <= {TARGET_P99_MS:g} ms, 0 lost/dup"
        if point is None:
            add(name, "not measured", None)
            continue
        met = (
            point["p99"] <= TARGET_P99_MS
            and point["lost"] == 0
            and point["duplicated"] == 0
            and point["throughput"] >= 0.95 * TARGET_RATE
        )
        measured = (
            f"{point['throughput']:.1f} msg/s, p99 {point['p99']:.0f} ms, "
            f"lost {point['lost']}, dup {point['duplicated']}"
        )
        add(name, measured, met)
    ratio = summary["max_throughput_ratio"]
    add(
        f">= {TARGET_STOCK_RATIO:g}x the stock bot (best msg/s)",
        "not measured" if ratio is None else f"{ratio:.1f}x",
        None if ratio is None else ratio >= TARGET_STOCK_RATIO,
    )
    one = summary["ours_closed"].get(1)
    add(
        f"one sender: p50 <= {TARGET_ONE_SENDER_P50_MS:g} ms",
        "not measured" if one is None else f"{one['p50']:.1f} ms",
        None if one is None else one["p50"] <= TARGET_ONE_SENDER_P50_MS,
    )
    cost = summary["e2e_over_parse_p50"]
    add(
        f"end-to-end / bare parse (p50) <= {TARGET_COST_RATIO:g}",
        "not measured" if cost is None else f"{cost:.2f}",
        None if cost is None else cost <= TARGET_COST_RATIO,
    )
    cold = results.get("ours", {}).get("cold_start_s")
    add(
        f"cold start <= {TARGET_COLD_START_S:g} s",
        "not measured" if cold is None else f"{cold:.1f} s",
        None if cold is None else cold <= TARGET_COLD_START_S,
    )
    training = results.get("training", {}).get("ours")
    trained = isinstance(training, int | float)
    add(
        f"full training <= {TARGET_TRAINING_S:g} s",
        f"{training:.0f} s" if trained else str(training or "not measured"),
        training <= TARGET_TRAINING_S if isinstance(training, int | float) else None,
    )
    return targets


# --- the table --------------------------------------------------------------------------------------------
HEADER = ("", "load", "msg/s", "p50 ms", "p90 ms", "p99 ms", ">30 s", "lost", "dup", "wrong", "sorry")


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(label: str, load: str, point: dict[str, Any], rate: str | None = None) -> tuple[str, ...]:
    return (
        label,
        load,
        rate or _num(point["throughput"]),
        _num(point["p50"]),
        _num(point["p90"]),
        _num(point["p99"]),
        str(point.get("slow", 0)),
        str(point["lost"]),
        str(point["duplicated"]),
        str(point["mismatched"]),
        str(point["apologies"]),
    )


def table(results: dict[str, Any]) -> str:
    """The one table: throughput and latency of every step, ratios, memory, cold start, training, targets."""
    summary = results["summary"]
    rows: list[tuple[str, ...] | str] = []

    def section(title: str) -> None:
        rows.append(title)

    def line(label: str, load: str, text: str) -> None:
        rows.append((label, load, text))

    section("bare NLU parse (ours, engine /model/parse)")
    for clients, point in sorted(summary["parse"].items()):
        rows.append(_row("  parse", f"{clients} client{'s' if clients > 1 else ''}", point))
    section("closed loop: ours over webchat /api/chat vs stock over REST /webhooks/rest/webhook")
    levels = sorted(set(summary["ours_closed"]) | set(summary["stock_closed"]))
    for senders in levels:
        load = f"{senders} sender{'s' if senders > 1 else ''}"
        if senders in summary["ours_closed"]:
            rows.append(_row("  ours", load, summary["ours_closed"][senders]))
        if senders in summary["stock_closed"]:
            rows.append(_row("  stock", load, summary["stock_closed"][senders]))
        if senders in summary["throughput_ratio_ours_over_stock"]:
            line("  ours/stock", load, f"{summary['throughput_ratio_ours_over_stock'][senders]:.1f}x msg/s")
    skipped = results.get("stock", {}).get("skipped")
    if skipped:
        line("  stock", "", f"skipped: {skipped}")
    section("open loop (Poisson arrivals), ours; msg/s = answered / offered")
    for channel, points in summary["open_loop"].items():
        for rate, point in sorted(points.items()):
            offered = f"{point['throughput']:.1f}/{_num(point['offered'])}"
            rows.append(_row(f"  {channel}", f"{rate:g} msg/s", point, offered))
    section("CPU per answered message, ms (process trees, warm-up and backlog included; stack = ours)")
    for side in ("ours", "stock"):
        for step in results.get(side, {}).get("steps", []):
            used = step.get("cpu_ms_per_answer")
            if _ok(step) and used:
                parts = ", ".join(f"{name} {ms:.1f}" for name, ms in used.items())
                stack = sum(ms for name, ms in used.items() if name != "load generator")
                line(f"  {side}", step["name"], f"{parts}; stack {stack:.1f}")
    section("ratios, memory, start, training")
    if summary["max_throughput_ratio"] is not None:
        line("  ours/stock", "best msg/s", f"{summary['max_throughput_ratio']:.1f}x")
    if summary["e2e_over_parse_p50"] is not None:
        line("  e2e/parse", "p50, 1 sender", f"{summary['e2e_over_parse_p50']:.2f}x")
    for side in ("ours", "stock"):
        for name, mb in (results.get(side, {}).get("memory_mb") or {}).items():
            line("  peak memory", name, "-" if mb is None else f"{mb:.0f} MiB (VmHWM, process tree)")
    for side in ("ours", "stock"):
        cold = results.get(side, {}).get("cold_start_s")
        if cold is not None:
            line("  cold start", side, f"{cold:.1f} s to the first answer")
    for side in ("ours", "stock"):
        value = results.get("training", {}).get(side)
        if value is None:
            continue
        text = f"{value:.0f} s (rasa train --force)" if isinstance(value, int | float) else str(value)
        init = results.get("stock", {}).get("init_seconds") if side == "stock" else None
        if init is not None:
            text += f"; rasa init (scaffold and train) took {init:.0f} s when it was cached"
        line("  training", side, text)
    problems = ", ".join(f"{k} {v}" for k, v in (results.get("log_problems") or {}).items() if v)
    shutdown = ", ".join(f"{k} {v}" for k, v in (results.get("log_problems_at_shutdown") or {}).items())
    line("  log errors", "while running", problems or "none")
    if shutdown:
        line("  log errors", "when stopped", f"{shutdown} (results/bench/logs/)")
    section("targets (issue #6)")
    for target in summary["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[target["met"]]
        measured = "" if target["met"] is None else f": {target['measured']}"
        line("  target", verdict, f"{target['target']}{measured}")
    verdict = "clean" if summary["clean"] else "NOT CLEAN"
    line(
        "  result",
        verdict,
        f"lost {summary['lost']} ({summary['late']} answered later), answered after 30 s "
        f"{summary.get('slow', 0)}, duplicated {summary['duplicated']}, "
        f"wrong answers {summary['mismatched']}, apologies {summary['apologies']}, "
        f"left unanswered {summary['pending_after_steps']}"
        + (f", failed steps: {', '.join(summary['failed_steps'])}" if summary["failed_steps"] else "")
        + (f", error: {results['error']}" if results.get("error") else ""),
    )
    legend = "\n".join(
        (
            "lost: no answer (or an HTTP error) within 30 s, open loop: by 60 s after the arrivals stopped;",
            ">30 s: answered, but after 30 s (an overload's backlog; its latency counts in the percentiles);",
            "dup: more replies than calibrated;",
            "wrong: an answer that differs from the calibrated one (the same script asked alone);",
            "sorry: WhatsApp apologies, sent when the engine took longer than ENGINE_TIMEOUT_SECONDS",
            "(the answer follows them; the latency is measured to the answer). Latencies are those of the",
            "answered messages; open loop: from the scheduled arrival, WhatsApp: to the answer's last part.",
        )
    )
    return _render(rows) + "\n" + legend


def _render(rows: list[tuple[str, ...] | str]) -> str:
    full = [r for r in rows if isinstance(r, tuple) and len(r) == len(HEADER)]
    widths = [max(len(str(r[i])) for r in [HEADER, *full]) for i in range(len(HEADER))]
    short = [r for r in rows if isinstance(r, tuple) and len(r) == 3]
    widths[0] = max([widths[0], *(len(r[0]) for r in short)])
    widths[1] = max([widths[1], *(len(r[1]) for r in short)])
    total = sum(widths) + 3 * (len(widths) - 1)

    def cells(values: tuple[str, ...]) -> str:
        parts = [values[0].ljust(widths[0]), values[1].ljust(widths[1])]
        parts += [v.rjust(w) for v, w in zip(values[2:], widths[2:], strict=True)]
        return " | ".join(parts)

    out = [cells(HEADER)]
    for row in rows:
        if isinstance(row, str):
            out += ["=" * total if len(out) == 1 else "-" * total, row]
        elif len(row) == len(HEADER):
            out.append(cells(row))
        else:
            out.append(f"{row[0].ljust(widths[0])} | {row[1].ljust(widths[1])} | {row[2]}")
    return "\n".join(out)


# --- the plot ---------------------------------------------------------------------------------------------
def plot(results: dict[str, Any], path: Path) -> Path | None:
    """Latency percentiles vs load: closed loop ours vs stock, and ours in open loop. None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    summary = results["summary"]
    figure, (closed, opened) = plt.subplots(1, 2, figsize=(12, 5))
    styles = {"p50": "o", "p90": "s", "p99": "^"}
    colours = {"p50": "tab:blue", "p90": "tab:orange", "p99": "tab:red"}
    for side, points, line in (
        ("ours", summary["ours_closed"], "-"),
        ("stock", summary["stock_closed"], "--"),
    ):
        levels = sorted(points)
        if not levels:
            continue
        for name, marker in styles.items():
            closed.plot(
                levels,
                [points[n][name] for n in levels],
                line,
                marker=marker,
                color=colours[name],
                label=f"{side} {name}",
            )
    for clients, point in sorted(summary["parse"].items()):
        closed.axhline(point["p50"], color="grey", linewidth=0.8, linestyle=":")
        closed.annotate(f"bare parse p50, {clients} cl.", (1, point["p50"]), fontsize=7, color="grey")
    closed.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent senders (closed loop)",
        ylabel="latency (ms)",
        title="Closed loop: ours (webchat) vs stock rasa init (REST)",
    )
    closed.grid(True, which="both", alpha=0.3)
    closed.legend(fontsize=8)
    for channel, line in zip(OPEN_SERIES, ("-", "--", ":"), strict=True):
        points = summary["open_loop"].get(channel, {})
        rates = sorted(points)
        if not rates:
            continue
        for name, marker in styles.items():
            opened.plot(
                rates,
                [points[r][name] for r in rates],
                line,
                marker=marker,
                color=colours[name],
                label=f"{channel} {name}",
            )
    opened.axhline(TARGET_P99_MS, color="black", linewidth=0.8, linestyle=":", label="p99 target")
    opened.set(
        yscale="log",
        xlabel="arrival rate (messages/s, open loop)",
        ylabel="latency (ms)",
        title="Open loop, ours: webchat and WhatsApp (to the last reply part)",
    )
    opened.grid(True, which="both", alpha=0.3)
    opened.legend(fontsize=8)
    figure.suptitle(f"make bench ({results['mode']}), {results['started']}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# --- logs -------------------------------------------------------------------------------------------------
def log_problems(logs: Path, marks: dict[str, int]) -> dict[str, int]:
    """How many error lines and tracebacks each process's log holds (up to its mark, if it has one)."""
    counts: dict[str, int] = {}
    if not logs.is_dir():
        return counts
    for log in sorted(logs.glob("*.log")):
        try:
            raw = log.read_bytes()
        except OSError:
            continue
        if log.stem in marks:
            raw = raw[: marks[log.stem]]
        text = raw.decode("utf-8", errors="replace")
        counts[log.stem] = sum(1 for line in text.splitlines() if _PROBLEM.search(line))
    return counts
