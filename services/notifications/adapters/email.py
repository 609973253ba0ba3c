"""Composing the e-mail of a queued delivery: text, HTML and the calendar attachment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from uuid import UUID


@dataclass(frozen=True)
class MailContent:
    """What a delivery row holds to become an e-mail."""

    notification_id: UUID
    recipient_email: str
    recipient_name: str | None
    subject: str
    body_text: str
    body_html: str
    ics: bytes | None
    calendar_method: str | None


def message_id(notification_id: UUID, domain: str) -> str:
    """One Message-ID per notification: a resend after a crash carries the same one."""
    return f"<{notification_id}@{domain}>"


def compose(content: MailContent, *, sender: str, domain: str, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = content.subject
    msg["From"] = sender
    msg["To"] = (
        formataddr((content.recipient_name, content.recipient_email))
        if content.recipient_name
        else str(Address(addr_spec=content.recipient_email))
    )
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(content.notification_id, domain)
    msg["Content-Language"] = "da"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(content.body_text)
    msg.add_alternative(content.body_html, subtype="html")
    if content.ics is not None:
        method = content.calendar_method or "REQUEST"
        msg.add_attachment(
            content.ics,
            maintype="text",
            subtype="calendar",
            filename="invitation.ics" if method == "REQUEST" else "cancellation.ics",
            params={"method": method, "charset": "utf-8"},
        )
    return msg
