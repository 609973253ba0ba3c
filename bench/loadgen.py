"""The load generator: N requests from C concurrent keep-alive HTTP/1.1 clients.

Runs as its own process (``python -m bench.loadgen SPEC.json RESULT.json``) so its CPU is
not the harness's, and speaks raw HTTP/1.1 over asyncio streams: an HTTP client library
costs several times the CPU per request, and on a 2-core machine every cycle the load
generator burns is a cycle the service does not get.

Two kinds of spec:

- The rush (``meetings``, ``registrations``, ``tokens``...): registration ``i`` goes to
  meeting ``i % len(meetings)``, with a unique e-mail and a municipality from the list
  (:func:`participant`), signed in as that participant (``tokens[i]``: each request
  carries its own bearer token, as real ones do). A result row per request: index,
  meeting index, status, latency (s), registration id and waiting position (or the error).
- A request list (``requests``): each entry names its ``port``, ``method``, ``path``,
  ``token`` and JSON ``body``, and may name ``after``, the index of an earlier request
  whose answer it must wait for (a municipality joins, then its staff register at once).
  A result row per request: index, status, latency (s), the wall-clock time of the answer
  (epoch seconds, to match against the mail's arrival), and the answer's
  ``registration_id``, ``waiting_position`` (or the error) and ``basis``.

Every connection is opened before the clock starts; clients take the next request in
list order.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, limit=1 << 20)


def participant(i: int, codes: list[str]) -> tuple[str, str]:
    """(e-mail, municipality code) of registration ``i``."""
    code = codes[i % len(codes)]
    return f"deltager{i}@kommune{code}.dk", code


def http_request(
    method: str, host: str, port: int, path: str, token: str, body: dict[str, Any] | None
) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, Any]]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    payload = await reader.readexactly(length) if length else b""
    body = json.loads(payload) if payload else {}
    return status, body if isinstance(body, dict) else {}


def _rush_requests(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The rush spec as a request list (registration ``i`` to meeting ``i % meetings``)."""
    meetings: list[str] = spec["meetings"]
    codes: list[str] = spec["municipalities"]
    ports: list[int] = spec.get("ports") or [spec["port"]]
    out = []
    for i in range(spec["registrations"]):
        email, code = participant(i, codes)
        out.append(
            {
                "method": "POST",
                "path": f"/meetings/{meetings[i % len(meetings)]}/registrations",
                "token": spec["tokens"][i],
                "body": {
                    "name": f"Deltager {i}",
                    "email": email,
                    "job_title": "Boligsocial medarbejder",
                    "municipality_code": code,
                },
                "ports": ports,
            }
        )
    return out


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host: str = spec["host"]
    rush = "requests" not in spec
    entries: list[dict[str, Any]] = _rush_requests(spec) if rush else spec["requests"]
    total = len(entries)
    concurrency: int = spec["concurrency"]
    # Several API instances (``ports``): connections are spread over them in turn, as a
    # load balancer in front of the instances would; a request list names its port.
    count = min(concurrency, total)
    # Each client keeps one connection per port it uses: opened before the clock starts
    # for the port of its first request, on first use for the others.
    if rush:
        ports: list[int] = spec.get("ports") or [spec["port"]]
        first = [ports[k % len(ports)] for k in range(count)]
    else:
        first = [entries[k]["port"] for k in range(count)]
    opened = await asyncio.gather(*(_connect(host, first[k]) for k in range(count)))
    wires = [
        http_request(e["method"], host, e.get("port", 0), e["path"], e["token"], e.get("body"))
        for e in entries
    ]
    answered = [asyncio.Event() for _ in range(total)]
    results: list[list[Any]] = [[] for _ in range(total)]
    next_index = 0
    meetings = len(spec.get("meetings") or [1])

    async def client(k: int) -> None:
        nonlocal next_index
        conns = {first[k]: opened[k]}
        while next_index < total:
            i = next_index
            next_index += 1
            entry = entries[i]
            if entry.get("after") is not None:
                await answered[entry["after"]].wait()
            port = first[k] if rush else entry["port"]
            if port not in conns:
                conns[port] = await _connect(host, port)
            reader, writer = conns[port]
            if reader.at_eof():  # the server closed an idle keep-alive connection
                writer.close()
                reader, writer = conns[port] = await _connect(host, port)
            started = time.perf_counter()
            try:
                status, body = await _exchange(reader, writer, wires[i])
                elapsed = time.perf_counter() - started
                rid, position = body.get("registration_id"), body.get("waiting_position")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                status, elapsed = 0, time.perf_counter() - started
                rid, position, body = None, repr(exc), {}
                writer.close()
                conns[port] = await _connect(host, port)
            if rush:
                results[i] = [i, i % meetings, status, elapsed, rid, position]
            else:
                results[i] = [i, status, elapsed, time.time(), rid, position, body.get("basis")]
            answered[i].set()
        for _, writer in conns.values():
            writer.close()

    started = time.perf_counter()
    started_at = time.time()
    await asyncio.gather(*(client(k) for k in range(count)))
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": wall,
        "started_at": started_at,
        "finished_at": started_at + wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
        "results": results,
    }


def main() -> None:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    outcome = asyncio.run(run(spec))
    with open(result_path, "w") as f:
        json.dump(outcome, f)


if __name__ == "__main__":
    main()
