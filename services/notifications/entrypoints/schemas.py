"""HTTP answer models of the notifications service, each with an example."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, JsonValue

from services.kernel.examples import examples

Status = Literal["queued", "sent", "failed"]

_FEED_EXAMPLE: dict[str, JsonValue] = {
    "notification_id": "6f1d7c2e-2b8e-5a53-9d7e-0f6c1f0b2a11",
    "kind": "registration_confirmed",
    "recipient_email": "anne.jensen@aarhus.dk",
    "municipality_code": "751",
    "meeting_id": "meeting-knub-2021-3",
    "registration_id": "reg-4f1c2a",
    "subject": "Tilmelding bekræftet: 3. netværksmøde 2021",
    "status": "sent",
    "attempts": 1,
    "reason": None,
    "permanent": None,
    "queued_at": "2021-11-22T09:15:00Z",
    "updated_at": "2021-11-22T09:15:02Z",
}


class FeedItem(BaseModel):
    """One notification in a feed, with where its delivery stands."""

    model_config = examples(_FEED_EXAMPLE)

    notification_id: UUID = Field(description="Id of the notification.")
    kind: str = Field(description="What it is about.", examples=["registration_confirmed"])
    recipient_email: str | None = Field(
        description="Recipient (null once the recipient is erased).",
        examples=["anne.jensen@aarhus.dk"],
    )
    municipality_code: str | None = Field(description="Municipality.", examples=["751"])
    meeting_id: str | None = Field(description="Meeting.", examples=["meeting-knub-2021-3"])
    registration_id: str | None = Field(description="Registration.", examples=["reg-4f1c2a"])
    subject: str = Field(description="Subject (Danish).", examples=["Tilmelding bekræftet: ..."])
    status: Status = Field(description="queued, sent or failed.", examples=["sent"])
    attempts: int = Field(description="Delivery attempts so far.", examples=[1])
    reason: str | None = Field(description="Why it failed, if it did.", examples=[None])
    permanent: bool | None = Field(description="Failed for good (5xx)?", examples=[None])
    queued_at: datetime = Field(description="When it was queued.")
    updated_at: datetime = Field(description="When its status last changed.")


class FeedPage(BaseModel):
    """A page of a feed, newest first."""

    model_config = examples({"items": [_FEED_EXAMPLE], "total": 1, "limit": 50, "offset": 0})

    items: list[FeedItem]
    total: int = Field(description="Items in the whole feed.", examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


class Delivery(BaseModel):
    """A delivery as the worker sees it, for operators."""

    model_config = examples(
        {
            **{k: v for k, v in _FEED_EXAMPLE.items() if k not in ("reason", "queued_at")},
            "recipient_email": "reject-x@aarhus.dk",
            "status": "failed",
            "next_attempt_at": "2021-11-22T09:15:00Z",
            "last_error": "550 5.1.1 mailbox unavailable",
            "permanent": True,
            "created_at": "2021-11-22T09:15:00Z",
            "finished_at": "2021-11-22T09:15:01Z",
        }
    )

    notification_id: UUID
    kind: str = Field(examples=["registration_confirmed"])
    recipient_email: str | None = Field(examples=["anne.jensen@aarhus.dk"])
    municipality_code: str | None = Field(examples=["751"])
    meeting_id: str | None = Field(examples=["meeting-knub-2021-3"])
    registration_id: str | None = Field(examples=["reg-4f1c2a"])
    subject: str = Field(examples=["Tilmelding bekræftet: 3. netværksmøde 2021"])
    status: Status = Field(examples=["failed"])
    attempts: int = Field(examples=[1])
    next_attempt_at: datetime = Field(description="When the worker tries next (if queued).")
    last_error: str | None = Field(examples=["550 5.1.1 mailbox unavailable"])
    permanent: bool | None = Field(examples=[True])
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(BaseModel):
    model_config = examples({"items": [], "total": 0, "limit": 50, "offset": 0})

    items: list[Delivery]
    total: int = Field(examples=[0])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])
