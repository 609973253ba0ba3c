"""Sending mail over SMTP with aiosmtplib, telling temporary failures from permanent ones."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from services.notifications.adapters.smtp_reply import SmtpReply, smtp_reply
from services.notifications.service_layer.ports import (
    DeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)


class SmtpMailer:
    """One SMTP connection per message: simple, and nothing to keep alive between bursts."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        recipient = str(message.get("To", "")) or None
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # One recipient per message: its answer decides.
            replies = [smtp_reply(r.code, r.message, r.recipient) for r in exc.recipients]
            if not replies:
                raise classify(smtp_reply(451, "recipient refused")) from exc
            decisive = min(replies, key=lambda r: r.code or 451)
            raise classify(decisive, "; ".join(r.reason for r in replies)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise classify(smtp_reply(exc.code, exc.message, recipient)) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            reply = smtp_reply(None, f"{type(exc).__name__}: {exc}", recipient)
            raise TemporaryDeliveryError(reply.reason) from exc


def classify(reply: SmtpReply, reason: str | None = None) -> DeliveryError:
    """5xx is permanent; anything else (4xx, odd codes) is worth another try. The error
    carries the reply's codes and its redacted words (``reason``: several replies')."""
    error = (
        PermanentDeliveryError
        if reply.code is not None and 500 <= reply.code < 600
        else (TemporaryDeliveryError)
    )
    return error(
        reason or reply.reason, smtp_code=reply.code, enhanced_status=reply.enhanced_status
    )
