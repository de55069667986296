"""Repeated failed API tokens from one address are answered 429 with Retry-After."""

import pytest
from rest_framework.test import APIClient

from konnectify.platform.api.authentication import FailedTokenThrottle
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/connections/"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand (seconds)."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(FailedTokenThrottle, "timer", lambda self: now[0])
    return now


def wrong_token(address: str = "127.0.0.1", token: str = "kfy_wrong") -> int:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(URL)


def test_five_hundred_wrong_tokens_are_throttled_after_the_limit(settings, clock):
    answers = [wrong_token(token=f"kfy_guess{n}") for n in range(500)]
    limit = settings.API_TOKEN_FAILURE_LIMIT
    assert [a.status_code for a in answers[:limit]] == [401] * limit
    assert {a.status_code for a in answers[limit:]} == {429}
    throttled = answers[limit]
    assert throttled.json()["type"] == "throttled"
    assert int(throttled["Retry-After"]) == settings.API_TOKEN_FAILURE_WINDOW_SECONDS


def test_a_blocked_address_waits_even_with_a_valid_token(superuser_api, settings, clock):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        wrong_token()
    # Otherwise a 200 among the 429s would still tell a guesser which token is right.
    assert superuser_api.get(URL, REMOTE_ADDR="127.0.0.1").status_code == 429


def test_a_valid_token_from_another_address_is_unaffected(superuser_api, settings, clock):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT + 5):
        wrong_token()
    assert superuser_api.get(URL, REMOTE_ADDR="203.0.113.9").status_code == 200


def test_the_block_ends_when_the_failures_leave_the_window(superuser_api, settings, clock):
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        wrong_token()
    assert wrong_token().status_code == 429
    clock[0] += settings.API_TOKEN_FAILURE_WINDOW_SECONDS + 1
    assert wrong_token().status_code == 401
    assert superuser_api.get(URL).status_code == 200


def test_successful_requests_are_never_counted(api_user, settings, clock):
    client = token_client(api_user)
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT * 2):
        assert client.get("/api/v1/catalog/triggers/").status_code == 200
    assert wrong_token().status_code == 401


def test_a_malformed_authorization_header_counts_as_a_failure(settings, clock):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    for _ in range(settings.API_TOKEN_FAILURE_LIMIT):
        assert client.get(URL).status_code == 401
    assert client.get(URL).status_code == 429


def test_behind_a_proxy_the_forwarded_client_address_is_counted(settings, clock):
    settings.TRUSTED_PROXY_COUNT = 1
    client = APIClient(REMOTE_ADDR="10.0.0.2")
    client.credentials(HTTP_AUTHORIZATION="Bearer kfy_wrong")
    for n in range(settings.API_TOKEN_FAILURE_LIMIT):
        # A forged left-most entry changes nothing: the proxy's own entry is the client.
        client.get(URL, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 192.0.2.7")
    assert client.get(URL, HTTP_X_FORWARDED_FOR="192.0.2.7").status_code == 429
    assert client.get(URL, HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_failures_counted_in_a_committed_transaction_block_the_address(settings, clock):
    # Outside the test's rollback, as in production: the 401's rollback keeps the count.
    settings.API_TOKEN_FAILURE_LIMIT = 3
    assert [wrong_token().status_code for _ in range(4)] == [401, 401, 401, 429]


@pytest.mark.django_db(transaction=True)
def test_the_next_transactional_test_starts_with_no_failures_counted(settings, clock):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    assert wrong_token().status_code == 401
