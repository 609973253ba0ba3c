"""The ports the use cases need; adapters implement them, unit tests fake them."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class OutgoingMail:
    """One message as the SMTP server gets it: the envelope and the message's bytes."""

    mail_from: str
    rcpt_to: str
    data: bytes


class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Hand the message to the mail server; raise a :class:`DeliveryError` if refused."""
        ...

    async def close(self) -> None:
        """Let go of whatever the mailer keeps open (connections); it may be used again."""
        ...
