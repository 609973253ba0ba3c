"""Events of the notifications service: what was queued, sent or given up, per notification.

Topic ``kl.notifications.notifications``, key = notification stream id
(``notification-<notification id>``). A notification is one message (e-mail) to one
recipient; its stream holds ``NotificationQueued`` and then ``NotificationSent`` or
``NotificationFailed``. Recipients' addresses are personal data: consumers must not log them.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, get_args

from pydantic import EmailStr, Field

from contracts.base import EventPayload, registry

NOTIFICATION_TOPIC = "kl.notifications.notifications"

NotificationKind = Literal[
    "registration_confirmed",
    "registration_waitlisted",
    "registration_promoted",
    "registration_cancelled",
    "meeting_rescheduled",
    "meeting_program_changed",
    "meeting_cancelled",
    "meeting_reminder",
    "membership_welcome",
    "membership_invitation",
    "organiser_registration_cancelled",
    "organiser_waitlist_moved",
]


class _NotificationEvent(EventPayload):
    topic: ClassVar[str] = NOTIFICATION_TOPIC
    major: ClassVar[int] = 2

    notification_id: str = Field(
        description="Id of the notification (a UUID derived from its source, recipient and kind).",
        examples=["6f1d7c2e-2b8e-5a53-9d7e-0f6c1f0b2a11"],
    )
    kind: str = Field(
        description="What the notification is about. Known kinds: "
        + ", ".join(get_args(NotificationKind))
        + ". Readers must tolerate new kinds.",
        examples=["registration_confirmed"],
    )
    recipient_person_id: str = Field(
        description="The recipient's random id in the key vault.",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    recipient_sealed: str = Field(
        description="The recipient's e-mail, sealed with the person's key ({\"email\": ...}); "
        "cannot be opened once the person is erased (see docs/privacy.md).",
        examples=["v1.kq3b0Yc2d3N0cmluZy1ub3QtcmVhbC1leGFtcGxl"],
    )
    municipality_code: str | None = Field(
        default=None,
        description="Municipality the notification concerns (None for KL's organiser).",
        examples=["751"],
    )
    meeting_id: str | None = Field(
        default=None,
        description="The meeting it concerns, if any.",
        examples=["meeting-knub-2021-3"],
    )
    registration_id: str | None = Field(
        default=None, description="The registration it concerns, if any.", examples=["reg-4f1c2a"]
    )
    occurred_at: datetime = Field(
        description="When it happened, on the service's clock.",
        examples=["2021-11-22T09:15:00+00:00"],
    )


@registry.register
class NotificationQueued(_NotificationEvent):
    """A notification was decided and queued for delivery."""

    event_name: ClassVar[str] = "dk.kl.notifications.queued"

    subject: str = Field(
        description="The e-mail's subject (Danish).",
        examples=["Tilmelding bekræftet: 3. netværksmøde 2021"],
    )
    source_event_id: str | None = Field(
        default=None,
        description="The CloudEvents id of the event that caused it (None for reminders).",
        examples=["0f8e4b1a-3c51-4df0-9a57-2b1f5a6c7d80"],
    )
    calendar_method: Literal["REQUEST", "CANCEL"] | None = Field(
        default=None,
        description="The attached calendar object's METHOD, if an .ics is attached.",
        examples=["REQUEST"],
    )


@registry.register
class NotificationSent(_NotificationEvent):
    """The SMTP server accepted the notification."""

    event_name: ClassVar[str] = "dk.kl.notifications.sent"

    attempts: int = Field(ge=1, description="Delivery attempts it took.", examples=[1])
    message_id: str = Field(
        description="The e-mail's Message-ID header.",
        examples=["<6f1d7c2e-2b8e-5a53-9d7e-0f6c1f0b2a11@netvaerk.kl.dk>"],
    )


@registry.register
class NotificationFailed(_NotificationEvent):
    """The notification could not be delivered and will not be tried again."""

    event_name: ClassVar[str] = "dk.kl.notifications.failed"

    reason: str = Field(
        description="The SMTP server's answer or the error, with every e-mail address in it "
        "replaced by `<address>` (the event is kept and published; the address travels "
        "only sealed).",
        examples=["550 5.1.1 <address>: Recipient address rejected: User unknown"],
    )
    permanent: bool = Field(
        description="True: the server refused for good (5xx). False: temporary failures "
        "until the attempts ran out.",
        examples=[True],
    )
    attempts: int = Field(ge=1, description="Delivery attempts made.", examples=[1])
    smtp_code: int | None = Field(
        default=None,
        ge=100,
        le=599,
        description="The SMTP server's reply code of the last attempt; null when it did "
        "not answer (a refused connection, a timeout) or the event predates the field.",
        examples=[550],
    )
    enhanced_status: str | None = Field(
        default=None,
        pattern=r"^[245]\.\d{1,3}\.\d{1,3}$",
        description="The enhanced status code (RFC 3463) of that reply, when it gave one.",
        examples=["5.1.1"],
    )


# --- v1: retired (the recipient's e-mail travelled in clear) ----------------------------


class _NotificationEventV1(EventPayload):
    topic: ClassVar[str] = NOTIFICATION_TOPIC
    retired: ClassVar[bool] = True

    notification_id: str = Field(
        description="Id of the notification (a UUID derived from its source, recipient and kind).",
        examples=["6f1d7c2e-2b8e-5a53-9d7e-0f6c1f0b2a11"],
    )
    kind: str = Field(
        description="What the notification is about. Known kinds: "
        + ", ".join(get_args(NotificationKind))
        + ". Readers must tolerate new kinds.",
        examples=["registration_confirmed"],
    )
    recipient_email: EmailStr = Field(
        description="The recipient's e-mail. Personal data: never logged.",
        examples=["anne.jensen@aarhus.dk"],
    )
    municipality_code: str | None = Field(
        default=None,
        description="Municipality the notification concerns (None for KL's organiser).",
        examples=["751"],
    )
    meeting_id: str | None = Field(
        default=None,
        description="The meeting it concerns, if any.",
        examples=["meeting-knub-2021-3"],
    )
    registration_id: str | None = Field(
        default=None, description="The registration it concerns, if any.", examples=["reg-4f1c2a"]
    )
    occurred_at: datetime = Field(
        description="When it happened, on the service's clock.",
        examples=["2021-11-22T09:15:00+00:00"],
    )


@registry.register
class NotificationQueuedV1(_NotificationEventV1):
    """Retired (recipient e-mail in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.notifications.queued"

    subject: str = Field(
        description="The e-mail's subject (Danish).",
        examples=["Tilmelding bekræftet: 3. netværksmøde 2021"],
    )
    source_event_id: str | None = Field(
        default=None,
        description="The CloudEvents id of the event that caused it (None for reminders).",
        examples=["0f8e4b1a-3c51-4df0-9a57-2b1f5a6c7d80"],
    )
    calendar_method: Literal["REQUEST", "CANCEL"] | None = Field(
        default=None,
        description="The attached calendar object's METHOD, if an .ics is attached.",
        examples=["REQUEST"],
    )


@registry.register
class NotificationSentV1(_NotificationEventV1):
    """Retired (recipient e-mail in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.notifications.sent"

    attempts: int = Field(ge=1, description="Delivery attempts it took.", examples=[1])
    message_id: str = Field(
        description="The e-mail's Message-ID header.",
        examples=["<6f1d7c2e-2b8e-5a53-9d7e-0f6c1f0b2a11@netvaerk.kl.dk>"],
    )


@registry.register
class NotificationFailedV1(_NotificationEventV1):
    """Retired (recipient e-mail in clear): see the v2 event."""

    event_name: ClassVar[str] = "dk.kl.notifications.failed"

    reason: str = Field(
        description="The SMTP server's answer or the error, as given.",
        examples=["550 5.1.1 mailbox unavailable"],
    )
    permanent: bool = Field(
        description="True: the server refused for good (5xx). False: temporary failures "
        "until the attempts ran out.",
        examples=[True],
    )
    attempts: int = Field(ge=1, description="Delivery attempts made.", examples=[1])
