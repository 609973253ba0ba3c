"""Who is calling, as the service layers see it: a role, a subject, and by role a
municipality code and an e-mail; and the refusal of a caller without the right.

Pure: the HTTP edge makes a :class:`Principal` of a verified token (:mod:`.auth`), and a use
case checks ownership with :meth:`Principal.acts_for` / :meth:`Principal.is_person`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.kernel.emails import same_email
from services.kernel.refusals import Refusal

Role = Literal["operator", "coordinator", "participant"]
ROLES: tuple[Role, ...] = ("operator", "coordinator", "participant")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, a subject and, by role, a municipality code and an e-mail."""

    role: Role
    subject: str
    municipality_code: str | None = None
    email: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def acts_for(self, municipality_code: str | None) -> bool:
        """An operator, or a coordinator of exactly this municipality."""
        if self.is_operator:
            return True
        return (
            self.role == "coordinator"
            and municipality_code is not None
            and self.municipality_code == municipality_code
        )

    def is_person(self, email: str | None) -> bool:
        """A participant whose token names this e-mail (the one comparison of
        :mod:`services.kernel.emails`: the vault's and the feed's)."""
        return (
            self.role == "participant"
            and email is not None
            and self.email is not None
            and same_email(self.email, email)
        )

    def __repr__(self) -> str:  # never the e-mail in a log line or a traceback
        return f"Principal(role={self.role!r}, municipality_code={self.municipality_code!r})"


class NotAllowedError(Refusal):
    """A valid caller without the right to this resource or action (403)."""

    code = "forbidden"
    title = "Ingen adgang"

    def __init__(self) -> None:
        super().__init__(
            "Du er logget ind, men din rolle giver ikke adgang til dette. Kommunale "
            "koordinatorer har adgang til egen kommune, deltagere til egne tilmeldinger.",
            "You are signed in, but your role does not allow this. Municipal coordinators "
            "may act for their own municipality, participants for their own registrations.",
        )


def allow(condition: bool) -> None:
    """Raise :class:`NotAllowedError` unless ``condition`` (an ownership check)."""
    if not condition:
        raise NotAllowedError()
