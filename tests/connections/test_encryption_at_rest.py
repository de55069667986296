"""Keys and signing secrets are encrypted at rest, and the encryption keys can rotate."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection as db_connection

from connections.fields import DecryptionError
from connections.models import Connection

from .conftest import SECRET_KEY, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def raw_columns(connection: Connection) -> tuple[str, str]:
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_key, webhook_secret FROM connections_connection WHERE id = %s",
            [connection.id.hex if db_connection.vendor == "sqlite" else connection.id],
        )
        return cursor.fetchone()


def test_the_database_column_holds_a_token_not_the_key(connection):
    stored_key, stored_secret = raw_columns(connection)
    assert stored_key and SECRET_KEY not in stored_key
    assert stored_secret and WEBHOOK_SECRET not in stored_secret
    assert "ykey" not in stored_key
    connection.refresh_from_db()
    assert connection.secret_key == SECRET_KEY


def test_values_written_with_an_older_key_still_decrypt_after_a_new_key_is_added(
    connection, settings
):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    assert Connection.objects.get().secret_key == SECRET_KEY


def test_reencrypting_moves_every_secret_to_the_newest_key(connection, settings):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]

    call_command("reencrypt_secrets", verbosity=0)

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is dropped
    fresh = Connection.objects.get()
    assert fresh.secret_key == SECRET_KEY
    assert fresh.webhook_secret == WEBHOOK_SECRET


def test_a_value_no_configured_key_can_read_fails_with_a_message_naming_the_field(
    connection, settings
):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError, match=r"Connection\.secret_key") as caught:
        Connection.objects.get()
    assert SECRET_KEY not in str(caught.value)


def test_encrypted_fields_cannot_be_searched_by_value(connection):
    with pytest.raises(FieldError, match="Unsupported lookup 'exact' for EncryptedTextField"):
        list(Connection.objects.filter(secret_key=SECRET_KEY))
    assert Connection.objects.filter(secret_key__isnull=False).count() == 1
