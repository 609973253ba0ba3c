"""The benchmark harness end to end, in its quick sizes: it must measure a correct system.

Only correctness is asserted (seats given equal the seats, the waiting list in order and
agreeing with the answers, every stored event replayed), never a time: wall-clock numbers
on a shared machine say nothing about whether the code is right.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import replay, report, rush, system


@pytest.mark.parametrize(
    ("part", "api_instances"), [("rush", 1), ("many", 1), ("rush", 2)], ids=str
)
async def test_a_quick_rush_gives_every_seat_once_and_keeps_the_waiting_list_in_order(
    part: str, api_instances: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two API instances deciding for the same meeting: the seats are still given once.
    monkeypatch.setenv("BENCH_API_INSTANCES", str(api_instances))
    result = await rush.run(part, quick=True, keep_log=tmp_path / "events.log")
    spec = rush.spec(part, quick=True)
    assert result["api_instances"] == api_instances
    # Every instance decided (the load generator spreads its connections over them).
    assert len(result["batches"]["per_api"]) == api_instances
    assert all(count > 0 for count in result["batches"]["per_api"])
    # The stack's CPU is accounted: PostgreSQL worked while the registrations were decided.
    assert result["postgres_cpu_s"] > 0
    assert result["seats_given"] == spec.meetings * spec.seats_per_meeting
    assert result["order_violations"] == 0
    assert result["http_disagreements"] == 0
    assert result["statuses"] == {
        "201": spec.meetings * spec.seats_per_meeting,
        "202": spec.registrations - spec.meetings * spec.seats_per_meeting,
    }
    assert result["projection_lag_ms"]["events"] == spec.registrations + spec.meetings
    assert report.correct(result)


async def test_a_quick_system_rush_mails_every_answered_registration_once() -> None:
    """The whole system as make run starts it: every kind of caller gets its answer, every
    answered registration exactly one mail, and the events service asks the membership
    service at most once per non-member municipality (its view answers; none is the aim)."""
    result = await system.run(quick=True)
    spec = system.spec(quick=True)
    kinds = result["by_kind"]
    assert result["registrations"] == spec.registrations
    assert set(kinds["member"]["bases"]) == {"member"}
    assert set(kinds["offer"]["bases"]) == {"next_year_offer"}, "no joiner was a guest"
    assert set(kinds["guest"]["bases"]) == {"guest"}
    assert kinds["refused"]["statuses"] == {"403": kinds["refused"]["count"]}
    assert kinds["join"]["statuses"] == {"201": spec.offer}
    mail = result["mail"]
    assert not mail["timed_out"]
    assert (mail["missing"], mail["twice"], mail["unexpected"]) == (0, 0, 0)
    non_members = sum(result["municipalities"][k] for k in ("offer", "guest", "refused"))
    assert result["membership_lookups"] <= non_members
    assert result["seats_given"] == spec.seats
    assert result["cpu_s"]["notifications"] > 0
    assert report.correct(result)


async def test_a_quick_system_rush_on_two_instances_shares_the_mail_and_mails_once() -> None:
    """Two notifications instances and two events workers (beside one events API instance):
    still one mail per answered registration, and both notifications instances sent mail
    (deliveries are claimed with SKIP LOCKED, and a NOTIFY wakes every instance), though the
    meeting's events, one partition, were consumed by one of them."""
    result = await system.run(quick=True, instances=system.Instances(2, 2), paths=False)
    assert result["instances"] == {"notifications": 2, "events_workers": 2}
    mail = result["mail"]
    assert not mail["timed_out"]
    assert (mail["missing"], mail["twice"], mail["unexpected"]) == (0, 0, 0)
    assert result["seats_given"] == system.spec(quick=True).seats
    assert report.correct(result)
    sent = report._per_instance(result, "notifications", "mails_sent")
    assert len(sent) == 2
    assert all(n > 0 for n in sent), sent
    assert sum(sent) == mail["mails"]
    workers = report._per_instance(result, "events", "projections_applied")
    assert len(workers) == 2
    assert sum(workers) >= result["registrations"] - result["by_kind"]["refused"]["count"]
    assert result["per_instance"]["events"]["projections_applied"] == 0  # the API instance


async def test_a_quick_replay_rebuilds_the_read_models_from_every_stored_event() -> None:
    result = await replay.run(quick=True)
    spec = replay.spec(quick=True)
    assert result["events"] == spec.meetings * spec.per_meeting
    assert result["replayed"] == result["events"]
    assert result["after"] == replay.expected_after(spec)
    assert result["processed_recorded"] == result["events"]


def test_the_report_keeps_the_hand_written_text_around_the_generated_part(
    tmp_path: Path,
) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\nintro\n\n{report.START}\nold\n{report.END}\n\nanalysis\n")
    machine = {
        "nproc": 2,
        "memory_mb": 1024,
        "cpu_model": "cpu",
        "kernel": "6",
        "python": "3.11",
        "postgresql": "15",
        "postgresql_settings": {},
        "kafka": "4.1.1",
        "packages": {},
        "load_average": "0 0 0",
        "git_commit": "abc",
    }
    limits = {
        "part": "limits",
        "command": "python -m bench limits",
        "machine": machine,
        "pg_commits_per_s": 1000.0,
        "pg_clients": 20,
        "kafka_messages_per_s": 9000.0,
        "kafka_message_bytes": 600,
    }
    report.write({"limits": limits}, output)
    text = output.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n")
    assert text.rstrip().endswith("analysis")
    assert "old" not in text
    assert "| 1,000 |" in text
