"""Property tests of the meeting aggregate over random command sequences (hypothesis).

Whatever the order of registrations, cancellations and seat changes:
- seats taken never exceed the seats;
- the waiting list is first come, first served: it keeps the registrations' arrival
  order, and every promotion takes the head of the list;
- no municipality ever has more active registrations than the cap;
- every release is filled: while someone waits, no seat stays free;
- the derived indexes and the snapshot agree with the registrations.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.events.adapters.translation import meeting_from_json, meeting_to_json
from services.events.domain import commands as c
from services.events.domain import errors
from services.events.domain import events as e
from services.events.domain.decisions import decide, evolve
from services.events.domain.model import Meeting
from tests.unit.events.builders import MEETING, NOW, register, schedule

CODES = ["101", "147", "461", "751", "851"]

register_op = st.tuples(
    st.just("register"), st.integers(0, 39), st.sampled_from(CODES)
)  # 40 people, so some try twice
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 39), st.just(""))
seats_op = st.tuples(st.just("seats"), st.integers(-1, 12), st.just(""))
ops = st.lists(st.one_of(register_op, register_op, cancel_op, seats_op), max_size=80)


def check_invariants(m: Meeting, arrival: list[str]) -> None:
    assert m.seats_taken <= m.seats
    waiting = [r for r in arrival if m.registrations[r].status == "waitlisted"]
    assert m.waitlist == waiting, "the waiting list keeps arrival order"
    if m.per_municipality_cap is not None:
        assert all(n <= m.per_municipality_cap for n in m.active_per_municipality.values())
    if m.waitlist:
        assert m.seats_taken == m.seats, "a seat stays free while someone waits"
    indexed = (
        m.seats_taken,
        m.offer_seats_taken,
        dict(m.active_by_person),
        {k: v for k, v in m.active_per_municipality.items() if v},
        {k: v for k, v in m.seats_per_municipality.items() if v},
    )
    m.reindex()
    assert indexed == (
        m.seats_taken,
        m.offer_seats_taken,
        m.active_by_person,
        m.active_per_municipality,
        m.seats_per_municipality,
    )


@settings(max_examples=300, deadline=None)
@given(
    seats=st.integers(0, 6),
    cap=st.one_of(st.none(), st.integers(1, 4)),
    operations=ops,
)
def test_seat_rules_hold_under_any_command_sequence(
    seats: int, cap: int | None, operations: list[tuple[str, int, str]]
) -> None:
    state: Meeting | None = None
    for event in decide(None, schedule(seats=seats, cap=cap)):
        state = evolve(state, event)
    assert state is not None
    arrival: list[str] = []
    registered: dict[int, str] = {}
    for op, n, code in operations:
        command: c.Command
        if op == "register":
            rid_n = len(arrival) + 1000 * n
            command = register(rid_n, code=code, email=f"person{n}@kommune.dk")
        elif op == "cancel":
            if n not in registered:
                continue
            command = c.CancelRegistration(
                meeting_id=MEETING, at=NOW, registration_id=registered[n]
            )
        else:
            command = c.ChangeSeats(meeting_id=MEETING, at=NOW, seats=n)
        head_before = list(state.waitlist)
        try:
            events = decide(state, command)
        except errors.MeetingError:
            continue
        promoted = [ev.registration_id for ev in events if isinstance(ev, e.RegistrationPromoted)]
        cancelled_waiting = [
            ev.registration_id
            for ev in events
            if isinstance(ev, e.RegistrationCancelled) and not ev.had_seat
        ]
        remaining = [r for r in head_before if r not in cancelled_waiting]
        assert promoted == remaining[: len(promoted)], "promotions take the head of the list"
        for event in events:
            state = evolve(state, event)
            if isinstance(event, e.RegistrationConfirmed | e.RegistrationWaitlisted):
                arrival.append(event.registration_id)
                registered[n] = event.registration_id
        check_invariants(state, arrival)
    assert meeting_from_json(meeting_to_json(state)) == state
