"""The supervisor of ``operator run``: back-off, giving up, and what it says, on a manual
clock with fake processes (the real processes: tests/e2e/demo/test_supervised_run.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.operator.supervisor import (
    GiveUp,
    Restart,
    RestartHistory,
    RestartPolicy,
    State,
    Supervisor,
    describe_exit,
)

POLICY = RestartPolicy(first_delay=1, factor=2, max_delay=30, max_restarts=5, window=120)


def test_the_back_off_doubles_from_one_second_up_to_its_cap() -> None:
    history = RestartHistory(RestartPolicy(max_restarts=100, window=1, stable_after=1000))
    delays = []
    now = 0.0
    for _ in range(8):
        decision = history.exited(now, ran_for=0.5)
        assert isinstance(decision, Restart)
        delays.append(decision.delay)
        now += 10  # beyond the window: no give-up, the back-off alone is looked at
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_process_that_ran_a_good_while_starts_again_after_one_second() -> None:
    history = RestartHistory(POLICY)
    assert history.exited(0, ran_for=1) == Restart(1, 1)
    assert history.exited(2, ran_for=1) == Restart(2, 2)
    assert history.exited(70, ran_for=POLICY.stable_after) == Restart(1, 3)


def test_too_many_restarts_within_the_window_give_up() -> None:
    history = RestartHistory(POLICY)
    decisions = [history.exited(t, ran_for=0.5) for t in (0, 2, 5, 10, 19)]
    assert [d.count for d in decisions if isinstance(d, Restart)] == [1, 2, 3, 4, 5]
    assert history.exited(36, ran_for=0.5) == GiveUp(5)


def test_restarts_older_than_the_window_no_longer_count() -> None:
    history = RestartHistory(POLICY)
    for t in (0, 2, 5, 10, 19):
        assert isinstance(history.exited(t, ran_for=0.5), Restart)
    decision = history.exited(121, ran_for=0.5)  # the exit at 0 s left the window
    assert isinstance(decision, Restart)
    assert decision.count == 5


@given(st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=40))
def test_never_more_restarts_in_a_window_than_the_policy_allows(gaps: list[float]) -> None:
    history = RestartHistory(POLICY)
    now = 0.0
    restarts: list[float] = []
    for gap in gaps:
        now += gap
        decision = history.exited(now, ran_for=gap)
        if isinstance(decision, GiveUp):
            break
        assert 1 <= decision.delay <= 30
        restarts.append(now)
        in_window = [t for t in restarts if t > now - POLICY.window]
        assert len(in_window) <= POLICY.max_restarts


def test_a_policy_whose_delays_shrink_is_refused() -> None:
    with pytest.raises(ValueError, match="delays must grow"):
        RestartPolicy(first_delay=10, max_delay=5)


def test_an_exit_is_described_by_its_signal_or_status() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"
    assert describe_exit(1) == "exit status 1"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeProcess:
    """A service process whose exits and readiness the test decides."""

    service: str
    starts: int = 0
    running: bool = False
    is_ready: bool = False
    code: int | None = None
    stopped: bool = False
    log_path: Path | None = field(default_factory=lambda: Path("var/log/x.log"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1/{self.service}"

    @property
    def pid(self) -> int | None:
        return 1000 + self.starts if self.starts else None

    def start(self) -> None:
        self.starts += 1
        self.running, self.is_ready, self.code = True, False, None

    def exit_code(self) -> int | None:
        return None if self.running else self.code

    def ready(self) -> bool:
        return self.running and self.is_ready

    def stop(self) -> None:
        self.stopped = True
        self.running = False

    def crash(self, code: int = -9) -> None:
        self.running, self.is_ready, self.code = False, False, code


@pytest.fixture
def clock() -> Clock:
    return Clock()


def supervise(clock: Clock, *names: str) -> tuple[Supervisor, dict[str, FakeProcess], list[str]]:
    processes = {name: FakeProcess(name) for name in names}
    said: list[str] = []
    supervisor = Supervisor(list(processes.values()), POLICY, clock=clock, say=said.append)
    supervisor.start()
    for process in processes.values():
        process.is_ready = True
    supervisor.check()
    return supervisor, processes, said


def test_a_killed_service_is_started_again_after_the_back_off_and_the_others_are_left_alone(
    clock: Clock,
) -> None:
    supervisor, processes, said = supervise(clock, "membership", "events")
    assert supervisor.settled
    said.clear()

    processes["events"].crash(-9)
    clock.now = 10.0
    supervisor.check()
    assert said == [
        "events: killed by SIGKILL; starting it again in 1 s (restart 1 of at most 5 within 120 s)"
    ]
    assert supervisor.state("events") is State.WAITING
    assert not supervisor.settled

    clock.now = 10.9
    supervisor.check()
    assert processes["events"].starts == 1, "not before the back-off has passed"
    clock.now = 11.0
    supervisor.check()
    assert processes["events"].starts == 2
    assert said[-1] == "events: started again (pid 1002)"

    processes["events"].is_ready = True
    clock.now = 12.5
    supervisor.check()
    assert said[-1] == (
        "events: ready again at http://127.0.0.1/events (pid 1002), "
        "1.5 s after its start, 2.5 s after it exited"
    )
    assert processes["membership"].starts == 1
    assert not processes["membership"].stopped
    assert supervisor.state("membership") is State.READY


def test_a_service_that_keeps_dying_is_given_up_with_a_clear_message(clock: Clock) -> None:
    supervisor, processes, said = supervise(clock, "web", "events")
    events = processes["events"]
    for _ in range(POLICY.max_restarts):
        events.crash(1)
        supervisor.check()
        clock.now += 17  # past each back-off (1, 2, 4, 8, 16 s); all within the window
        supervisor.check()
    events.crash(1)
    supervisor.check()
    assert supervisor.state("events") is State.GIVEN_UP
    assert said[-1].startswith("events: exit status 1 again after 5 restarts within 120 s;")
    assert "giving up on it. Its log: var/log/x.log" in said[-1]
    assert "The other services keep running" in said[-1]
    starts = events.starts
    clock.now += 1000
    supervisor.check()
    assert events.starts == starts, "a given-up service is not started again"
    assert supervisor.watching, "the web pages are still supervised"
    assert supervisor.state("web") is State.READY


def test_when_every_service_is_given_up_nothing_is_watched(clock: Clock) -> None:
    supervisor, processes, _ = supervise(clock, "events")
    for _ in range(POLICY.max_restarts + 1):
        assert supervisor.watching
        processes["events"].crash(1)
        supervisor.check()
        clock.now += 17
        supervisor.check()
    assert not supervisor.watching


def test_a_service_slow_to_become_ready_is_reported_and_still_watched(clock: Clock) -> None:
    processes = {"events": FakeProcess("events")}
    said: list[str] = []
    supervisor = Supervisor(
        list(processes.values()), POLICY, clock=clock, say=said.append, start_timeout=90
    )
    supervisor.start()
    clock.now = 91
    supervisor.check()
    assert supervisor.state("events") is State.NOT_READY
    assert supervisor.settled
    assert "not ready after 90 s; still waiting" in said[-1]
    processes["events"].is_ready = True
    supervisor.check()
    assert supervisor.state("events") is State.READY


def test_stop_stops_every_process(clock: Clock) -> None:
    supervisor, processes, _ = supervise(clock, "membership", "events", "web")
    supervisor.stop()
    assert all(p.stopped for p in processes.values())
