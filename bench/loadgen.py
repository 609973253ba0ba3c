"""The load generator: N registrations from C concurrent keep-alive HTTP/1.1 clients.

Runs as its own process (``python -m bench.loadgen SPEC.json RESULT.json``) so its CPU is
not the harness's, and speaks raw HTTP/1.1 over asyncio streams: an HTTP client library
costs several times the CPU per request, and on a 2-core machine every cycle the load
generator burns is a cycle the service does not get.

The spec names the service's host and port, the meeting ids, how many registrations and
how many connections. Registration ``i`` goes to meeting ``i % len(meetings)``, with a
unique e-mail and a municipality from the list (:func:`participant`), signed in as that
participant (``tokens[i]``: each request carries its own bearer token, as real ones do).
Every connection is opened before the clock starts; the result holds, per request: index,
meeting index, status, latency (s), registration id and waiting position (or the error
text).
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


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host: str = spec["host"]
    port: int = spec["port"]
    meetings: list[str] = spec["meetings"]
    total: int = spec["registrations"]
    concurrency: int = spec["concurrency"]
    codes: list[str] = spec["municipalities"]
    tokens: list[str] = spec["tokens"]
    requests: list[bytes] = []
    for i in range(total):
        email, code = participant(i, codes)
        body = json.dumps(
            {
                "name": f"Deltager {i}",
                "email": email,
                "job_title": "Boligsocial medarbejder",
                "municipality_code": code,
            }
        ).encode()
        path = f"/meetings/{meetings[i % len(meetings)]}/registrations"
        requests.append(
            (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {tokens[i]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    # Several API instances (``ports``): the connections are spread over them in turn, as
    # a load balancer in front of the instances would.
    ports: list[int] = spec.get("ports") or [port]
    count = min(concurrency, total)
    connections = await asyncio.gather(
        *(_connect(host, ports[k % len(ports)]) for k in range(count))
    )
    port_of = [ports[k % len(ports)] for k in range(count)]
    results: list[list[Any]] = [[] for _ in range(total)]
    next_index = 0

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                payload = await reader.readexactly(length) if length else b""
                elapsed = time.perf_counter() - started
                body = json.loads(payload) if payload else {}
                results[i] = [
                    i,
                    i % len(meetings),
                    status,
                    elapsed,
                    body.get("registration_id"),
                    body.get("waiting_position"),
                ]
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                results[i] = [
                    i,
                    i % len(meetings),
                    0,
                    time.perf_counter() - started,
                    None,
                    repr(exc),
                ]
                writer.close()
                reader, writer = await _connect(host, port)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(r, w, p) for (r, w), p in zip(connections, port_of, strict=True)))
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": wall,
        "started_at": time.time() - wall,
        "finished_at": time.time(),
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
