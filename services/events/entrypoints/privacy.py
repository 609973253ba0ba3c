"""Operator routes of privacy: erase a person (GDPR art. 17), operators only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, EmailStr, Field, model_validator

from services.events.entrypoints.dependencies import Wired
from services.events.service_layer.erasure import UnknownPersonError
from services.kernel.auth import Operator
from services.kernel.examples import examples
from services.kernel.http import ProblemError


class ErasureRequest(BaseModel):
    """Whom to erase: by e-mail (the usual request) or by the person id from an event."""

    model_config = examples({"email": "anne.jensen@aarhus.dk"}, extra="forbid")

    email: EmailStr | None = None
    person_id: str | None = Field(
        default=None, min_length=8, max_length=80, pattern=r"^person-[0-9a-f]{32}$"
    )

    @model_validator(mode="after")
    def _one_of(self) -> ErasureRequest:
        if (self.email is None) == (self.person_id is None):
            raise ValueError("give either email or person_id")
        return self


class ErasureResponse(BaseModel):
    """The person is erased: their sealed data can no longer be opened anywhere."""

    model_config = examples(
        {
            "person_id": "person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f",
            "status": "erased",
            "published": True,
        }
    )

    person_id: str
    status: Literal["erased"] = "erased"
    published: bool = Field(
        description="True: erased now. False: had been erased before (nothing new happened)."
    )


router = APIRouter(tags=["privacy"])


@router.post(
    "/persons/erasures",
    status_code=202,
    response_model=ErasureResponse,
    summary="Erase a person's personal data everywhere (operators)",
    description="Deletes the person's key in the vault, so every sealed copy of their "
    "name, e-mail, job title and note (event store, topics, snapshots) can no longer be "
    "opened, and publishes dk.kl.privacy.person_erased; every service then shows the "
    "person as erased. Seats, statuses and counts stay. 404: the vault knows no such "
    "e-mail (nothing is echoed back).",
)
async def erase(_: Operator, body: ErasureRequest, wired: Wired) -> ErasureResponse:
    erasure = wired.erasure
    person_id = body.person_id
    if person_id is None:
        assert body.email is not None
        person_id = await erasure.vault.find(str(body.email))
    try:
        if person_id is None:
            raise UnknownPersonError("by e-mail")
        published = await erasure.erase(person_id, "request")
    except UnknownPersonError:
        raise ProblemError(
            404,
            "person-not-found",
            "Personen findes ikke",
            "Der er ingen personoplysninger om denne person (eller de er slettet).",
            "There is no personal data about this person (or it was erased).",
        ) from None
    return ErasureResponse(person_id=person_id, published=published)
