"""A text field encrypted at rest with Fernet, keyed by ``settings.FIELD_ENCRYPTION_KEYS``.

The keys are a list, newest first, read through ``MultiFernet``: values are
always written with the newest key and read with whichever key made them, so
a key can be rotated by putting a new one in front (and, later, re-encrypting
with ``manage.py reencrypt_secrets`` before dropping the old key).

Fernet tokens are randomised, so an encrypted column cannot be searched or
compared in SQL; only ``isnull`` lookups are offered.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.lookups import IsNull

__all__ = ["DecryptionError", "EncryptedTextField", "fernet"]


class DecryptionError(ValueError):
    """A stored value could not be decrypted with any configured key.

    The message names the field, never the stored token or any key.
    """


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored.")
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    """The MultiFernet for the current settings (cached per key list, so tests can override)."""
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """Stores text as a Fernet token; Python code only ever sees the plain text.

    An empty string is stored as an empty string, so "not set" stays visible
    in the database without revealing anything about a set value.
    """

    description = "Text encrypted at rest (Fernet, rotatable keys)"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return fernet().encrypt(str(value).encode()).decode()

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if value is None or value == "":
            return value
        try:
            return fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                f"{self.model.__name__}.{self.name} cannot be decrypted with "
                "FIELD_ENCRYPTION_KEYS (was the key that wrote it removed?)."
            ) from None

    def get_lookup(self, lookup_name: str):
        # Tokens are randomised: equality or "contains" in SQL would silently match nothing.
        if lookup_name == "isnull":
            return IsNull
        return None

    def rotated(self, stored: str) -> str:
        """Re-encrypt a stored token with the newest key (for key rotation)."""
        return fernet().rotate(stored.encode()).decode()
