"""``python -m bench.micro [--n N]``: the per-request pieces of a registration, alone, and the
per-mail pieces of the notifications service.

No stack needed: each piece runs N times in this process and the mean is printed in
microseconds. It tells which piece of the API's CPU per decision (see the rush) a change
would win back; the rush itself stays the measure of the whole.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from contracts.envelope import Envelope, encode
from services.kernel.auth import AuthSettings, TokenVerifier
from services.kernel.privacy import open_sealed, seal
from services.notifications.adapters.calendar import calendar_object
from services.notifications.adapters.email import MailContent, compose, mail_bytes
from services.notifications.adapters.texts import render
from services.notifications.domain.decisions import Policy, decide
from services.notifications.domain.events import RegistrationConfirmed
from services.notifications.domain.model import Meeting, Person
from services.operator.dev_issuer import SigningKey, claims_for

ISSUER, AUDIENCE = "https://login.bench", "kl-netvaerk-bench"


async def _mean_us(n: int, step: Callable[[int], Awaitable[object]]) -> float:
    await step(0)  # warm-up
    started = time.perf_counter()
    for i in range(n):
        await step(i)
    return (time.perf_counter() - started) / n * 1e6


async def measure(n: int = 2_000) -> dict[str, float]:
    """Microseconds per call of each piece."""
    key = SigningKey(kid="bench")
    settings = AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=None, jwks=key.jwks())
    now = time.time()
    tokens = [
        key.token(claims_for("participant", issuer=ISSUER, audience=AUDIENCE,
                             municipality_code="751", email=f"p{i}@kommune.dk",
                             lifetime_s=600, now=now))
        for i in range(n + 1)
    ]  # fmt: skip
    fresh = TokenVerifier(settings.model_copy(update={"verified_tokens": 0}))
    reused = TokenVerifier(settings)

    async def verify_new(i: int) -> object:
        return await fresh.verify(tokens[i])

    async def verify_again(_: int) -> object:
        return await reused.verify(tokens[0])

    envelope = Envelope(
        type="dk.kl.events.registration_confirmed.v2",
        source="/kl/events",
        subject="meeting-knub-2021-3",
        data={
            "meeting_id": "meeting-knub-2021-3",
            "registration_id": "reg-0123456789ab",
            "participant": {"person_id": "person-" + "0" * 32, "sealed": "v1." + "x" * 220},
        },
        id=uuid.uuid4(),
        time=datetime.now(UTC),
    )

    async def encode_event(_: int) -> object:
        return encode(envelope)

    data_key = os.urandom(32)
    fields = {"name": "Anne Jensen", "email": "anne@aarhus.dk", "job_title": "Konsulent"}
    sealed = seal("person-1", data_key, fields)

    async def seal_fields(_: int) -> object:
        return seal("person-1", data_key, fields)

    async def open_fields(_: int) -> object:
        return open_sealed("person-1", data_key, sealed)

    start = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
    meeting = Meeting("meeting-knub-2021-3", "3. netværksmøde 2021", "Anvisning og udlejning",
                      start, start + timedelta(hours=6), "KL-huset",
                      "Weidekampsgade 10, 2300 København S")  # fmt: skip
    policy = Policy(organiser=Person("KL's netværkssekretariat", "netvaerk@kl.dk"))
    anne = Person("Anne Jensen", "anne.jensen@aarhus.dk", "person-1")
    confirmed = RegistrationConfirmed(meeting.meeting_id, "reg-1", anne, "751", "member", 0)
    [intent] = decide(confirmed, meeting, [], policy)
    assert intent.calendar is not None
    calendar = intent.calendar
    stamp = datetime.now(UTC)

    async def ics_only(_: int) -> object:
        return calendar_object(calendar, meeting, anne, policy.organiser, stamp)

    async def one_mail(_: int) -> object:
        text = render(intent)
        ics = calendar_object(calendar, meeting, anne, policy.organiser, stamp)
        content = MailContent(uuid.uuid4(), anne.email, anne.name, text.subject, text.text,
                              text.html, ics, calendar.method)  # fmt: skip
        message = compose(content, sender="KL Netværk <noreply@netvaerk.kl.dk>",
                          domain="netvaerk.kl.dk", now=stamp)  # fmt: skip
        return mail_bytes(message)

    return {
        "token, first use (RS256)": await _mean_us(n, verify_new),
        "token, used again (remembered)": await _mean_us(n, verify_again),
        "CloudEvents encode (SDK)": await _mean_us(n, encode_event),
        "seal personal fields": await _mean_us(n, seal_fields),
        "open sealed fields": await _mean_us(n, open_fields),
        "mail: calendar object (.ics)": await _mean_us(n, ics_only),
        "mail: compose one (texts, .ics, MIME)": await _mean_us(n, one_mail),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="calls per piece")
    args = parser.parse_args()
    for piece, micros in asyncio.run(measure(args.n)).items():
        print(f"{piece:38} {micros:8.1f} µs")


if __name__ == "__main__":
    main()
