"""Sending mail over SMTP with aiosmtplib, telling temporary failures from permanent ones."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

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
            refusals = list(exc.recipients)
            codes = [r.code for r in refusals]
            reason = "; ".join(f"{r.code} {r.message}" for r in refusals)
            raise classify(min(codes) if codes else 451, reason) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise classify(exc.code, f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from exc


def classify(code: int, reason: str) -> DeliveryError:
    """5xx is permanent; anything else (4xx, odd codes) is worth another try."""
    if 500 <= code < 600:
        return PermanentDeliveryError(reason)
    return TemporaryDeliveryError(reason)
