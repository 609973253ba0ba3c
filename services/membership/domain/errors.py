"""What the domain refuses, and why. Each error carries what a person needs to act."""

from __future__ import annotations


class MembershipDomainError(Exception):
    """Base of every refusal of the membership domain."""


class InvalidEanError(MembershipDomainError):
    """The EAN location number is not 13 digits with a valid GS1 check digit."""

    def __init__(self, ean: str) -> None:
        super().__init__(f"invalid EAN location number {ean!r}")
        self.ean = ean


class YearInPastError(MembershipDomainError):
    """The membership year has already ended."""

    def __init__(self, year: int, current_year: int) -> None:
        super().__init__(f"year {year} is before the current year {current_year}")
        self.year = year
        self.current_year = current_year


class YearTooFarAheadError(MembershipDomainError):
    """The membership year is further ahead than one can sign up for."""

    def __init__(self, year: int, latest_year: int) -> None:
        super().__init__(f"year {year} is after the latest open year {latest_year}")
        self.year = year
        self.latest_year = latest_year


class MembershipCancelledError(MembershipDomainError):
    """The membership is cancelled; it cannot be joined again, renewed or changed."""

    def __init__(self, membership_id: str) -> None:
        super().__init__(f"membership {membership_id} is cancelled")
        self.membership_id = membership_id


class AlreadyCancelledError(MembershipCancelledError):
    """Cancelling a membership that is already cancelled."""


class NetworkExistsError(MembershipDomainError):
    """A network with this slug exists with other details."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"network {slug!r} exists with other details")
        self.slug = slug


class MembershipNotFoundError(MembershipDomainError, LookupError):
    """A command on a membership that does not exist."""

    def __init__(self, membership_id: str | None) -> None:
        super().__init__(f"membership {membership_id or ''} does not exist")
        self.membership_id = membership_id


class UnknownNetworkError(MembershipDomainError, LookupError):
    """No network has this slug."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"no network {slug!r}")
        self.slug = slug


class UnknownMunicipalityError(MembershipDomainError, LookupError):
    """No municipality has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"no municipality with code {code!r}")
        self.code = code
