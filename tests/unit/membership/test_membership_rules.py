"""The membership rules, property-based: any sequence of commands keeps them.

A state machine drives the real use cases (service layer and pure domain) over an
in-memory event store and checks every answer against a small reference model; after
every step, the stored events must still say one membership per municipality, network
and year, with nothing after a cancellation.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.kernel.clock import ManualClock
from services.membership.domain import model as dm
from services.membership.domain.errors import (
    AlreadyCancelledError,
    InvalidEanError,
    MembershipCancelledError,
    MembershipNotFoundError,
    UnknownNetworkError,
    YearInPastError,
    YearTooFarAheadError,
)
from services.membership.service_layer import handlers
from services.membership.service_layer.seed import seed_networks
from tests.unit.membership.fakes import FakeStreams

START = datetime(2021, 11, 19, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
VALID_EAN = "5798000000001"

networks = st.sampled_from(["knub", "klimanet", "nope"])
codes = st.sampled_from(["101", "751"])
years = st.integers(2020, 2024)
# Most steps aim at a membership that exists (picked by index), the rest anywhere.
picks = st.one_of(st.integers(0, 10**6), st.integers(0, 10**6), st.none())
Key = tuple[str, int, str]
T = TypeVar("T")


class MembershipMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.streams = FakeStreams()
        self.clock = ManualClock(START)
        self.reference: dict[Key, str] = {}
        self.run(seed_networks(self.streams, self.clock))
        self.run(
            handlers.create_network(
                self.streams,
                self.clock,
                slug="klimanet",
                name="Klimanetværk",
                description="Om klima.",
                yearly_fee_dkk=5000,
            )
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.loop.close()

    def _key(self, pick: int | None, slug: str, year: int, code: str) -> Key:
        if pick is None or not self.reference:
            return (slug, year, code)
        existing = sorted(self.reference)
        return existing[pick % len(existing)]

    def _year_problem(self, year: int) -> type[Exception] | None:
        now = self.clock.now().year
        if year < now:
            return YearInPastError
        if year > now + dm.MAX_YEARS_AHEAD:
            return YearTooFarAheadError
        return None

    def _expect(self, error: type[Exception] | None, coroutine: Coroutine[Any, Any, T]) -> T | None:
        if error is not None:
            with pytest.raises(error):
                self.run(coroutine)
            return None
        return self.run(coroutine)

    @rule(pick=picks, slug=networks, code=codes, year=years, ean_ok=st.booleans())
    def join(self, pick: int | None, slug: str, code: str, year: int, ean_ok: bool) -> None:
        key = slug, year, code = self._key(pick, slug, year, code)
        state = self.reference.get(key)
        error: type[Exception] | None
        if slug == "nope":
            error = UnknownNetworkError
        elif not ean_ok:
            error = InvalidEanError
        else:
            error = self._year_problem(year) or (
                MembershipCancelledError if state == "cancelled" else None
            )
        outcome = self._expect(
            error,
            handlers.join_network(
                self.streams,
                self.clock,
                network_slug=slug,
                municipality_code=code,
                year=year,
                contact=dm.Contact("Mette Hansen", "mette@kk.dk"),
                ean=VALID_EAN if ean_ok else "5798000000002",
            ),
        )
        if isinstance(outcome, handlers.Outcome):
            assert outcome.changed == (state is None), "a second join changes nothing"
            assert outcome.membership.is_active
            self.reference[key] = "active"

    @rule(pick=picks, slug=networks, code=codes, year=years)
    def cancel(self, pick: int | None, slug: str, code: str, year: int) -> None:
        key = slug, year, code = self._key(pick, slug, year, code)
        state = self.reference.get(key)
        error = {None: MembershipNotFoundError, "cancelled": AlreadyCancelledError}.get(state)
        outcome = self._expect(
            error,
            handlers.cancel_membership(
                self.streams,
                self.clock,
                membership_id=dm.membership_id(slug, year, code),
                reason="Budget",
            ),
        )
        if outcome is not None:
            self.reference[key] = "cancelled"

    @rule(pick=picks, slug=networks, code=codes, year=years)
    def renew(self, pick: int | None, slug: str, code: str, year: int) -> None:
        slug, year, code = self._key(pick, slug, year, code)
        source = self.reference.get((slug, year, code))
        target_key = (slug, year + 1, code)
        target = self.reference.get(target_key)
        error: type[Exception] | None
        if source is None:
            error = MembershipNotFoundError
        elif source == "cancelled":
            error = MembershipCancelledError
        else:
            error = self._year_problem(year + 1) or (
                MembershipCancelledError if target == "cancelled" else None
            )
        outcome = self._expect(
            error,
            handlers.renew_membership(
                self.streams, self.clock, membership_id=dm.membership_id(slug, year, code)
            ),
        )
        if isinstance(outcome, handlers.Outcome):
            assert outcome.changed == (target is None), "renewing twice changes nothing"
            assert outcome.membership.year == year + 1
            self.reference[target_key] = "active"

    @rule(pick=picks, slug=networks, code=codes, year=years, name=st.sampled_from(["Jens", "Anne"]))
    def change_contact(self, pick: int | None, slug: str, code: str, year: int, name: str) -> None:
        slug, year, code = self._key(pick, slug, year, code)
        state = self.reference.get((slug, year, code))
        error = {None: MembershipNotFoundError, "cancelled": MembershipCancelledError}.get(state)
        outcome = self._expect(
            error,
            handlers.change_contact(
                self.streams,
                self.clock,
                membership_id=dm.membership_id(slug, year, code),
                contact=dm.Contact(name, f"{name.lower()}@kk.dk"),
            ),
        )
        if isinstance(outcome, handlers.Outcome):
            assert outcome.membership.contact.name == name

    @rule(days=st.integers(0, 200))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @invariant()
    def one_membership_per_municipality_network_and_year(self) -> None:
        openings: Counter[Key] = Counter()
        for stream_id, events in self.streams.memberships.items():
            if not events:
                continue
            first = events[0]
            assert isinstance(first, dm.MembershipJoined | dm.MembershipRenewed)
            key = (first.network_slug, first.year, first.municipality_code)
            assert stream_id == dm.membership_id(*key)
            openings[key] += sum(
                isinstance(e, dm.MembershipJoined | dm.MembershipRenewed) for e in events
            )
            cancels = [i for i, e in enumerate(events) if isinstance(e, dm.MembershipCancelled)]
            assert cancels in ([], [len(events) - 1]), "nothing after a cancellation"
            state = self.run(self.streams.load_membership(stream_id))[0]
            assert state is not None
            assert state.status.value == self.reference[key]
        assert all(n == 1 for n in openings.values()), openings
        assert set(openings) == set(self.reference)

    @invariant()
    def renewals_come_from_an_active_previous_year(self) -> None:
        for events in self.streams.memberships.values():
            if events and isinstance(events[0], dm.MembershipRenewed):
                renewal = events[0]
                assert renewal.renewed_from == dm.membership_id(
                    renewal.network_slug, renewal.year - 1, renewal.municipality_code
                )


MembershipMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30)
test_membership_rules = MembershipMachine.TestCase
