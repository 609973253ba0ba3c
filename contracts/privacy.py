"""Events of privacy: a person's personal data was erased (crypto-shredded).

Topic ``kl.privacy.persons``, key = person id. Published by the events service (which runs
the erasure endpoint and the retention sweeper); every service and every subscriber of the
other topics reacts by replacing what it holds of the person with an "erased" marker.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import EventPayload, registry

PRIVACY_TOPIC = "kl.privacy.persons"


@registry.register
class PersonErased(EventPayload):
    """A person's data key was deleted: their sealed data can never be opened again.

    Consumers replace what they hold of the person (names, e-mails, notes) with an erased
    marker and keep everything else (seats, statuses, counts). Nothing personal is in here.
    """

    event_name: ClassVar[str] = "dk.kl.privacy.person_erased"
    topic: ClassVar[str] = PRIVACY_TOPIC

    person_id: str = Field(
        description="Random id of the erased person in the key vault.",
        examples=["person-3f0c9a1e2b7d4c6a8e5f1a2b3c4d5e6f"],
    )
    reason: Literal["request", "retention"] = Field(
        description="An operator's erasure on request, or the retention period ran out.",
        examples=["request"],
    )
    occurred_at: datetime = Field(description="When it happened, on the service's clock.")
