"""Keeps the processes of ``operator run`` running: a process that exits is started again.

Two pieces. :class:`RestartPolicy` with :class:`RestartHistory` is the pure rule: after an
exit, wait 1 s, then 2 s, 4 s ... (capped) before the next start; a process that ran for a
good while starts again after 1 s; more than ``max_restarts`` restarts within ``window``
seconds and the supervisor gives up on that process. :class:`Supervisor` applies the rule to
processes, one :meth:`Supervisor.check` at a time, on an injected clock, so both are tested
without waiting (``tests/unit/operator/test_supervisor.py``); the real processes are tested
in ``tests/e2e/demo/test_supervised_run.py``.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class RestartPolicy:
    """When to start an exited process again, and when to stop trying."""

    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    max_restarts: int = 5
    """Restarts allowed within ``window`` seconds; the next exit gives up."""
    window: float = 120.0
    stable_after: float = 60.0
    """A process that ran this long before it exited starts again after ``first_delay``."""

    def __post_init__(self) -> None:
        if self.first_delay < 0 or self.factor < 1 or self.max_delay < self.first_delay:
            raise ValueError("delays must grow: 0 <= first_delay <= max_delay, factor >= 1")
        if self.max_restarts < 0 or self.window <= 0:
            raise ValueError("max_restarts >= 0 and window > 0")


@dataclass(frozen=True)
class Restart:
    """Start the process again after ``delay`` seconds; it is restart ``count`` in the window."""

    delay: float
    count: int


@dataclass(frozen=True)
class GiveUp:
    """Too many restarts: ``count`` within the policy's window."""

    count: int


@dataclass
class RestartHistory:
    """One process's restarts, and the delay before the next one."""

    policy: RestartPolicy
    _restarts: deque[float] = field(default_factory=deque, init=False)
    _next_delay: float | None = field(default=None, init=False)

    def exited(self, now: float, ran_for: float) -> Restart | GiveUp:
        """The process exited at ``now`` after running ``ran_for`` seconds: what next."""
        policy = self.policy
        while self._restarts and self._restarts[0] <= now - policy.window:
            self._restarts.popleft()
        if len(self._restarts) >= policy.max_restarts:
            return GiveUp(len(self._restarts))
        if self._next_delay is None or ran_for >= policy.stable_after:
            self._next_delay = policy.first_delay
        delay = self._next_delay
        self._next_delay = min(delay * policy.factor, policy.max_delay)
        self._restarts.append(now)
        return Restart(delay, len(self._restarts))


class Supervised(Protocol):
    """A process the supervisor can start, watch and stop (``ServiceProcess``)."""

    @property
    def service(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def log_path(self) -> Path | None: ...

    def start(self) -> None: ...

    def exit_code(self) -> int | None:
        """None while it runs; its exit status (negative: the signal) once it has exited."""
        ...

    def ready(self) -> bool:
        """One quick look at ``/readyz``."""
        ...

    def stop(self) -> None: ...


class State(Enum):
    STARTING = "starting"
    READY = "ready"
    NOT_READY = "not ready"
    """Runs, but did not become ready within the start-up time; still watched."""
    WAITING = "waiting"
    """Exited; started again when the back-off has passed."""
    GIVEN_UP = "given up"


@dataclass
class Watch:
    process: Supervised
    history: RestartHistory
    state: State = State.STARTING
    started_at: float = 0.0
    exited_at: float | None = None
    restart_at: float = 0.0
    restarts: int = 0


def describe_exit(code: int) -> str:
    """``-9`` -> "killed by SIGKILL"; ``1`` -> "exit status 1"."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@dataclass
class Supervisor:
    """Starts processes, restarts those that exit (with back-off), gives up on those that
    keep exiting, and says so through ``say``. Call :meth:`check` every fraction of a second."""

    processes: Sequence[Supervised]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    say: Callable[[str], None] = print
    start_timeout: float = 120.0
    """Seconds a (re)started process may take to answer ``/readyz`` before it is reported."""
    watches: list[Watch] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.watches = [Watch(p, RestartHistory(self.policy)) for p in self.processes]

    def start(self) -> None:
        """Start every process (readiness is seen by :meth:`check`)."""
        now = self.clock()
        for watch in self.watches:
            watch.process.start()
            watch.started_at = now
            watch.state = State.STARTING

    def state(self, service: str) -> State:
        return next(w.state for w in self.watches if w.process.service == service)

    @property
    def settled(self) -> bool:
        """No process is starting or waiting to start: each is ready, not ready, or given up."""
        return all(w.state in (State.READY, State.NOT_READY, State.GIVEN_UP) for w in self.watches)

    @property
    def watching(self) -> bool:
        """Some process is still supervised (not every one was given up)."""
        return any(w.state is not State.GIVEN_UP for w in self.watches)

    def check(self) -> None:
        """One round: notice exits and readiness, start what is due."""
        for watch in self.watches:
            self._check(watch, self.clock())

    def _check(self, watch: Watch, now: float) -> None:
        process = watch.process
        if watch.state is State.GIVEN_UP:
            return
        if watch.state is State.WAITING:
            if now >= watch.restart_at:
                process.start()
                watch.started_at = now
                watch.state = State.STARTING
                self.say(f"{process.service}: started again (pid {process.pid})")
            return
        code = process.exit_code()
        if code is not None:
            self._exited(watch, code, now)
            return
        if watch.state is State.STARTING:
            if process.ready():
                watch.state = State.READY
                self.say(self._ready_line(watch, now))
            elif now - watch.started_at > self.start_timeout:
                watch.state = State.NOT_READY
                self.say(
                    f"{process.service}: runs (pid {process.pid}) but is not ready after "
                    f"{self.start_timeout:.0f} s; still waiting. Its log: {process.log_path}"
                )
        elif watch.state is State.NOT_READY and process.ready():
            watch.state = State.READY
            self.say(self._ready_line(watch, now))

    def _ready_line(self, watch: Watch, now: float) -> str:
        process = watch.process
        if watch.exited_at is None:
            return f"{process.service}: ready at {process.url} (pid {process.pid})"
        return (
            f"{process.service}: ready again at {process.url} (pid {process.pid}), "
            f"{now - watch.started_at:.1f} s after its start, "
            f"{now - watch.exited_at:.1f} s after it exited"
        )

    def _exited(self, watch: Watch, code: int, now: float) -> None:
        process = watch.process
        watch.exited_at = now
        decision = watch.history.exited(now, now - watch.started_at)
        how = describe_exit(code)
        if isinstance(decision, GiveUp):
            watch.state = State.GIVEN_UP
            self.say(
                f"{process.service}: {how} again after {decision.count} restarts within "
                f"{self.policy.window:.0f} s; giving up on it. Its log: {process.log_path}. "
                "The other services keep running; fix the cause and start the system again "
                "(Ctrl-C stops it)."
            )
            return
        watch.state = State.WAITING
        watch.restart_at = now + decision.delay
        watch.restarts += 1
        self.say(
            f"{process.service}: {how}; starting it again in {decision.delay:g} s "
            f"(restart {decision.count} of at most {self.policy.max_restarts} "
            f"within {self.policy.window:.0f} s)"
        )

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL), the last started first."""
        for watch in reversed(self.watches):
            watch.process.stop()
