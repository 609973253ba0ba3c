"""Loading the demo: what exists is left alone and reported, what is missing is made once,
and a refusal is reported instead of stopping the run. The services are a small fake here
(their real answers: tests/e2e/demo/test_run_command.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from services.operator.demo import JOINS, REGISTRATIONS, DemoReport, seed

MEMBERSHIP = "http://membership"
EVENTS = "http://events"


@dataclass
class FakeServices(httpx.AsyncBaseTransport):
    """Memberships by (code, year), the demo meeting's seats, registrations by e-mail, and
    the events service's idempotency records."""

    memberships: dict[tuple[str, int], str] = field(default_factory=dict)
    seats: int | None = 80
    listed: dict[str, str] = field(default_factory=dict)
    """Registrations the participant list shows: e-mail -> status."""
    recorded_keys: set[str] = field(default_factory=set)
    refuse_registrations: int | None = None
    posts: list[str] = field(default_factory=list)
    area_list: dict[str, object] | None = None
    """The list of 1 December 2021 the membership service holds."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path.startswith("/area-lists"):
            return self.area_lists(request)
        if request.url.host == "membership" and method == "GET":
            _, _, _, _, year, code = path.split("/")
            status = self.memberships.get((code, int(year)))
            return httpx.Response(404 if status is None else 200, json={"status": status})
        if request.url.host == "membership":
            body = json.loads(request.content)
            self.posts.append(f"join {body['municipality_code']}")
            self.memberships[(body["municipality_code"], body["year"])] = "active"
            return httpx.Response(201, json={})
        if path.endswith("/registrations") and method == "GET":
            rows = [{"email": e, "status": s} for e, s in self.listed.items()]
            return httpx.Response(200, json=rows)
        if path.endswith("/registrations"):
            key = request.headers["Idempotency-Key"]
            if key in self.recorded_keys:
                return httpx.Response(
                    201, json={"status": "confirmed"}, headers={"Idempotent-Replayed": "true"}
                )
            if self.refuse_registrations is not None:
                return httpx.Response(
                    self.refuse_registrations,
                    json={"type": "urn:kl:problem:registration-closed", "title": "Lukket"},
                )
            email = json.loads(request.content)["email"]
            self.posts.append("register")
            self.recorded_keys.add(key)
            self.listed[email] = "confirmed"
            return httpx.Response(201, json={"status": "confirmed"})
        if self.seats is None:
            return httpx.Response(404, json={"type": "urn:kl:problem:meeting-not-found"})
        return httpx.Response(200, json={"seats": self.seats, "cancelled": False})

    def area_lists(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            if self.area_list is None:
                return httpx.Response(404, json={"type": "urn:kl:problem:unknown-area-list"})
            return httpx.Response(200, json=self.area_list)
        self.posts.append("import area list")
        lines = request.content.decode().strip().splitlines()[1:]
        partial = request.url.params["partial"] == "true"
        self.area_list = {"revision": 1, "rows": len(lines), "partial": partial}
        return httpx.Response(201, json={**self.area_list, "municipalities": 12})


async def load(services: FakeServices, *, created: bool = False) -> DemoReport:
    return await seed(MEMBERSHIP, EVENTS, "token", meeting_created=created, transport=services)


async def test_a_fresh_system_gets_the_whole_demo() -> None:
    services = FakeServices()
    report = await load(services, created=True)
    assert report.summary() == "demo loaded: 5 memberships, 1 meeting, 4 registrations"
    assert len(services.posts) == len(JOINS) + len(REGISTRATIONS) + 1
    assert report.problems == []


async def test_the_demo_imports_the_2021_area_list_and_says_that_it_is_partial() -> None:
    services = FakeServices()
    first = await load(services, created=True)
    assert services.area_list == {"revision": 1, "rows": 39, "partial": True}
    [line] = first.notes
    assert line.startswith("area list 2021-12-01: imported, 39 rows in 12 municipalities; partial")
    assert "14 of the 20 udsat areas, 3 of the 62 forebyggelsesområder" in line
    assert line in first.lines()

    services.posts.clear()
    again = await load(services)
    assert services.posts == []
    [present] = again.notes
    assert present.startswith("area list 2021-12-01: present, revision 1, 39 rows (partial)")
    assert "The demo's list is partial" in present


async def test_a_second_load_makes_nothing_and_reports_what_changed_since_the_seed() -> None:
    services = FakeServices()
    await load(services, created=True)
    services.memberships[("461", 2021)] = "cancelled"
    services.listed["lone.bach@odense.example.dk"] = "cancelled"
    services.seats = 60
    services.posts.clear()

    report = await load(services)
    assert services.posts == [], "nothing is made again: no rejoin, no new registration"
    assert report.made == []
    assert report.summary() == (
        "demo present: 5 memberships, 1 meeting, 4 registrations; left as it is; changed since "
        "the seed: membership 461 for 2021 cancelled, seats 80 -> 60, "
        "registration from 461 cancelled"
    )


async def test_a_registration_made_before_but_not_in_the_list_is_not_made_twice() -> None:
    services = FakeServices()
    await load(services, created=True)
    services.listed.clear()  # the list lags behind, or the people were erased since
    services.posts.clear()
    report = await load(services)
    assert services.posts == []
    assert report.registrations == 4
    assert report.summary().startswith("demo present:")


async def test_only_the_missing_pieces_are_made() -> None:
    services = FakeServices(memberships={("101", 2021): "active", ("751", 2021): "active"})
    report = await load(services)
    assert report.made[:3] == [
        "membership 461 for 2021: joined",
        "membership 169 for 2021: joined",
        "membership 851 for 2022: joined",
    ]
    assert report.summary().startswith(
        "demo completed (7 piece(s) were missing): 5 memberships, 1 meeting, 4 registrations"
    )


async def test_a_refused_step_is_reported_and_the_rest_goes_on() -> None:
    services = FakeServices(refuse_registrations=409)
    report = await load(services, created=True)
    assert report.memberships == 5
    assert report.problems == [
        f"registration from {r.code}: HTTP 409 registration-closed" for r in REGISTRATIONS
    ]
    assert "not loaded: registration from 751: HTTP 409 registration-closed" in report.lines()


async def test_a_missing_meeting_is_reported_not_raised() -> None:
    report = await load(FakeServices(seats=None))
    assert report.problems == ["the demo meeting: HTTP 404 meeting-not-found"]
    assert report.memberships == 5


async def test_a_service_that_does_not_answer_is_reported() -> None:
    class Down(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    report = await seed(MEMBERSHIP, EVENTS, "token", transport=Down())
    assert report.problems == ["a service did not answer: ConnectError"]


def test_the_registrations_idempotency_keys_hold_no_email_and_never_change() -> None:
    keys = [r.idempotency_key for r in REGISTRATIONS]
    assert len(set(keys)) == len(keys)
    assert all("@" not in k and "example" not in k for k in keys)
    # Runs of other versions must find the same records: the key of the first person, fixed.
    assert keys[0] == "demo-meeting-knub-2021-3-registration-14d5f31fcc85a020"
