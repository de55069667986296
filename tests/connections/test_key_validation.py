"""Saving a key validates it with Stripe; refused keys leave nothing half-saved."""

import logging

import pytest
import requests
from django.core.exceptions import ValidationError

from connections.models import Connection
from connections.services import recheck_connection, validate_and_store_key

from .conftest import API, SECRET_KEY, stripe_error

pytestmark = pytest.mark.django_db

ACCOUNT = {
    "id": "acct_1Shop",
    "object": "account",
    "email": "owner@example.com",
    "business_profile": {"name": "Shop Inc."},
    "settings": {"dashboard": {"display_name": "Shop"}},
}
LIVE_KEY = "sk_live_51FakeLiveKeyForTests00livekey"
RESTRICTED_KEY = "rk_test_51ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210restricted"


@pytest.fixture
def blank(db) -> Connection:
    return Connection.objects.create(name="New", api_version="2026-04-22.dahlia")


def test_a_working_secret_key_is_stored_with_mode_kind_account_and_hint(blank, stripe_mock):
    stripe_mock.get(f"{API}/v1/account", json=ACCOUNT)

    check = validate_and_store_key(blank, f"  {LIVE_KEY}\n")

    assert stripe_mock.calls[0].request.headers["Authorization"] == f"Bearer {LIVE_KEY}"
    blank.refresh_from_db()
    assert blank.secret_key == LIVE_KEY
    assert blank.key_hint == "sk_live_...ekey"
    assert (blank.mode, blank.key_kind) == ("live", "secret")
    assert (blank.account_id, blank.account_name) == ("acct_1Shop", "Shop")
    assert blank.status == Connection.Status.ACTIVE
    assert check.warning == ""


def test_a_restricted_key_without_account_access_is_accepted_with_a_warning(blank, stripe_mock):
    denied = stripe_error(403, "The provided key does not have the required permissions.")
    stripe_mock.get(f"{API}/v1/account", status=403, json=denied)
    stripe_mock.get(f"{API}/v1/balance", json={"object": "balance", "available": []})

    check = validate_and_store_key(blank, RESTRICTED_KEY)

    blank.refresh_from_db()
    assert blank.key_kind == "restricted"
    assert "restricted key may not read the account" in check.warning
    assert blank.status_message == check.warning
    assert blank.account_id == ""


def test_a_restricted_key_that_may_read_nothing_is_refused(blank, stripe_mock):
    denied = stripe_error(403, "The provided key does not have the required permissions.")
    for path in ("account", "balance", "customers"):
        stripe_mock.get(f"{API}/v1/{path}", status=403, json=denied)
    with pytest.raises(ValidationError, match="cannot be validated"):
        validate_and_store_key(blank, RESTRICTED_KEY)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("pk_test_51AbCdEfGhIjKlMnOp", "publishable key"),
        ("sk_test_ with spaces", "not a Stripe secret or restricted key"),
        ("whsec_abcdefghijklmnop", "not a Stripe secret or restricted key"),
        ("", "empty"),
    ],
)
def test_publishable_and_malformed_keys_are_refused_without_calling_stripe(
    blank, stripe_mock, key, problem
):
    with pytest.raises(ValidationError) as caught:
        validate_and_store_key(blank, key)
    assert problem in caught.value.messages[0]
    assert key.strip() == "" or key not in caught.value.messages[0]
    assert len(stripe_mock.calls) == 0


def test_a_key_stripe_refuses_is_not_saved(blank, stripe_mock, caplog):
    stripe_mock.get(
        f"{API}/v1/account",
        status=401,
        json=stripe_error(
            401, "Invalid API Key provided: sk_test_****ykey", "invalid_request_error"
        ),
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ValidationError) as caught:
        validate_and_store_key(blank, SECRET_KEY)
    assert "401" in caught.value.messages[0]
    assert SECRET_KEY not in caught.value.messages[0]
    assert SECRET_KEY not in caplog.text
    assert blank.secret_key == ""
    blank.refresh_from_db()
    assert (blank.secret_key, blank.key_hint, blank.mode) == ("", "", "")


def test_a_network_failure_refuses_the_key_with_a_clear_message(blank, stripe_mock):
    stripe_mock.get(f"{API}/v1/account", body=requests.ConnectTimeout("timed out"))
    with pytest.raises(ValidationError, match="Could not reach Stripe"):
        validate_and_store_key(blank, SECRET_KEY)
    blank.refresh_from_db()
    assert blank.secret_key == ""


def test_rechecking_a_revoked_key_marks_the_connection_invalid(connection, stripe_mock):
    stripe_mock.get(f"{API}/v1/account", status=401, json=stripe_error(401, "Expired API Key"))
    ok, message = recheck_connection(connection)
    assert not ok and "401" in message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INVALID
    assert "Expired API Key" in connection.status_message


def test_rechecking_during_a_network_failure_keeps_the_status(connection, stripe_mock):
    stripe_mock.get(f"{API}/v1/account", body=requests.ConnectionError("reset"))
    ok, _ = recheck_connection(connection)
    assert not ok
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert "Could not reach Stripe" in connection.status_message
