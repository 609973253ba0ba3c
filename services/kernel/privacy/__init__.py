"""Crypto-shredding of personal data in an event-sourced system.

Events are kept forever, so personal data in them (names, e-mails, notes) is never written
in clear: it is *sealed* with a data key of its own per person (AES-256-GCM), and the event
carries only the person's random id and the sealed text. Erasing a person deletes the key;
every copy of the sealed text, in event stores, snapshots, topics and backups, can then no
longer be opened by anyone, while the events themselves (seats, statuses, counts) stay.

One idea per module:

- :mod:`.seal`: sealing and opening a person's fields with their data key (pure);
- :mod:`.vault`: the key vault, one PostgreSQL database shared by every service: persons,
  their wrapped data keys, erasure, and rotation of the master key that wraps them;
- :mod:`.retention`: holds, why a person's data is still needed and until when;
- :mod:`.settings`: the vault's settings (``<SERVICE>_PRIVACY__*``).

This package knows no domain.
"""

from services.kernel.privacy.seal import ERASED, SealError, open_sealed, seal
from services.kernel.privacy.settings import DEVELOPMENT_SECRETS, PrivacySettings
from services.kernel.privacy.vault import MasterKeyError, PersonKey, Vault

__all__ = [
    "DEVELOPMENT_SECRETS",
    "ERASED",
    "MasterKeyError",
    "PersonKey",
    "PrivacySettings",
    "SealError",
    "Vault",
    "open_sealed",
    "seal",
]
