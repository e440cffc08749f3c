"""The benchmark's counting: an answer after the timeout is slow, not lost, and its latency counts."""

from __future__ import annotations

from typing import Any

from bench import report
from testkit.load import Spec, Stats


def spec(**changes: Any) -> Spec:
    return Spec(kind="open", channel="whatsapp", base_url="http://127.0.0.1:1", scripts=[["hola"]], **changes)


def step(rate: float, latencies_ms: list[float], lost: int = 0, slow: int = 0) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    return {
        "kind": "open",
        "channel": "whatsapp",
        "concurrency": 1,
        "rate": rate,
        "offered_rate": rate,
        "throughput": rate / 2,
        "latency_ms": {"p50": ordered[len(ordered) // 2], "p90": ordered[-1], "p99": ordered[-1]},
        "lost": lost,
        "duplicated": 0,
        "mismatched": 0,
        "slow": slow,
        "name": f"open whatsapp {rate:g}/s",
    }


def test_an_open_loop_step_waits_past_the_timeout_and_a_closed_one_does_not() -> None:
    assert spec(timeout=30.0).wait == 30.0
    assert spec(timeout=30.0, give_up=120.0).wait == 120.0
    assert spec(timeout=30.0, give_up=5.0).wait == 30.0


def test_a_late_answer_is_answered_and_slow_and_its_latency_counts() -> None:
    stats = Stats()
    stats.sent = 3
    for seconds in (0.05, 0.2, 45.0):
        assert stats.judge(["Hola"], "", ["Hola"], "hola")
        stats.took(seconds, timeout=30.0)
    result = stats.result(spec(timeout=30.0, give_up=120.0), window=60.0)
    assert result["answered"] == 3 and result["lost"] == 0 and result["slow"] == 1
    assert result["latency_ms"]["max"] == 45000.0 and result["latency_ms"]["p99"] == 45000.0


def test_a_message_never_answered_is_lost() -> None:
    stats = Stats()
    assert not stats.judge(None, "no reply within timeout", ["Hola"], "hola")
    assert stats.result(spec(), window=5.0)["lost"] == 1


def test_slow_answers_keep_the_run_clean_but_miss_the_latency_target() -> None:
    overloaded = step(100.0, [40.0, 900.0, 41000.0], slow=3)
    results: dict[str, Any] = {"ours": {"steps": [step(40.0, [30.0, 50.0, 90.0]), overloaded]}}
    summary = report.summarise(results)
    assert summary["clean"] and summary["slow"] == 3 and summary["lost"] == 0
    [at_100] = [t for t in summary["targets"] if t["target"].startswith("100 msg/s whatsapp")]
    assert at_100["met"] is False and "p99 41000 ms" in at_100["measured"]
    results["summary"] = summary
    printed = report.table(results)
    assert ">30 s" in printed.splitlines()[0]
    assert "answered after 30 s 3" in printed


def test_a_lost_message_makes_the_run_not_clean() -> None:
    summary = report.summarise({"ours": {"steps": [step(40.0, [30.0, 50.0], lost=1)]}})
    assert not summary["clean"] and summary["lost"] == 1


def test_the_table_shows_each_processs_cpu_per_answered_message() -> None:
    used = {"engine": 14.0, "gateway": 6.0, "load generator": 3.0}
    measured = {**step(40.0, [30.0, 50.0]), "cpu_ms_per_answer": used}
    results: dict[str, Any] = {"ours": {"steps": [measured]}}
    results["summary"] = report.summarise(results)
    assert "engine 14.0, gateway 6.0, load generator 3.0; stack 20.0" in report.table(results)


def test_whatsapp_with_status_callbacks_is_its_own_series_beside_the_targets() -> None:
    plain = {**step(100.0, [40.0, 60.0, 250.0]), "throughput": 99.9}
    with_callbacks = {**step(100.0, [50.0, 90.0, 700.0]), "series": report.CALLBACKS_SERIES}
    results: dict[str, Any] = {"ours": {"steps": [plain, with_callbacks]}}
    summary = report.summarise(results)
    assert summary["open_loop"]["whatsapp"][100.0]["p99"] == 250.0
    assert summary["open_loop"][report.CALLBACKS_SERIES][100.0]["p99"] == 700.0
    [whatsapp] = [t for t in summary["targets"] if t["target"].startswith("100 msg/s whatsapp")]
    assert whatsapp["met"] is True and "p99 250 ms" in whatsapp["measured"]
    assert not any(report.CALLBACKS_SERIES in t["target"] for t in summary["targets"])
    results["summary"] = summary
    rows = [line for line in report.table(results).splitlines() if "100 msg/s" in line]
    assert [row.split("|")[0].strip() for row in rows][:2] == ["whatsapp", report.CALLBACKS_SERIES]
