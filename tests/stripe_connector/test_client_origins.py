"""Where the key may go: only to a Stripe API origin the environment allows."""

import pytest
import requests

from stripe_connector.client import StripeClient, allowed_api_origins
from stripe_connector.errors import APIBaseNotAllowed, StripeError

from .conftest import API, TEST_KEY

STAND_IN = "http://127.0.0.1:8420"


@pytest.fixture
def environment(settings):
    """STRIPE_API_BASE is Stripe; a stand-in is allowed as well."""
    settings.STRIPE_API_BASE = API
    settings.STRIPE_API_ALLOWED_BASES = [API, STAND_IN]
    return settings


def test_the_default_origin_and_the_listed_ones_are_allowed(environment):
    environment.STRIPE_API_ALLOWED_BASES = [f"{STAND_IN}/", "HTTPS://Stripe.Internal.Example:443"]
    assert allowed_api_origins() == {API, STAND_IN, "https://stripe.internal.example"}


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:9999",  # a listener that is not Stripe
        "http://127.0.0.1:8421",  # another port of an allowed host
        "https://127.0.0.1:8420",  # another scheme of an allowed origin
        "http://api.stripe.com",  # plain http to Stripe: not what the environment says
        "https://api.stripe.com.evil.example",
    ],
)
def test_it_refuses_an_origin_the_environment_does_not_list(environment, stripe_mock, base):
    with pytest.raises(APIBaseNotAllowed, match="not one the environment allows"):
        StripeClient(TEST_KEY, base_url=base)
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("http://127.0.0.1:8420/healthz#", "no '\\?' query, '#' fragment"),
        ("http://127.0.0.1:8420#", "no '\\?' query, '#' fragment"),
        ("http://127.0.0.1:8420?", "no '\\?' query, '#' fragment"),
        ("http://127.0.0.1:8420/?x=", "no '\\?' query, '#' fragment"),
        ("https://user:pw@api.stripe.com", "must not contain user info"),
        ("https://api.stripe.com@127.0.0.1:8420", "must not contain user info"),
        ("https://api.stripe.com/v1", "without a path"),
        ("http://127.0.0.1:8420/healthz", "without a path"),
        ("https://api.stripe.com\\@evil.example", "'\\\\'"),
        ("https://api.stripe.com:99999", "invalid port"),
        ("https://api.stri%70e.com", "invalid host name"),
        ("https://api.stripe.com /", "spaces or control characters"),
        ("http://[::1", "is not a valid URL"),
    ],
)
def test_it_refuses_a_base_that_is_not_a_bare_origin(environment, stripe_mock, base, message):
    with pytest.raises(APIBaseNotAllowed, match=message) as caught:
        StripeClient(TEST_KEY, base_url=base)
    assert "pw" not in str(caught.value)
    assert len(stripe_mock.calls) == 0


def test_the_refusal_is_a_permanent_stripe_error_and_a_value_error(environment):
    with pytest.raises(APIBaseNotAllowed) as caught:
        StripeClient(TEST_KEY, base_url="http://127.0.0.1:9999")
    assert isinstance(caught.value, StripeError) and isinstance(caught.value, ValueError)
    assert (caught.value.retryable, caught.value.type) == (False, "api_base_not_allowed")


def test_an_explicit_allowed_list_replaces_the_environments(environment, stripe_mock):
    client = StripeClient(
        TEST_KEY, base_url="http://127.0.0.1:7000", allowed_bases=["http://127.0.0.1:7000/"]
    )
    stripe_mock.get("http://127.0.0.1:7000/v1/balance", json={"object": "balance"})
    assert client.get("/v1/balance").data == {"object": "balance"}
    with pytest.raises(APIBaseNotAllowed):
        StripeClient(TEST_KEY, base_url=API, allowed_bases=[STAND_IN])


def test_it_checks_the_final_url_again_before_sending_the_key(environment, stripe_mock):
    client = StripeClient(TEST_KEY, base_url=STAND_IN)
    client.base_url = "http://127.0.0.1:9999"  # however it got there, the key must not follow
    with pytest.raises(APIBaseNotAllowed, match="not one the environment allows"):
        client.get("/v1/account")
    client.base_url = f"{STAND_IN}/healthz#"
    with pytest.raises(APIBaseNotAllowed, match="would not call /v1/account"):
        client.get("/v1/account")
    assert len(stripe_mock.calls) == 0


def test_an_origin_removed_from_the_environment_is_refused_by_a_client_made_afterwards(
    environment, stripe_mock
):
    StripeClient(TEST_KEY, base_url=STAND_IN)
    environment.STRIPE_API_ALLOWED_BASES = [API]
    with pytest.raises(APIBaseNotAllowed):
        StripeClient(TEST_KEY, base_url=STAND_IN)
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize("path", ["/v1/../healthz", "/v1/./x", "/v1\\..\\x", "/v1/x\x00"])
def test_it_refuses_a_path_that_would_leave_the_api_namespace(stripe_client, stripe_mock, path):
    with pytest.raises(ValueError, match="Stripe path must"):
        stripe_client.get(path)
    assert len(stripe_mock.calls) == 0


def test_the_action_path_is_the_request_path_on_the_allowed_origin(environment):
    """No base can swallow the path: the prepared request goes to exactly base + path."""
    sent = []

    class Recorder(requests.Session):
        def send(self, request, **kwargs):
            sent.append(request.url)
            raise requests.ConnectionError("not sent")

    client = StripeClient(TEST_KEY, base_url=f"{STAND_IN}/", session=Recorder())
    with pytest.raises(StripeError):
        client.get("/v1/customers/cus_1")
    assert sent == [f"{STAND_IN}/v1/customers/cus_1"]
