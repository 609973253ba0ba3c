"""The key vault against a real PostgreSQL: one person per e-mail under any race, batched
round trips, erasure that cannot be undone, and retention by holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.kernel.privacy import PrivacySettings, SealError, Vault, open_sealed, seal

NOW = datetime(2021, 12, 8, 15, 30, tzinfo=UTC)


@pytest.fixture
async def vault(fresh_dsn: str) -> AsyncIterator[Vault]:
    v = Vault(PrivacySettings(database_url=fresh_dsn))
    try:
        yield v
    finally:
        await v.close()


async def test_fifty_processes_asking_at_once_get_one_person(fresh_dsn: str) -> None:
    # Fifty vaults (as fifty processes would have), each with its own pool and no cache.
    vaults = [Vault(PrivacySettings(database_url=fresh_dsn, pool_size=1)) for _ in range(50)]
    try:
        await vaults[0].pool()  # migrate once; the race is about persons, not schemas
        found = await asyncio.gather(*(v.person_for("Anne.Jensen@aarhus.dk") for v in vaults))
    finally:
        await asyncio.gather(*(v.close() for v in vaults))
    assert len({p.person_id for p in found}) == 1
    assert len({p.key for p in found}) == 1, "the key of the row that won, for everyone"


async def test_concurrent_calls_in_one_process_share_round_trips(vault: Vault) -> None:
    found = await asyncio.gather(*(vault.person_for(f"p{n}@kommune.dk") for n in range(300)))
    assert len({p.person_id for p in found}) == 300
    assert vault.round_trips <= 3, "batched, not one round trip per call"
    again = await vault.person_for("P7@Kommune.dk")
    assert again == found[7], "the same e-mail, whatever its case: the same person"


async def test_many_emails_in_one_call_keep_their_order(vault: Vault) -> None:
    emails = ["a@x.dk", "b@x.dk", "A@x.dk", "c@x.dk"]
    found = await vault.persons_for(emails)
    assert found[0].person_id == found[2].person_id
    assert len({p.person_id for p in found}) == 3


async def test_person_ids_are_random_not_derived_from_the_email(fresh_dsn: str) -> None:
    first = Vault(PrivacySettings(database_url=fresh_dsn))
    try:
        anne = await first.person_for("anne@aarhus.dk")
        await first.erase(anne.person_id, "request")
        again = await first.person_for("anne@aarhus.dk")
    finally:
        await first.close()
    assert again.person_id != anne.person_id, "after erasure the e-mail is a new person"
    assert again.key != anne.key


async def test_after_erasure_no_key_no_digest_and_the_audit_row(vault: Vault) -> None:
    anne = await vault.person_for("anne@aarhus.dk")
    sealed = seal(anne.person_id, anne.key, {"name": "Anne"})
    assert await vault.open(anne.person_id, sealed) == {"name": "Anne"}
    await vault.hold([(anne.person_id, "meeting:m1", NOW)])

    assert await vault.erase(anne.person_id, "request") is True
    assert await vault.erase(anne.person_id, "request") is False, "idempotent"
    assert await vault.key(anne.person_id) is None
    assert await vault.open(anne.person_id, sealed) is None
    assert await vault.find("anne@aarhus.dk") is None
    assert await vault.erased(anne.person_id)
    pool = await vault.pool()
    assert await pool.fetchval("SELECT count(*) FROM persons") == 0
    assert await pool.fetchval("SELECT count(*) FROM holds") == 0
    assert await pool.fetchval("SELECT reason FROM erasures") == "request"


async def test_another_process_sees_the_erasure_once_its_cache_forgets(fresh_dsn: str) -> None:
    writer = Vault(PrivacySettings(database_url=fresh_dsn))
    reader = Vault(PrivacySettings(database_url=fresh_dsn, key_cache_s=3600))
    try:
        anne = await writer.person_for("anne@aarhus.dk")
        assert await reader.key(anne.person_id) == anne.key
        await writer.erase(anne.person_id, "request")
        assert await reader.key(anne.person_id) == anne.key, "cached (bounded in time)"
        reader.forget(anne.person_id)  # what the PersonErased subscriber does
        assert await reader.key(anne.person_id) is None
    finally:
        await writer.close()
        await reader.close()


async def test_a_tampered_seal_raises_rather_than_opening(vault: Vault) -> None:
    anne = await vault.person_for("anne@aarhus.dk")
    bo = await vault.person_for("bo@odense.dk")
    sealed = seal(anne.person_id, anne.key, {"name": "Anne"})
    with pytest.raises(SealError):
        await vault.open(bo.person_id, sealed)
    with pytest.raises(SealError):
        open_sealed(anne.person_id, bo.key, sealed)


async def test_a_person_is_due_when_every_hold_has_run_out(vault: Vault) -> None:
    anne, bo, cai = await vault.persons_for(["anne@x.dk", "bo@x.dk", "cai@x.dk"])
    await vault.hold(
        [
            (anne.person_id, "meeting:m1", NOW),
            (anne.person_id, "meeting:m2", NOW + timedelta(days=30)),
            (bo.person_id, "meeting:m1", NOW),
            (cai.person_id, "membership:knub-2022-101", None),  # held until released
        ]
    )
    assert await vault.due_for_retention(NOW - timedelta(seconds=1)) == []
    assert await vault.due_for_retention(NOW) == [bo.person_id]
    assert await vault.move_holds("meeting:m1", NOW + timedelta(days=60)) == 2
    assert await vault.due_for_retention(NOW + timedelta(days=30)) == []
    assert sorted(await vault.due_for_retention(NOW + timedelta(days=60))) == sorted(
        [anne.person_id, bo.person_id]
    )
