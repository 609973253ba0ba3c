"""Caps on long-lived streams (Server-Sent Events): per process and per client address.

A stream holds a connection (and, behind a proxy, a pooled upstream connection) for as
long as the client keeps it open, and anyone may open one: without a cap a few hundred
anonymous streams use up a process. :meth:`StreamLimiter.admit` gives a slot or refuses
with a problem+json answer the client can act on: **429** when this address has too many
streams open (close another tab), **503** when the process is full (try again later),
both with ``Retry-After``. A slot is given back by :meth:`StreamSlot.release`
(idempotent), when the stream ends however it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.kernel.http import ProblemError


@dataclass
class StreamSlot:
    """One admitted stream; :meth:`release` gives its place back (once)."""

    limiter: StreamLimiter
    client: str
    _released: bool = field(default=False, init=False)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self.limiter._release(self.client)


class StreamLimiter:
    """Counts the open streams of one process, in total and per client address."""

    def __init__(self, max_streams: int, max_per_client: int, *, retry_after_s: int = 30) -> None:
        self.max_streams = max_streams
        self.max_per_client = max_per_client
        self.retry_after_s = retry_after_s
        self.open = 0
        self._per_client: dict[str, int] = {}

    def admit(self, client: str) -> StreamSlot:
        """A slot for one more stream of ``client``; a 429 or 503 problem if none is free."""
        if self._per_client.get(client, 0) >= self.max_per_client:
            raise ProblemError(
                429,
                "too-many-streams",
                "For mange live-forbindelser",
                f"Der er allerede {self.max_per_client} live-forbindelser åbne fra din "
                "adresse. Luk andre faner med møder, og prøv igen.",
                f"{self.max_per_client} live streams are open from your address already. "
                "Close other tabs showing meetings and try again.",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        if self.open >= self.max_streams:
            raise ProblemError(
                503,
                "streams-full",
                "Ingen plads til flere live-forbindelser",
                "Serveren har ikke plads til flere live-forbindelser lige nu. Tallene kan "
                "stadig ses ved at genindlæse siden; prøv igen om lidt.",
                "The server has no room for more live streams right now. Reload the page to "
                "see the numbers, or try again shortly.",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.open += 1
        self._per_client[client] = self._per_client.get(client, 0) + 1
        return StreamSlot(self, client)

    def _release(self, client: str) -> None:
        self.open -= 1
        left = self._per_client.get(client, 0) - 1
        if left > 0:
            self._per_client[client] = left
        else:
            self._per_client.pop(client, None)
