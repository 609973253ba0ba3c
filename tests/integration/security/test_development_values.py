"""A service process started without the development flag refuses the public development
key, pepper and issuer, and says which settings to set (never printing a value)."""

from __future__ import annotations

import asyncio
import base64

import pytest

from services.kernel.privacy import PrivacySettings
from services.operator.processes import ServiceNotReadyError, ServiceProcess
from tests.support.ports import free_port


@pytest.mark.parametrize("service", ["membership", "notifications"])
async def test_a_service_without_the_development_flag_refuses_to_start(
    service: str, fresh_dsn: str
) -> None:
    prefix = service.upper()
    # A database it could use: without the refusal, the service would start and be ready.
    process = ServiceProcess(
        service,
        free_port(),
        {
            f"{prefix}_DEVELOPMENT": "false",
            f"{prefix}_DATABASE_URL": fresh_dsn,
            f"{prefix}_AUTH__ISSUER": "http://127.0.0.1:9400",
            f"{prefix}_AUTH__JWKS_URL": "http://127.0.0.1:9400/jwks.json",
        },
    )
    process.start()
    try:
        with pytest.raises(ServiceNotReadyError) as refused:
            await asyncio.to_thread(process.wait_ready, 60)
    finally:
        process.stop()
    said = str(refused.value)
    assert "exited with" in said, "it stopped at once, not after a timeout"
    for name in ("PRIVACY__MASTER_KEY", "PRIVACY__PEPPER", "AUTH__ISSUER"):
        assert f"{prefix}_{name}" in said
    assert f"{prefix}_DEVELOPMENT=true" in said
    key = PrivacySettings().master_key.get_secret_value()
    assert key not in said
    assert base64.b64decode(key).decode() not in said
