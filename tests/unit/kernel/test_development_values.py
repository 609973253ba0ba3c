"""Outside development a service refuses the public development key, pepper and issuer.

The key vault's development master key and pepper are written in the repository, and the
development issuer gives any role to anyone: a service that ran with them outside a
developer's machine would protect nobody. They are accepted only with
``<PREFIX>_DEVELOPMENT=true``, which the local stack, `make run` and the tests set.
"""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError

from services.events.config import Settings as EventsSettings
from services.kernel.auth import AuthSettings, is_development_issuer
from services.kernel.privacy import PrivacySettings
from services.kernel.settings import ServiceSettings
from services.membership.config import Settings as MembershipSettings
from services.notifications.config import Settings as NotificationsSettings

OWN_KEY = base64.b64encode(bytes(range(32))).decode()
OWN_PEPPER = base64.b64encode(bytes(range(32, 64))).decode()
REAL_ISSUER = AuthSettings(
    issuer="https://login.kl.dk", jwks_url="https://login.kl.dk/.well-known/jwks.json"
)
OWN_VAULT = PrivacySettings(master_key=SecretStr(OWN_KEY), pepper=SecretStr(OWN_PEPPER))
SETTINGS = [MembershipSettings, EventsSettings, NotificationsSettings]


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_defaults_are_refused_outside_development(settings: type[ServiceSettings]) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(development=False)
    prefix = settings.model_config["env_prefix"]
    message = str(refused.value)
    for name in ("PRIVACY__MASTER_KEY", "PRIVACY__PEPPER", "AUTH__ISSUER", "AUTH__JWKS_URL"):
        assert f"{prefix}{name}" in message
    assert base64.b64decode(PrivacySettings().master_key.get_secret_value()).decode() not in (
        message
    )
    assert PrivacySettings().master_key.get_secret_value() not in message


@pytest.mark.parametrize("settings", SETTINGS)
def test_own_secrets_and_a_real_issuer_are_accepted(settings: type[ServiceSettings]) -> None:
    assert not settings(development=False, privacy=OWN_VAULT, auth=REAL_ISSUER).development


def test_each_development_value_alone_is_refused() -> None:
    dev_key = PrivacySettings().master_key
    cases = {
        "EVENTS_PRIVACY__MASTER_KEY": {
            "privacy": OWN_VAULT.model_copy(update={"master_key": dev_key})
        },
        "EVENTS_PRIVACY__PEPPER": {"privacy": PrivacySettings(master_key=SecretStr(OWN_KEY))},
        "EVENTS_PRIVACY__PREVIOUS_MASTER_KEYS[0]": {
            "privacy": OWN_VAULT.model_copy(update={"previous_master_keys": [dev_key]})
        },
        "EVENTS_AUTH__ISSUER": {
            "auth": AuthSettings(issuer="http://127.0.0.1:9410", jwks={"keys": []})
        },
        "EVENTS_AUTH__JWKS_URL": {
            "auth": AuthSettings(issuer="https://login.kl.dk", jwks_url="http://localhost:9400/j")
        },
    }
    for name, override in cases.items():
        values = {"privacy": OWN_VAULT, "auth": REAL_ISSUER, **override}
        with pytest.raises(ValidationError, match=name.replace("[", r"\[").replace("]", r"\]")):
            EventsSettings(development=False, **values)
        assert EventsSettings(development=True, **values).development


def test_the_development_issuer_is_plain_http_on_loopback() -> None:
    for url in ("http://127.0.0.1:9400", "http://localhost:9410/", "http://[::1]:9400"):
        assert is_development_issuer(url), url
    for url in ("https://login.kl.dk", "https://127.0.0.1:9400", "http://login.kl.dk", None):
        assert not is_development_issuer(url), url


def test_a_pepper_that_is_not_base64_of_16_bytes_is_refused() -> None:
    for bad in ("CHANGE-ME", base64.b64encode(b"short").decode()):
        with pytest.raises(ValidationError, match="pepper"):
            PrivacySettings(pepper=SecretStr(bad))
