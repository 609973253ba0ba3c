"""The httpx adapter of the ``MembershipLookup`` port."""

from __future__ import annotations

from typing import cast

import httpx

from services.events.service_layer.ports import (
    MembershipServiceUnavailableError,
    MembershipStatus,
)


class HttpMembershipLookup:
    """``GET {base}/networks/{slug}/memberships/{year}/{code}`` on the membership service."""

    def __init__(
        self, base_url: str, *, timeout: float = 2.0, client: httpx.AsyncClient | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def status(
        self, network_slug: str, year: int, municipality_code: str
    ) -> MembershipStatus | None:
        url = f"{self.base_url}/networks/{network_slug}/memberships/{year}/{municipality_code}"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise MembershipServiceUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise MembershipServiceUnavailableError(
                f"membership service said {response.status_code}"
            )
        try:
            status = response.json()["status"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MembershipServiceUnavailableError(f"unreadable answer: {exc}") from exc
        if status not in ("active", "cancelled"):
            raise MembershipServiceUnavailableError(f"unknown status {status!r}")
        return cast(MembershipStatus, status)

    async def aclose(self) -> None:
        await self._client.aclose()
