"""A relay that dies at the worst moment, for the crash tests (never in production code).

``python -m tests.support.crashing_relay --dsn ... --crash-after-batches 3`` runs the
service's relay (:mod:`services.kernel.outbox`), which SIGKILLs its own process once Kafka
has acknowledged its Nth batch and before that batch is marked published.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

import asyncpg

from services.kernel.outbox import OutboxRelay, arguments, relay_options, run_alone


class CrashingRelay(OutboxRelay):
    def __init__(self, *, crash_after_batches: int, **options: Any) -> None:
        super().__init__(**options)
        self.crash_after_batches = crash_after_batches
        self.batches_sent = 0

    async def mark_published(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]
    ) -> None:
        self.batches_sent += 1
        if self.batches_sent >= self.crash_after_batches:
            os.kill(os.getpid(), signal.SIGKILL)
        await super().mark_published(conn, rows)


def main() -> None:
    parser = arguments()
    parser.add_argument("--crash-after-batches", type=int, required=True)
    args = parser.parse_args()
    run_alone(CrashingRelay(crash_after_batches=args.crash_after_batches, **relay_options(args)))


if __name__ == "__main__":
    main()
