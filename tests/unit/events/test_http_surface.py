"""The HTTP surface: the membership client's answers, and an OpenAPI with examples."""

from __future__ import annotations

import httpx
import pytest

from services.events.adapters.membership_client import HttpMembershipLookup
from services.events.bootstrap import bootstrap
from services.events.service_layer.ports import MembershipServiceUnavailableError


def lookup_answering(handler: httpx.MockTransport) -> HttpMembershipLookup:
    return HttpMembershipLookup(
        "http://membership.test", client=httpx.AsyncClient(transport=handler)
    )


async def test_the_membership_client_reads_active_cancelled_and_none() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.startswith("/networks/knub/memberships/2022/")
        code = request.url.path.rsplit("/", 1)[-1]
        if code == "404":
            return httpx.Response(404, json={"type": "urn:kl:problem:not-found"})
        return httpx.Response(200, json={"status": "active" if code == "101" else "cancelled"})

    lookup = lookup_answering(httpx.MockTransport(answer))
    assert await lookup.status("knub", 2022, "101") == "active"
    assert await lookup.status("knub", 2022, "147") == "cancelled"
    assert await lookup.status("knub", 2022, "404") is None


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: httpx.Response(500),
        lambda r: httpx.Response(200, text="not json"),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
    ],
    ids=["server-error", "garbage", "unreachable"],
)
async def test_the_membership_client_never_turns_a_failure_into_an_answer(failure: object) -> None:
    lookup = lookup_answering(httpx.MockTransport(failure))  # type: ignore[arg-type]
    with pytest.raises(MembershipServiceUnavailableError):
        await lookup.status("knub", 2022, "101")


def test_every_model_of_the_api_has_an_example() -> None:
    schema = bootstrap().app.openapi()
    ours = {
        name: model
        for name, model in schema["components"]["schemas"].items()
        if name not in {"HTTPValidationError", "ValidationError"}
    }
    assert len(ours) >= 15
    missing = [name for name, model in ours.items() if not model.get("examples")]
    assert missing == []
    paths = schema["paths"]
    for path in (
        "/meetings",
        "/meetings/{meeting_id}",
        "/meetings/{meeting_id}/program",
        "/meetings/{meeting_id}/reschedule",
        "/meetings/{meeting_id}/seats",
        "/meetings/{meeting_id}/offer",
        "/meetings/{meeting_id}/cancel",
        "/meetings/{meeting_id}/registrations",
        "/meetings/{meeting_id}/registrations/{registration_id}/cancel",
        "/meetings/{meeting_id}/registrations/{registration_id}/attendance",
        "/meetings/{meeting_id}/availability",
        "/meetings/{meeting_id}/availability/stream",
        "/municipalities/{code}/registrations",
    ):
        assert path in paths, path
    register = paths["/meetings/{meeting_id}/registrations"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in register["parameters"])
