"""Readiness probes for deploy/local/stack.sh: one real client round trip per component.

    probe.py kafka 127.0.0.1:19092 [--timeout S]   metadata request to that server (brokers, topics)
        [--node N]   and node N is among the cluster's brokers (registered, not fenced)
        [--security-protocol SASL_PLAINTEXT|SASL_SSL --sasl-mechanism M --username U
         --cafile CA.pem]   (the password comes from the environment: PROBE_KAFKA_PASSWORD)
    probe.py smtp 127.0.0.1 2525 [--timeout S]     SMTP greeting + EHLO + QUIT
    probe.py http http://127.0.0.1:9400/jwks.json  GET answers 200 (the development issuer)

Exit 0 when the server answered, 1 with a one-line reason on stderr otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import smtplib
import ssl
import sys
from typing import Any


def probe_kafka(
    server: str,
    timeout: float,
    security: dict[str, Any] | None = None,
    node: int | None = None,
) -> str:
    """A metadata request to this one server (not to whichever broker a client would pick:
    a cluster's node is probed itself, even while another node is away)."""
    # aiokafka logs every failed connection attempt; the one-line reason is enough here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    from aiokafka.conn import create_conn
    from aiokafka.protocol.metadata import MetadataRequest

    host, _, port = server.rpartition(":")

    async def run() -> str:
        conn = await create_conn(
            host,
            int(port),
            request_timeout_ms=int(timeout * 1000),
            client_id="stack-probe",
            **(security or {}),
        )
        try:
            metadata = await conn.send(MetadataRequest(topics=None))
        finally:
            conn.close()
        brokers = sorted(broker[0] for broker in metadata.brokers)
        if not brokers:
            raise RuntimeError("no broker registered in the cluster metadata yet")
        if node is not None and node not in brokers:
            raise RuntimeError(f"node {node} is not among the cluster's brokers {brokers} yet")
        cluster = getattr(metadata, "cluster_id", None)
        return f"cluster {cluster} brokers {brokers} topics {len(metadata.topics)}"

    return asyncio.run(asyncio.wait_for(run(), timeout))


def kafka_security(args: argparse.Namespace) -> dict[str, Any]:
    """aiokafka keyword arguments for the probe's --security-protocol and friends."""
    protocol = args.security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = args.sasl_mechanism
        options["sasl_plain_username"] = args.username
        options["sasl_plain_password"] = os.environ.get("PROBE_KAFKA_PASSWORD", "")
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=args.cafile)
    return options


def probe_smtp(host: str, port: int, timeout: float) -> str:
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        code, _ = smtp.ehlo("stack-probe")
        if code != 250:
            raise RuntimeError(f"EHLO answered {code}")
        smtp.quit()
    return "EHLO 250"


def probe_http(url: str, timeout: float) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as response:
        if response.status != 200:
            raise RuntimeError(f"GET answered {response.status}")
    return "GET 200"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kafka")
    k.add_argument("bootstrap")
    k.add_argument("--security-protocol", default="PLAINTEXT")
    k.add_argument("--sasl-mechanism", default="SCRAM-SHA-512")
    k.add_argument("--username", default="")
    k.add_argument("--cafile", default=None)
    k.add_argument("--node", type=int, default=None)
    s = sub.add_parser("smtp")
    s.add_argument("host")
    s.add_argument("port", type=int)
    h = sub.add_parser("http")
    h.add_argument("url")
    for p in (k, s, h):
        p.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    try:
        if args.what == "kafka":
            info = probe_kafka(args.bootstrap, args.timeout, kafka_security(args), args.node)
        elif args.what == "http":
            info = probe_http(args.url, args.timeout)
        else:
            info = probe_smtp(args.host, args.port, args.timeout)
    except Exception as exc:
        print(f"{args.what}: {type(exc).__name__}: {exc}".strip(), file=sys.stderr)
        return 1
    print(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
