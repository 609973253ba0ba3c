"""The ports the use cases need; adapters implement them, unit tests fake them."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class DeliveryError(Exception):
    """The mail was not accepted. ``reason`` is the server's answer or the error."""

    permanent: bool = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryDeliveryError(DeliveryError):
    """Try again later: a 4xx answer, a refused or broken connection, a timeout."""


class PermanentDeliveryError(DeliveryError):
    """Do not try again: a 5xx answer (no such mailbox, policy refusal, ...)."""

    permanent = True


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail server; raise a :class:`DeliveryError` if refused."""
        ...
