"""The test servers' ports: free, below the ephemeral range, never the same twice in a run."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support import ports
from tests.support.ports import free_port


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    if _ephemeral_low() > 20000:  # Linux's default range starts at 32768
        assert all(20000 <= port < _ephemeral_low() for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))


def test_a_port_something_listens_on_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        spare = free_port()
        picks = iter([busy, busy, spare])
        monkeypatch.setattr(ports._random, "randint", lambda low, high: next(picks))
        monkeypatch.setattr(ports, "_given", set())
        assert free_port() == spare
