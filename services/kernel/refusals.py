"""Refusals that carry their own problem text (RFC 9457), with no HTTP in them.

An error a person can act on says what happened in its own words: a stable ``code``
(``urn:kl:problem:<code>``), a short Danish ``title``, the Danish ``detail_da`` and the
English ``detail_en`` beside it, ``extra`` members for the answer, and ``retry_after``
(seconds) when trying again later helps. The HTTP edge gives the status
(:func:`services.kernel.http.install_refusals`): the same error can be a 404 in one API and
a 409 in another, its words stay with it.

Domain errors need not inherit :class:`Refusal` (a domain imports nothing from outside):
they only need the attributes of :class:`Refused`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol


class Refused(Protocol):
    """What the edge reads of a refusal."""

    code: str
    title: str
    detail_da: str
    detail_en: str


class Refusal(Exception):
    """Base of the kernel's and the service layers' refusals."""

    code: ClassVar[str] = "refused"
    title: ClassVar[str] = "Afvist"
    retry_after: ClassVar[str | None] = None

    def __init__(self, detail_da: str, detail_en: str, **extra: Any) -> None:
        super().__init__(detail_en)
        self.detail_da = detail_da
        self.detail_en = detail_en
        self.extra = extra
