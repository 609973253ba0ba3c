"""The Markdown report: the generated part of docs/benchmarks.md, from the stored results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"

TARGETS = {
    "decisions_per_s": 1000.0,
    "latency_p99_ms": 100.0,
    "projection_lag_p99_ms": 250.0,
    "replay_events_per_s": 50_000.0,
    "rss_mb": 150.0,
}


def correct(result: dict[str, Any]) -> bool:
    """The correctness checks of one part (never its speed)."""
    part = result["part"]
    if part in ("rush", "many"):
        return bool(
            result["seats_given"] == result["seats"]
            and result["order_violations"] == 0
            and result["http_disagreements"] == 0
            and set(result["statuses"]) <= {"201", "202"}
        )
    if part == "replay":
        return bool(result["replayed"] == result["events"])
    return True


def summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("machine",)}


def _all_cpu(r: dict[str, Any]) -> float:
    """CPU seconds of the API, the worker, the load generator, PostgreSQL and Kafka."""
    parts = ("service_cpu_s", "worker_cpu_s", "loadgen_cpu_s", "postgres_cpu_s", "kafka_cpu_s")
    return float(sum(r.get(k, 0.0) for k in parts))


def _f(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _load(r: dict[str, Any]) -> str:
    return (
        f"`{r['command']}` — load average (1/5/15 min) before: {r['machine']['load_average']}"
        f", after: {r.get('load_after', '?')}"
    )


def _machine(m: dict[str, Any]) -> list[str]:
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    pg = ", ".join(f"{k}={v}" for k, v in m["postgresql_settings"].items())
    return [
        f"- Machine: {m['nproc']} cores ({m['cpu_model']}), {_f(m['memory_mb'])} MB memory, "
        f"Linux {m['kernel']}",
        f"- Versions: Python {m['python']}, Kafka {m['kafka']} (KRaft, one node), "
        f"PostgreSQL {m['postgresql']} ({pg})",
        f"- Packages: {pk}",
        f"- Git commit: {m['git_commit']} (plus the working tree)",
    ]


def _rush(r: dict[str, Any], lim: dict[str, Any] | None) -> list[str]:
    lat = r["latency_ms"]
    lag = r["projection_lag_ms"]
    lines = [
        f"### {'The rush: one meeting' if r['part'] == 'rush' else 'Many meetings'}",
        "",
        _load(r),
        "",
        f"{_f(r['registrations'])} registrations from {r['concurrency']} concurrent "
        f"keep-alive clients into {r['meetings']} meeting(s) of {r['seats_per_meeting']} seats.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| decisions per second | {_f(r['decisions_per_s'])} "
        f"({_f(r['wall_s'], 2)} s in all) | ≥ 1,000 (aim 2,000): "
        f"{_verdict(r['decisions_per_s'] >= TARGETS['decisions_per_s'])} |",
        f"| latency p50 / p95 / p99 / max | {_f(lat['50'], 1)} / {_f(lat['95'], 1)} / "
        f"{_f(lat['99'], 1)} / {_f(lat['100'], 1)} ms | p99 < 100 ms: "
        f"{_verdict(lat['99'] < TARGETS['latency_p99_ms'])} |",
        f"| seats given | {r['seats_given']} of {r['seats']} | equal: "
        f"{_verdict(r['seats_given'] == r['seats'])} |",
        f"| waiting-list order violations | {r['order_violations']} "
        f"(HTTP answers disagreeing with the store: {r['http_disagreements']}) | 0: "
        f"{_verdict(r['order_violations'] == 0 and r['http_disagreements'] == 0)} |",
        f"| HTTP statuses | {r['statuses']} | 201 and 202 only |",
        f"| availability projection final after the last answer | "
        f"{_f(r['projection_final_after_s'] * 1000)} ms | |",
        f"| projection lag per event p50 / p99 / max ({_f(lag['events'])} events in "
        f"{_f(lag.get('transactions', 0))} subscriber transactions) | "
        f"{_f(lag['p50'], 1)} / {_f(lag['p99'], 1)} / {_f(lag['max'], 1)} ms | p99 < 250 ms: "
        f"{_verdict(lag['p99'] < TARGETS['projection_lag_p99_ms'])} |",
        f"| of which outbox → Kafka (outbox.published_at − recorded_at) p50 / p99 | "
        f"{_f(lag.get('relay_p50', float('nan')), 1)} / "
        f"{_f(lag.get('relay_p99', float('nan')), 1)} ms | |",
        f"| events processes peak RSS (VmHWM): API / worker | {_f(r['service_vmhwm_mb'], 1)} / "
        f"{_f(r.get('worker_vmhwm_mb', 0), 1)} MB | < 150 MB each: "
        f"{_verdict(max(r['service_vmhwm_mb'], r.get('worker_vmhwm_mb', 0)) < TARGETS['rss_mb'])}"
        " |",
        f"| CPU during the rush: API / worker / load generator | {_f(r['service_cpu_s'], 2)} s / "
        f"{_f(r.get('worker_cpu_s', 0), 2)} s / {_f(r['loadgen_cpu_s'], 2)} s | |",
        "| … and PostgreSQL / Kafka (all their processes) | "
        + (
            f"{_f(r['postgres_cpu_s'], 2)} s / {_f(r['kafka_cpu_s'], 2)} s"
            if "postgres_cpu_s" in r
            else "not measured in this run"
        )
        + " | |",
        "| CPU per decision, all of these together (the machine has "
        f"{os.cpu_count()} cores) | "
        + (
            f"{_f(1000 * _all_cpu(r) / r['registrations'], 2)} ms"
            if "postgres_cpu_s" in r
            else "not measured in this run"
        )
        + " | |",
        f"| decision batches (incl. scheduling) | {_f(r['batches']['count'])}, mean "
        f"{_f(r['batches']['mean'], 1)} commands | |",
    ]
    if lim is not None and lim.get("run_id") == r.get("run_id"):
        lines.append(
            "| ratio to the limits of the same run | "
            f"{r['decisions_per_s'] / lim['pg_commits_per_s']:.2f} × PostgreSQL commits/s, "
            f"{r['decisions_per_s'] / lim['kafka_messages_per_s']:.3f} × raw Kafka produce/s | |"
        )
    return [*lines, ""]


def _replay(r: dict[str, Any]) -> list[str]:
    return [
        "### Replay: rebuild the availability projection",
        "",
        _load(r),
        "",
        f"{_f(r['events'])} events ({r['meetings']} meetings × {r['per_meeting']} events) "
        f"inserted with COPY in {_f(r['insert_s'], 1)} s; then "
        "`services.events.operations.rebuild_database` in a subprocess.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| events replayed | {_f(r['replayed'])} of {_f(r['events'])} | all: "
        f"{_verdict(r['replayed'] == r['events'])} |",
        f"| rebuild time | {_f(r['rebuild_s'], 1)} s | |",
        f"| events per second | {_f(r['events_per_s'])} | ≥ 50,000: "
        f"{_verdict(r['events_per_s'] >= TARGETS['replay_events_per_s'])} |",
        f"| peak memory of the rebuild process (VmHWM) | {_f(r['maxrss_mb'], 1)} MB | "
        f"< 150 MB: {_verdict(r['maxrss_mb'] < TARGETS['rss_mb'])} |",
        f"| read models after | {r['after']} | |",
        "",
    ]


def _limits(r: dict[str, Any]) -> list[str]:
    return [
        "### The machine's limits",
        "",
        _load(r),
        "",
        "| measure | value |",
        "|---|---|",
        f"| PostgreSQL commits/s (pgbench, one-row INSERT per transaction, "
        f"{r['pg_clients']} clients) | {_f(r['pg_commits_per_s'])} |",
        f"| Kafka produce/s (one idempotent aiokafka producer, acks=all, "
        f"{r['kafka_message_bytes']} B) | {_f(r['kafka_messages_per_s'])} |",
        "",
    ]


def render(results: dict[str, Any], same_run: bool) -> str:
    any_result = next(iter(results.values()))
    lines = ["## Results (generated by `python -m bench`)", "", *_machine(any_result["machine"])]
    lines.append("")
    lim = results.get("limits")
    if "limits" in results:
        lines += _limits(results["limits"])
    for part in ("rush", "many"):
        if part in results:
            lines += _rush(results[part], lim)
    if "replay" in results:
        lines += _replay(results["replay"])
    return "\n".join(lines)


def write(results: dict[str, Any], output: Path, same_run: bool = False) -> None:
    """Replace the generated part of ``output`` (or create the file with it)."""
    block = f"{START}\n{render(results, same_run)}\n{END}"
    if output.exists():
        text = output.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            output.write_text(head + block + tail)
            return
        output.write_text(text.rstrip() + "\n\n" + block + "\n")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("# Benchmarks\n\n" + block + "\n")
