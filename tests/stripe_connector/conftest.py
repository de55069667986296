"""Fixtures for the Stripe connector tests: a client on a fake key, HTTP mocked by ``responses``."""

import pytest
import responses

from stripe_connector.client import StripeClient

# Long enough to look real; tests search logs and errors for it.
TEST_KEY = "sk_test_51KonnectifyTestKey0000000000000000000000000000abcd"
API = "https://api.stripe.com"


@pytest.fixture
def stripe_key() -> str:
    return TEST_KEY


@pytest.fixture
def stripe_client() -> StripeClient:
    """A client for api.stripe.com with short timeouts (the HTTP side is mocked)."""
    return StripeClient(TEST_KEY, base_url=API, connect_timeout=2, read_timeout=5)


@pytest.fixture
def stripe_mock():
    """``responses`` in strict mode: every registered answer must be requested."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
