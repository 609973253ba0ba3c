"""The Markdown report: the generated part of docs/benchmarks.md, from the stored results."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"

TARGETS = {
    "system_per_s": 300.0,
    "mail_p99_s": 5.0,
    "last_mail_s": 5.0,
    "notifications_ms_per_mail": 2.0,
    "guest_ratio": 0.8,
    "decisions_per_s": 1000.0,
    "latency_p99_ms": 100.0,
    "projection_lag_p99_ms": 250.0,
    "replay_events_per_s": 50_000.0,
    "rss_mb": 150.0,
}


def correct(result: dict[str, Any]) -> bool:
    """The correctness checks of one part (never its speed)."""
    part = result["part"]
    if part == "scaling":
        return all(correct(run) for run in result["runs"])
    if part in ("rush", "many"):
        return bool(
            result["seats_given"] == result["seats"]
            and result["order_violations"] == 0
            and result["http_disagreements"] == 0
            and set(result["statuses"]) <= {"201", "202"}
        )
    if part == "replay":
        return bool(result["replayed"] == result["events"])
    if part == "system":
        mail = result["mail"]
        kinds = result["by_kind"]
        return bool(
            result["seats_given"] == result["seats"]
            and result["order_violations"] == 0
            and result["http_disagreements"] == 0
            and not mail["timed_out"]
            and mail["missing"] == mail["twice"] == mail["unexpected"] == 0
            and set(kinds["member"]["bases"]) <= {"member"}
            and set(kinds["offer"]["bases"]) <= {"next_year_offer"}
            and set(kinds["guest"]["bases"]) <= {"guest"}
            and set(kinds["refused"]["statuses"]) == {"403"}
            and set(kinds["join"]["statuses"]) == {"201"}
            and all(set(p["statuses"]) <= {"201", "202"} for p in result["paths"].values())
        )
    return True


def summary(result: dict[str, Any]) -> dict[str, Any]:
    if result["part"] == "scaling":
        return {"runs": [_scaling_row(run) for run in result["runs"]]}
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


def _system(r: dict[str, Any]) -> list[str]:
    lat = r["latency_ms"]
    mail = r["mail"]
    mlat = mail["latency_s"]
    cpu = r["cpu_s"]
    n = r["registrations"]
    mails = max(mail["mails"], 1)
    kinds = r["by_kind"]
    m = r["municipalities"]
    paths = r["paths"]
    guest_ratio = paths["guest"]["per_s"] / paths["member"]["per_s"]
    notif_ms = 1000 * cpu.get("notifications", 0.0) / mails
    lines = [
        "### The whole system: the seed's rush, mail included",
        "",
        _load(r),
        "",
        f"{_f(n)} registrations and {r['joins']} joins from {r['concurrency']} keep-alive "
        f"clients; {_processes(r)}, and an SMTP sink process. One meeting of {r['seats']} "
        f"seats with the offer and a guest price, and a members-only meeting. Callers: "
        f"{m['member']} member "
        f"municipalities of 2021, {m['offer']} that join 2022 during the rush (their staff "
        f"register the moment the join is answered), {m['guest']} non-members at the guest "
        f"price, {m['refused']} non-members on the members-only meeting.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| registrations per second | {_f(r['decisions_per_s'])} ({_f(r['wall_s'], 2)} s in "
        f"all) | ≥ 300: {_verdict(r['decisions_per_s'] >= TARGETS['system_per_s'])} |",
        f"| latency p50 / p95 / p99 / max | {_f(lat['50'], 1)} / {_f(lat['95'], 1)} / "
        f"{_f(lat['99'], 1)} / {_f(lat['100'], 1)} ms | |",
    ]
    for kind, label in (
        ("member", "members of 2021"),
        ("offer", "joined 2022 during the rush (the offer)"),
        ("guest", "non-members, guest price"),
        ("refused", "non-members, members-only meeting"),
        ("join", "the joins"),
    ):
        k = kinds[kind]
        lines.append(
            f"| … {label}: count, p50 / p99, answers | {_f(k['count'])}, "
            f"{_f(k['latency_ms']['50'], 1)} / {_f(k['latency_ms']['99'], 1)} ms, "
            f"{k['statuses']} {k['bases'] or ''} | |"
        )
    lines += [
        f"| each path alone ({_f(paths['member']['registrations'])} registrations, fresh "
        f"meeting): members / guests | {_f(paths['member']['per_s'])} / "
        f"{_f(paths['guest']['per_s'])} per s (p99 {_f(paths['member']['latency_ms']['99'])} / "
        f"{_f(paths['guest']['latency_ms']['99'])} ms; membership lookups "
        f"{_f(paths['member']['membership_lookups'])} / "
        f"{_f(paths['guest']['membership_lookups'])}) | |",
        f"| guest path rate ÷ member path rate | {guest_ratio:.2f} | ≥ 0.8: "
        f"{_verdict(guest_ratio >= TARGETS['guest_ratio'])} |",
        f"| membership lookups by the events service during the rush | "
        f"{_f(r['membership_lookups'])} | ≤ one per municipality "
        f"({m['offer'] + m['guest'] + m['refused']} non-members): "
        f"{_verdict(r['membership_lookups'] <= m['offer'] + m['guest'] + m['refused'])} |",
        f"| mail: answer → in the Maildir, p50 / p95 / p99 / max | {_f(mlat['50'], 2)} / "
        f"{_f(mlat['95'], 2)} / {_f(mlat['99'], 2)} / {_f(mlat['100'], 2)} s | p99 < 5 s: "
        f"{_verdict(mlat['99'] < TARGETS['mail_p99_s'])} |",
        *(
            [
                f"| … of which: event committed → applied by notifications / delivery queued → "
                f"taken by the SMTP server, p50 / p99 | "
                f"{_f(mail['stages']['event_to_applied_s']['50'], 2)} / "
                f"{_f(mail['stages']['event_to_applied_s']['99'], 2)} s; "
                f"{_f(mail['stages']['queued_to_sent_s']['50'], 2)} / "
                f"{_f(mail['stages']['queued_to_sent_s']['99'], 2)} s | |"
            ]
            if "stages" in mail
            else []
        ),
        *(
            [
                f"| mail rate (the rush's mails ÷ first answer to last mail) | "
                f"{_f(mail['per_s'])} per s | |",
                f"| events projection lag p50 / p99 (the rush's meeting) | "
                f"{_f(r['projection_lag_ms']['p50'])} / {_f(r['projection_lag_ms']['p99'])} ms | |",
            ]
            if "per_s" in mail
            else []
        ),
        f"| last mail after the last answer | {_f(mail['last_mail_after_last_answer_s'], 2)} s"
        f"{' (timed out waiting)' if mail['timed_out'] else ''} | ≤ 5 s: "
        f"{_verdict(mail['last_mail_after_last_answer_s'] <= TARGETS['last_mail_s'])} |",
        f"| mails: one per answered registration | {_f(mail['mails'])} mails; missing "
        f"{mail['missing']}, twice {mail['twice']}, to a refused caller {mail['unexpected']} "
        f"| 0, 0, 0: {_verdict(mail['missing'] == mail['twice'] == mail['unexpected'] == 0)} |",
        f"| seats given | {r['seats_given']} of {r['seats']} (waiting-list order violations "
        f"{r['order_violations']}, answers disagreeing with the store "
        f"{r['http_disagreements']}) | equal, 0, 0 |",
        f"| notifications CPU per mail | {_f(notif_ms, 2)} ms | ≤ 2 ms: "
        f"{_verdict(notif_ms <= TARGETS['notifications_ms_per_mail'])} |",
        "| CPU per registration, from the first request to the last mail: "
        + " / ".join(cpu)
        + " | "
        + " / ".join(f"{_f(1000 * v / n, 2)}" for v in cpu.values())
        + " ms | |",
        f"| … all but the SMTP sink | "
        f"{_f(1000 * sum(v for k, v in cpu.items() if k != 'smtp sink') / n, 2)} ms | |",
        "",
    ]
    return lines


def _per_instance(r: dict[str, Any], service: str, key: str) -> list[int]:
    """The counter ``key`` of each instance of ``service`` during the rush."""
    labels = [
        label
        for label in r["per_instance"]
        if label.startswith(service) and (service != "events" or label != "events")
    ]
    return [round(r["per_instance"][label][key]) for label in labels]


def _scaling_row(r: dict[str, Any]) -> dict[str, Any]:
    """What one run of the scaling part shows, in the order of its table."""
    mail, lag = r["mail"], r["projection_lag_ms"]
    applied = mail["stages"]["event_to_applied_s"]
    return {
        "instances": r["instances"]["notifications"],
        "load": f"{r['load_before'].split()[0]} → {r['load_after'].split()[0]}",
        "registrations_per_s": r["decisions_per_s"],
        "mails_per_s": mail["per_s"],
        "last_mail_s": mail["last_mail_after_last_answer_s"],
        "mail_p50_p99_s": (mail["latency_s"]["50"], mail["latency_s"]["99"]),
        "applied_p50_p99_s": (applied["50"], applied["99"]),
        "projection_lag_p50_p99_ms": (lag["p50"], lag["p99"]),
        "mails_sent": _per_instance(r, "notifications", "mails_sent"),
        "notifications_applied": _per_instance(r, "notifications", "notifications_applied"),
        "projections_applied": _per_instance(r, "events", "projections_applied"),
        "correct": correct(r),
    }


def _scaling(r: dict[str, Any]) -> list[str]:
    first = r["runs"][0]
    lines = [
        "### Scaling: 1, 2 and 3 instances of notifications and of the events workers",
        "",
        f"`{r['command']}` — load average (1 min) before → after each run in the table "
        f"(5 and 15 min before the part: {r['machine']['load_average']})",
        "",
        f"The system rush above ({_f(first['registrations'])} registrations and "
        f"{first['joins']} joins from {first['concurrency']} clients into one meeting of "
        f"{first['seats']} seats), each path alone left out, three times: with N "
        "notifications instances (one consumer group, one deliveries table) and one events API "
        "instance (`EVENTS_WORKERS=false`, it takes the load) beside N events worker "
        "instances (outbox relay and projections). Per instance: what it did during the "
        "rush, from each process's `/metrics` (mails it sent; events its subscription "
        "applied).",
        "",
        "| N | load | registrations/s | mails/s | last mail after the last answer | mail "
        "answer → Maildir p50 / p99 | event → applied by notifications p50 / p99 | events "
        "projection lag p50 / p99 | mails sent, per notifications instance | events applied, "
        "per notifications instance | events applied, per events worker | one mail each, "
        "seats |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        row = _scaling_row(run)
        lines.append(
            f"| {row['instances']} | {row['load']} | {_f(row['registrations_per_s'])} | "
            f"{_f(row['mails_per_s'])} | {_f(row['last_mail_s'], 2)} s | "
            f"{_f(row['mail_p50_p99_s'][0], 2)} / {_f(row['mail_p50_p99_s'][1], 2)} s | "
            f"{_f(row['applied_p50_p99_s'][0], 2)} / {_f(row['applied_p50_p99_s'][1], 2)} s | "
            f"{_f(row['projection_lag_p50_p99_ms'][0])} / "
            f"{_f(row['projection_lag_p50_p99_ms'][1])} ms | "
            f"{' / '.join(_f(n) for n in row['mails_sent'])} | "
            f"{' / '.join(_f(n) for n in row['notifications_applied'])} | "
            f"{' / '.join(_f(n) for n in row['projections_applied'])} | "
            f"{_verdict(row['correct'])} |"
        )
    return [*lines, ""]


def _processes(r: dict[str, Any]) -> str:
    """How the services ran, in words."""
    counts = r.get("instances", {"notifications": 1, "events_workers": 0})
    if counts == {"notifications": 1, "events_workers": 0}:
        return "membership, events and notifications each one process as `make run` starts them"
    return (
        f"membership one process, events one API process and {counts['events_workers']} "
        f"worker(s), notifications {counts['notifications']} process(es)"
    )


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
    if "system" in results:
        lines += _system(results["system"])
    if "scaling" in results:
        lines += _scaling(results["scaling"])
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
