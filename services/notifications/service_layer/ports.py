"""The ports the use cases need; adapters implement them, unit tests fake them."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class DeliveryError(Exception):
    """The mail was not accepted. ``reason`` is the server's answer or the error, with no
    e-mail address in it (it is kept and published); ``smtp_code`` and ``enhanced_status``
    (RFC 3463, e.g. ``5.1.1``) are the server's codes, when it answered."""

    permanent: bool = False

    def __init__(
        self, reason: str, *, smtp_code: int | None = None, enhanced_status: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.smtp_code = smtp_code
        self.enhanced_status = enhanced_status


class TemporaryDeliveryError(DeliveryError):
    """Try again later: a 4xx answer, a refused or broken connection, a timeout."""


class PermanentDeliveryError(DeliveryError):
    """Do not try again: a 5xx answer (no such mailbox, policy refusal, ...)."""

    permanent = True


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail server; raise a :class:`DeliveryError` if refused."""
        ...
