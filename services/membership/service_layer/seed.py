"""The network every installation starts with: KNUB, seeded idempotently at start-up."""

from __future__ import annotations

import structlog

from services.kernel.clock import Clock
from services.membership.domain.errors import NetworkExistsError
from services.membership.service_layer.handlers import create_network
from services.membership.service_layer.ports import Streams

log = structlog.get_logger(__name__)

KNUB_SLUG = "knub"
KNUB_NAME = "Kommunernes Netværk for Udsatte Boligområder"
KNUB_DESCRIPTION = (
    "Et netværk for kommunale medarbejdere og mellemledere, der arbejder med udsatte "
    "boligområder. Netværket har fokus på udvikling af udsatte boligområder og "
    "parallelsamfundsaftalernes nye regler og love, og skaber rammen for, at "
    "medlemskommunerne kan sparre med hinanden om succesfulde områdeindsatser, "
    "regelfortolkning og brugbare redskaber på tværs af fagområder og kommunegrænser. "
    "Netværket henvender sig til kommuner, der arbejder med bosætning, fysiske omdannelser "
    "og boligsociale indsatser i forebyggelsesområder, udsatte boligområder, "
    "parallelsamfund og omdannelsesområder. Formen er dialogbaseret med fokus på "
    "erfaringsudveksling og netværksskabelse."
)
KNUB_YEARLY_FEE_DKK = 7500


async def seed_networks(streams: Streams, clock: Clock) -> None:
    """Create KNUB unless it exists; safe to run by every instance at every start."""
    try:
        _, created = await create_network(
            streams,
            clock,
            slug=KNUB_SLUG,
            name=KNUB_NAME,
            description=KNUB_DESCRIPTION,
            yearly_fee_dkk=KNUB_YEARLY_FEE_DKK,
        )
    except NetworkExistsError:
        created = False  # an operator's version of KNUB stands
    log.info("networks seeded", created=created, slug=KNUB_SLUG)
