"""The micro-benchmark runs its pieces for real (correctness only: no time is asserted)."""

from __future__ import annotations

from bench.micro import measure


async def test_every_piece_runs_and_is_timed() -> None:
    timings = await measure(n=3)
    assert set(timings) == {
        "token, first use (RS256)",
        "token, used again (remembered)",
        "CloudEvents encode (SDK)",
        "seal personal fields",
        "open sealed fields",
        "mail: calendar object (.ics)",
        "mail: compose one (texts, .ics, MIME)",
    }
    assert all(micros > 0 for micros in timings.values())
