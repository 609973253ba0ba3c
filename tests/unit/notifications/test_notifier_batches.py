"""The notifier applies a batch of source events in order, with its work done in bulk."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kernel.clock import ManualClock
from services.kernel.privacy import ERASED
from services.notifications.adapters.messages import DanishMessages
from services.notifications.domain import events as domain
from services.notifications.domain.decisions import Policy, UnknownMeetingError
from services.notifications.domain.model import Meeting, NotificationKind, Person
from services.notifications.service_layer.handlers import (
    Erasure,
    Inbound,
    NetworkNamed,
    Notifier,
    SourceEvent,
    UnreadableEventError,
)
from services.notifications.service_layer.ports import NewDelivery
from tests.unit.notifications.fakes import (
    FakeStore,
    FakeVault,
    NoStores,
    plain_source,
    registration_source,
)

NOW = datetime(2021, 11, 22, 9, 0, tzinfo=UTC)
START = datetime(2021, 12, 8, 8, 30, tzinfo=UTC)
ORGANISER = Person("KL", "netvaerk@kl.dk")
POLICY = Policy(organiser=ORGANISER, reminder_before=timedelta(days=2))
K = NotificationKind


def meeting(meeting_id: str = "meeting-1") -> Meeting:
    return Meeting(meeting_id, "3. netværksmøde 2021", "", START, START + timedelta(hours=6),
                   "KL-huset", "Weidekampsgade 10")  # fmt: skip


def person(n: int) -> Person:
    return Person(f"Deltager {n}", f"deltager{n}@aarhus.dk")


def notifier(vault: FakeVault) -> Notifier:
    return Notifier(POLICY, ManualClock(NOW), vault, NoStores(), DanishMessages())


def confirm(
    vault: FakeVault, n: int, rid: str | None = None, meeting_id: str = "meeting-1"
) -> SourceEvent:
    return registration_source(
        vault, f"ev-confirm-{rid or n}", domain.RegistrationConfirmed, meeting_id,
        rid or f"reg-{n}", person(n), basis="member", price_dkk=0,
    )  # fmt: skip


def cancel(vault: FakeVault, n: int, rid: str | None = None) -> SourceEvent:
    return registration_source(
        vault, f"ev-cancel-{rid or n}", domain.RegistrationCancelled, "meeting-1",
        rid or f"reg-{n}", person(n), cancelled_by="participant", had_seat=True,
    )  # fmt: skip


def mailed(store: FakeStore) -> list[tuple[str, str, str | None]]:
    """(kind, recipient, calendar method+sequence) of every queued delivery, in order."""
    return [(d.kind, d.recipient_email, d.calendar_method) for d in store.deliveries.values()]


async def scheduled(store: FakeStore, vault: FakeVault) -> None:
    await notifier(vault).apply(store, [plain_source("ev-s", domain.MeetingScheduled(meeting()))])


async def test_a_batch_of_registrations_reads_only_its_own_registrations_in_one_call() -> None:
    store, vault = FakeStore(), FakeVault()
    await scheduled(store, vault)
    await notifier(vault).apply(store, [confirm(vault, n) for n in range(50)])
    store.calls.clear()
    vault.calls.clear()
    store.registrations_read = 0

    queued = await notifier(vault).apply(store, [confirm(vault, n) for n in range(50, 60)])

    assert queued == 10
    assert store.called("registrations") == [10], "one query, for the ten ids only"
    assert store.registrations_read == 0, "none of the fifty known ones is read"
    assert store.called("meetings") == [1]
    assert store.called("queue") == [10]
    assert store.called("append") == [10]
    assert store.called("add_to_feed") == [10]
    assert store.called("save_registrations") == [10]
    assert [c for c, _ in vault.calls] == ["open_many", "keys"], "two vault calls in all"


async def test_a_meeting_wide_event_tells_everyone_also_those_registered_earlier_in_the_batch() -> (
    None
):
    store, vault = FakeStore(), FakeVault()
    await scheduled(store, vault)
    await notifier(vault).apply(store, [confirm(vault, n) for n in range(3)])
    later = START + timedelta(days=7)
    moved = domain.MeetingRescheduled("meeting-1", later, later + timedelta(hours=6), "X", "Y")

    await notifier(vault).apply(
        store, [confirm(vault, 3), plain_source("ev-moved", moved), confirm(vault, 4)]
    )

    told = sorted(d.recipient_email for d in store.deliveries.values()
                  if d.kind == K.MEETING_RESCHEDULED)  # fmt: skip
    assert told == [person(n).email for n in range(4)], "not the one registered after"
    assert store.registrations_read == 3, "the meeting's registrations, read once"
    sequences = {r.registration_id: r.calendar_sequence for r in store.registrations_by_id.values()}
    assert sequences == {"reg-0": 1, "reg-1": 1, "reg-2": 1, "reg-3": 1, "reg-4": 0}
    assert store.reminders["meeting-1"][0] == later


async def test_events_of_one_registration_in_one_batch_are_decided_in_order() -> None:
    store, vault = FakeStore(), FakeVault()
    await scheduled(store, vault)
    await notifier(vault).apply(store, [confirm(vault, 1), cancel(vault, 1)])
    assert mailed(store) == [
        (K.REGISTRATION_CONFIRMED, "deltager1@aarhus.dk", "REQUEST"),
        (K.REGISTRATION_CANCELLED, "deltager1@aarhus.dk", "CANCEL"),
        (K.ORGANISER_REGISTRATION_CANCELLED, "netvaerk@kl.dk", None),
    ]
    [cancelled] = store.registrations_by_id.values()
    assert (cancelled.status.value, cancelled.calendar_sequence) == ("cancelled", 1)


async def test_an_erasure_is_a_barrier_the_batch_before_it_is_written_after_it_is_erased() -> None:
    store, vault = FakeStore(), FakeVault()
    await scheduled(store, vault)
    await notifier(vault).apply(store, [confirm(vault, 1)])  # the key is cached now
    erik = vault.person(person(1).email).person_id
    vault.erase(erik)
    store.calls.clear()

    await notifier(vault).apply(
        store,
        [confirm(vault, 1, "reg-1b"), confirm(vault, 2), Erasure(erik), cancel(vault, 1),
         confirm(vault, 3)],
    )  # fmt: skip

    names = [c for c, _ in store.calls]
    assert (
        names.index("queue")
        < names.index("scrub_person")
        < len(names) - names[::-1].index("queue") - 1
    ), "queued before the erasure, scrubbed, then the rest queued"
    assert store.scrubbed == [erik]
    assert all(d.person_id != erik for d in store.deliveries.values()), "nothing left for him"
    assert {d.recipient_email for d in store.deliveries.values()} == {
        person(2).email, person(3).email, ORGANISER.email,
    }  # fmt: skip
    [about_him] = [d for d in store.deliveries.values() if d.recipient_email == ORGANISER.email]
    assert ERASED in about_him.body_text
    assert person(1).name not in about_him.body_text
    assert store.registrations_by_id["reg-1"].participant.name == ERASED


async def test_a_network_named_in_the_batch_is_known_to_the_welcome_after_it() -> None:
    store, vault = FakeStore(), FakeVault()
    contact = Person("Mette Hansen", "mette@kk.dk")
    key = vault.person(contact.email)
    text = vault.seal(key.person_id, {"name": contact.name, "email": contact.email})

    def started(opened: object) -> domain.MembershipStarted:
        who = Person(contact.name, contact.email, key.person_id)
        return domain.MembershipStarted("m-1", "knub", None, 2022, "101", "København", who, False)

    welcome = SourceEvent("ev-joined", started, sealed=((key.person_id, text),))
    await notifier(vault).apply(store, [NetworkNamed("knub", "Kommunernes Boligsociale Netværk"),
                                        welcome])  # fmt: skip
    [delivery] = store.deliveries.values()
    assert "Kommunernes Boligsociale Netværk" in delivery.body_text


async def test_an_event_delivered_again_queues_nothing_new() -> None:
    store, vault = FakeStore(), FakeVault()
    await scheduled(store, vault)
    first = confirm(vault, 1)
    assert await notifier(vault).apply(store, [first]) == 1
    assert await notifier(vault).apply(store, [first]) == 0
    assert len(store.appended) == 1
    assert len(store.feed) == 1


async def test_an_event_about_an_unknown_meeting_or_a_sealed_text_that_does_not_open_fails() -> (
    None
):
    store, vault = FakeStore(), FakeVault()
    with pytest.raises(UnknownMeetingError):
        await notifier(vault).apply(store, [confirm(vault, 1, meeting_id="meeting-never")])
    await scheduled(store, vault)
    good = confirm(vault, 2)
    tampered = SourceEvent("ev-bad", good.translate, sealed=((good.sealed[0][0], "tampered"),))
    with pytest.raises(UnreadableEventError):
        await notifier(vault).apply(store, [tampered])


# --- the batch gives what one event at a time gives ---------------------------------------

STEPS = st.lists(
    st.tuples(st.sampled_from(["confirm", "waitlist", "promote", "cancel", "move", "program"]),
              st.integers(min_value=0, max_value=5)),
    min_size=1,
    max_size=25,
)  # fmt: skip


def story(vault: FakeVault, steps: list[tuple[str, int]]) -> list[Inbound]:
    """Source events of one meeting from (what, who) steps, each event id unique."""
    out: list[Inbound] = [plain_source("ev-s", domain.MeetingScheduled(meeting()))]
    for n, (what, who) in enumerate(steps):
        rid, p = f"reg-{who}", person(who)
        if what in ("move", "program"):
            event: domain.MeetingEvent = (
                domain.MeetingRescheduled("meeting-1", START + timedelta(days=n),
                                          START + timedelta(days=n, hours=6), "X", "Y")
                if what == "move"
                else domain.MeetingProgramChanged("meeting-1", ())
            )  # fmt: skip
            out.append(plain_source(f"ev-{n}", event))
            continue
        kind, facts = {
            "confirm": (domain.RegistrationConfirmed, {"basis": "member", "price_dkk": 0}),
            "waitlist": (domain.RegistrationWaitlisted,
                         {"position": 1, "basis": "member", "price_dkk": 0}),
            "promote": (domain.RegistrationPromoted, {}),
            "cancel": (domain.RegistrationCancelled,
                       {"cancelled_by": "participant", "had_seat": False}),
        }[what]  # fmt: skip
        out.append(registration_source(vault, f"ev-{n}", kind, "meeting-1", rid, p, **facts))
    return out


def unsealed(store: FakeStore) -> list[NewDelivery]:
    """The deliveries in order, without the sealed recipient (sealing is randomised)."""
    return [replace(d, recipient_sealed=None) for d in store.deliveries.values()]


@settings(max_examples=60, deadline=None)
@given(steps=STEPS, cut=st.integers(min_value=1, max_value=26))
def test_a_batch_queues_and_leaves_what_one_event_at_a_time_does(
    steps: list[tuple[str, int]], cut: int
) -> None:
    async def run(batches: int) -> FakeStore:
        vault, store = FakeVault(), FakeStore()
        items = story(vault, steps)
        size = len(items) if batches == 1 else 1
        for at in range(0, len(items), size):
            await notifier(vault).apply(store, items[at : at + size])
        return store

    async def run_split() -> FakeStore:
        vault, store = FakeVault(), FakeStore()
        items = story(vault, steps)
        await notifier(vault).apply(store, items[:cut])
        await notifier(vault).apply(store, items[cut:])
        return store

    one_by_one = asyncio.run(run(batches=len(steps)))
    for batched in (asyncio.run(run(batches=1)), asyncio.run(run_split())):
        assert unsealed(batched) == unsealed(one_by_one)
        assert batched.registrations_by_id == one_by_one.registrations_by_id
        assert batched.meetings_by_id == one_by_one.meetings_by_id
        assert batched.reminders == one_by_one.reminders
        assert Counter(a.stream_id for a in batched.appended) == Counter(
            a.stream_id for a in one_by_one.appended
        )
