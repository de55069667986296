"""Re-encrypt every encrypted field with the newest FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keeping the old one),
deploy, run this command, then drop the old key.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from connections.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt Stripe keys and webhook secrets with the newest encryption key."

    def handle(self, *args, **options) -> None:
        for model in apps.get_models():
            names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if names:
                count = self.reencrypt(model, names)
                self.stdout.write(f"{model._meta.label}: {count} row(s) re-encrypted.")

    def reencrypt(self, model, names: list[str]) -> int:
        """Read (decrypting with any key) and write back (encrypting with the newest)."""
        count = 0
        with transaction.atomic():
            for pk, *values in model._default_manager.values_list("pk", *names).iterator():
                model._default_manager.filter(pk=pk).update(**dict(zip(names, values, strict=True)))
                count += 1
        return count
