"""The key vault against a real PostgreSQL: one person per e-mail under any race, batched
round trips, erasure that cannot be undone, and retention by holds."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from services.kernel.privacy import (
    MasterKeyError,
    PrivacySettings,
    SealError,
    Vault,
    open_sealed,
    seal,
)

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
    await vault.retention.hold([(anne.person_id, "meeting:m1", NOW)])

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
    await vault.retention.hold(
        [
            (anne.person_id, "meeting:m1", NOW),
            (anne.person_id, "meeting:m2", NOW + timedelta(days=30)),
            (bo.person_id, "meeting:m1", NOW),
            (cai.person_id, "membership:knub-2022-101", None),  # held until released
        ]
    )
    assert await vault.retention.due(NOW - timedelta(seconds=1)) == []
    assert await vault.retention.due(NOW) == [bo.person_id]
    assert await vault.retention.move_holds("meeting:m1", NOW + timedelta(days=60)) == 2
    assert await vault.retention.due(NOW + timedelta(days=30)) == []
    assert sorted(await vault.retention.due(NOW + timedelta(days=60))) == sorted(
        [anne.person_id, bo.person_id]
    )


def _a_key() -> SecretStr:
    return SecretStr(base64.b64encode(os.urandom(32)).decode())


async def test_a_master_key_rotation_keeps_every_sealed_text_readable_and_erasable(
    fresh_dsn: str,
) -> None:
    old, new = _a_key(), _a_key()
    vaults: list[Vault] = []

    def vault(master: SecretStr, *previous: SecretStr) -> Vault:
        """A process's vault (its own pool, its own cache of data keys)."""
        settings = PrivacySettings(
            database_url=fresh_dsn, master_key=master, previous_master_keys=list(previous)
        )
        vaults.append(Vault(settings))
        return vaults[-1]

    try:
        people = await vault(old).persons_for([f"p{n}@kommune.dk" for n in range(3)])
        sealed = [
            (p.person_id, seal(p.person_id, p.key, {"name": f"D{n}"})) for n, p in enumerate(people)
        ]
        names = [{"name": f"D{n}"} for n in range(3)]
        # Deployed with the new key as current and the old one as previous: old rows open,
        # new persons are wrapped under the new key.
        during = vault(new, old)
        assert await during.open_many(sealed) == names
        newcomer = await during.person_for("ny@kommune.dk")
        # Without the old key, an old row is a clear error, not a wrong answer.
        with pytest.raises(MasterKeyError, match="PREVIOUS_MASTER_KEYS"):
            await vault(new).key(people[0].person_id)

        assert await during.rewrap(page=2) == (3, 1)
        assert await during.rewrap(page=2) == (0, 4), "idempotent"

        # The old key can go: every sealed text opens with the new one alone ...
        assert await vault(new).open_many(sealed) == names
        assert await vault(new).key(newcomer.person_id) == newcomer.key
        # ... and the old key alone opens nothing any more.
        with pytest.raises(MasterKeyError):
            await vault(old).key(people[1].person_id)
        # Erasure still shreds: the data key is the same one, and it is gone.
        await vault(new).erase(people[2].person_id, "request")
        assert await vault(new, old).open_many(sealed) == [*names[:2], None]
    finally:
        await asyncio.gather(*(v.close() for v in vaults))


def test_a_malformed_master_key_is_refused_without_printing_it() -> None:
    for value, reason in (("c2VjcmV0", "32 bytes"), ("not base64 at all!", "not base64")):
        with pytest.raises(ValidationError) as refused:
            PrivacySettings(previous_master_keys=[SecretStr(_a_key().get_secret_value()), value])
        assert reason in str(refused.value)
        assert value not in str(refused.value)


def _rewrap_keys(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.operator", "rewrap-keys", "--service", "events"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_operator_rewraps_the_keys_from_the_command_line(fresh_dsn: str) -> None:
    old, new = _a_key(), _a_key()
    first = Vault(PrivacySettings(database_url=fresh_dsn, master_key=old))
    try:
        await first.persons_for(["a@kommune.dk", "b@kommune.dk"])
    finally:
        await first.close()
    env = {
        "EVENTS_PRIVACY__DATABASE_URL": fresh_dsn,
        "EVENTS_PRIVACY__MASTER_KEY": new.get_secret_value(),
    }
    forgotten = await asyncio.to_thread(_rewrap_keys, env)
    assert forgotten.returncode == 1
    assert "PREVIOUS_MASTER_KEYS" in forgotten.stdout
    previous = json.dumps([old.get_secret_value()])
    done = await asyncio.to_thread(
        _rewrap_keys, {**env, "EVENTS_PRIVACY__PREVIOUS_MASTER_KEYS": previous}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rewrapped 2 data key(s); 0 already" in done.stdout
    again = await asyncio.to_thread(_rewrap_keys, env)
    assert "rewrapped 0 data key(s); 2 already" in again.stdout
    for run in (forgotten, done, again):
        assert old.get_secret_value() not in run.stdout + run.stderr
        assert new.get_secret_value() not in run.stdout + run.stderr


async def test_a_pending_hold_is_written_with_the_person_and_never_moved(vault: Vault) -> None:
    later, earlier = NOW + timedelta(days=7), NOW + timedelta(days=1)
    # Gathered into one batch: the later of two calls' pending holds wins.
    first, second = await asyncio.gather(
        vault.person_for("anne@aarhus.dk", pending_until=later),
        vault.person_for("ANNE@aarhus.dk", pending_until=earlier),
    )
    assert first == second
    await vault.person_for("anne@aarhus.dk", pending_until=earlier)  # not shortened
    await vault.person_for("anne@aarhus.dk", pending_until=later + timedelta(days=7))  # nor renewed
    await vault.person_for("bent@aarhus.dk")  # no pending hold asked for
    pool = await vault.pool()
    holds = await pool.fetch("SELECT person_id, holder, until FROM holds")
    assert [(h["person_id"], h["holder"], h["until"]) for h in holds] == [
        (first.person_id, "pending", later)
    ]
    assert await vault.retention.due(later - timedelta(seconds=1)) == []
    assert await vault.retention.due(later) == [first.person_id]
