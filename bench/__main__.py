"""``python -m bench system|rush|many|replay|limits|all|scaling [--quick]``: measure, then report.

Each part runs alone or all together (``all`` also measures the machine's limits in the
same run, so the rush can be read as a ratio to them). Results are kept per part in
``var/bench/results.json`` (``--quick`` runs in ``var/bench/quick.json``), and the
generated part of ``docs/benchmarks.md`` (between its markers) is written again from them;
the hand-written analysis around the markers stays.

``system`` runs one instance of each service, as ``make run`` does, unless
``--notifications N`` or ``--events-workers N`` ask for more. ``scaling`` (not part of
``all``) runs the system rush three times, with 1, 2 and 3 notifications instances and
events workers (beside one events API instance), and reports the mail and the projections
per count, and how the work was spread over the instances.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bench import limits, replay, report, rush, system
from bench.common import ADMIN_DSN, KAFKA_BOOTSTRAP, ROOT, load_average, machine, unique

PARTS = ("limits", "system", "rush", "many", "replay")
SCALING = (1, 2, 3)
"""The instance counts of the ``scaling`` part."""


async def scaling(quick: bool) -> dict[str, Any]:
    """The system rush with 1, 2 and 3 instances of notifications and of the events workers
    (no paths alone); the load average before and after each."""
    runs = []
    for count in SCALING:
        print(f"-- {count} instance(s) of notifications and events workers", flush=True)
        before = load_average()
        result = await system.run(quick, system.Instances(count, count), paths=False)
        result["load_before"], result["load_after"] = before, load_average()
        runs.append(result)
    return {"part": "scaling", "quick": quick, "runs": runs}


async def run_part(
    part: str, quick: bool, instances: system.Instances = system.AS_MAKE_RUN
) -> dict[str, Any]:
    if part in ("rush", "many"):
        return await rush.run(part, quick)
    if part == "replay":
        return await replay.run(quick)
    if part == "system":
        return await system.run(quick, instances)
    if part == "scaling":
        return await scaling(quick)
    found = await limits.measure(
        ADMIN_DSN,
        KAFKA_BOOTSTRAP,
        f"bench{unique()}.limits",
        clients=rush.spec("rush", quick).concurrency if quick else 20,
        seconds=3 if quick else 10,
        messages=5_000 if quick else 50_000,
    )
    return {
        "part": "limits",
        "quick": quick,
        "pg_commits_per_s": found.pg_commits_per_s,
        "pg_clients": found.pg_clients,
        "kafka_messages_per_s": found.kafka_messages_per_s,
        "kafka_message_bytes": found.kafka_message_bytes,
    }


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return loaded


def _save(path: Path, stored: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=1, default=str))


async def main_async(
    parts: list[str],
    quick: bool,
    results_path: Path,
    output: Path,
    instances: system.Instances = system.AS_MAKE_RUN,
) -> int:
    stored = _load(results_path)
    run_id = unique()
    failed = False
    for part in parts:
        print(f"== {part}{' (quick)' if quick else ''}", flush=True)
        before = await machine()
        result = await run_part(part, quick, instances)
        result["machine"] = before
        result["load_after"] = load_average()
        result["run_id"] = run_id
        result["command"] = "python -m bench " + " ".join(sys.argv[1:])
        stored[part] = result
        print(json.dumps(report.summary(result), indent=1, default=str), flush=True)
        failed = failed or not report.correct(result)
        _save(results_path, stored)
    report.write(stored, output, same_run=len(parts) > 1)
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "part",
        choices=[*PARTS, "scaling", "all", "report"],
        help="report: only rewrite the Markdown",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (checks, not speed)")
    parser.add_argument(
        "--notifications", type=int, default=1, help="system: notifications instances"
    )
    parser.add_argument(
        "--events-workers",
        type=int,
        default=0,
        help="system: events worker instances beside one API instance (0: one events "
        "process does both, as make run starts it)",
    )
    parser.add_argument("--output", type=Path, default=None, help="the Markdown report")
    parser.add_argument("--results", type=Path, default=None, help="the JSON results")
    args = parser.parse_args()
    parts = list(PARTS) if args.part in ("all", "report") else [args.part]
    instances = system.Instances(args.notifications, args.events_workers)
    results = args.results or ROOT / "var" / "bench" / (
        "quick.json" if args.quick else "results.json"
    )
    output = args.output or (
        ROOT / "var" / "bench" / "quick.md" if args.quick else ROOT / "docs" / "benchmarks.md"
    )
    if args.part == "report":
        report.write(_load(results), output)
        return
    sys.exit(asyncio.run(main_async(parts, args.quick, results, output, instances)))


if __name__ == "__main__":
    main()
