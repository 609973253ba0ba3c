"""Ports for the servers a test starts, on 127.0.0.1.

Binding to port 0 hands out a port of the kernel's ephemeral range, the range it also takes
the source ports of outgoing connections from: between our probe closing and the server
binding, a connection to Kafka or PostgreSQL could take that port, and the server would not
start. So a port is picked at random below that range (where no outgoing connection goes),
checked to be free, and never handed out twice in one run.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000
_given: set[int] = set()
_random = random.Random()


def _highest() -> int:
    """The highest port below the ephemeral range (32767 where the range is Linux's default)."""
    try:
        return min(32767, int(_RANGE_FILE.read_text().split()[0]) - 1)
    except (OSError, ValueError, IndexError):
        return 32767


def free_port() -> int:
    """A port nothing listens on now and no outgoing connection will take."""
    highest = _highest()
    if highest < _LOWEST:  # an unusual ephemeral range: leave the choice to the kernel
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port
    for _ in range(500):
        port = _random.randint(_LOWEST, highest)
        if port in _given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port between {_LOWEST} and {highest} on 127.0.0.1")
