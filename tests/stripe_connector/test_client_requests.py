"""What the client sends: URL, query or form body, Stripe's headers; and what it returns."""

import logging
import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from stripe_connector.client import (
    DEFAULT_API_VERSION,
    StripeClient,
    StripeResponse,
    shared_session,
)

from .conftest import API, TEST_KEY

CUSTOMER = {"id": "cus_123", "object": "customer", "email": "jenny@example.com", "name": "Zoë"}


def query_of(call) -> str:
    return urlsplit(call.request.url).query


def test_the_pinned_api_version_is_the_products_one():
    assert DEFAULT_API_VERSION == "2026-04-22.dahlia"


def test_a_get_sends_auth_version_and_the_query_string_but_no_idempotency_key(
    stripe_client, stripe_mock
):
    stripe_mock.get(f"{API}/v1/customers/cus_123", json=CUSTOMER, headers={"Request-Id": "req_1"})
    response = stripe_client.get("/v1/customers/cus_123", {"expand": ["default_source"]})
    assert response == StripeResponse(data=CUSTOMER, request_id="req_1", http_status=200)
    [call] = stripe_mock.calls
    assert call.request.method == "GET"
    assert query_of(call) == "expand%5B0%5D=default_source"
    assert call.request.body is None
    assert call.request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert call.request.headers["Stripe-Version"] == "2026-04-22.dahlia"
    assert "Idempotency-Key" not in call.request.headers


def test_a_post_sends_a_form_body_and_the_callers_idempotency_key(stripe_client, stripe_mock):
    stripe_mock.post(f"{API}/v1/customers", json=CUSTOMER, headers={"Request-Id": "req_2"})
    params = {"email": "jenny@example.com", "metadata": {"plan": "pro"}, "tax_exempt": None}
    response = stripe_client.post("/v1/customers", params, idempotency_key="step-42-attempt")
    assert response.data == CUSTOMER
    assert response.idempotency_key == "step-42-attempt"
    [call] = stripe_mock.calls
    assert call.request.body == "email=jenny%40example.com&metadata%5Bplan%5D=pro"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.headers["Idempotency-Key"] == "step-42-attempt"
    assert call.request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert call.request.headers["Stripe-Version"] == DEFAULT_API_VERSION
    assert query_of(call) == ""


def test_every_post_without_a_key_gets_a_fresh_uuid4(stripe_client, stripe_mock):
    stripe_mock.post(f"{API}/v1/customers", json=CUSTOMER)
    stripe_mock.post(f"{API}/v1/customers", json=CUSTOMER)
    first = stripe_client.post("/v1/customers").idempotency_key
    second = stripe_client.request("post", "/v1/customers").idempotency_key
    sent = [call.request.headers["Idempotency-Key"] for call in stripe_mock.calls]
    assert sent == [first, second]
    assert first != second
    assert all(uuid.UUID(key).version == 4 for key in sent)


def test_a_delete_sends_params_in_the_query_string_without_idempotency(stripe_client, stripe_mock):
    deleted = {"id": "sub_1", "object": "subscription", "status": "canceled"}
    stripe_mock.delete(f"{API}/v1/subscriptions/sub_1", json=deleted)
    response = stripe_client.delete("/v1/subscriptions/sub_1", {"invoice_now": True})
    assert response.data == deleted
    [call] = stripe_mock.calls
    assert query_of(call) == "invoice_now=true"
    assert call.request.body is None
    assert "Idempotency-Key" not in call.request.headers


def test_an_idempotency_key_given_for_a_get_is_not_sent(stripe_client, stripe_mock):
    stripe_mock.get(f"{API}/v1/customers/cus_123", json=CUSTOMER)
    response = stripe_client.request("GET", "/v1/customers/cus_123", idempotency_key="step-1")
    assert response.idempotency_key is None
    assert "Idempotency-Key" not in stripe_mock.calls[0].request.headers


def test_an_overlong_idempotency_key_is_refused_before_sending(stripe_client, stripe_mock):
    with pytest.raises(ValueError, match="at most 255 characters"):
        stripe_client.post("/v1/customers", idempotency_key="k" * 256)
    assert len(stripe_mock.calls) == 0


def test_the_base_url_can_point_at_a_fake_the_environment_allows(settings, stripe_mock):
    settings.STRIPE_API_ALLOWED_BASES = ["http://127.0.0.1:8420"]
    client = StripeClient(TEST_KEY, base_url="http://127.0.0.1:8420/")
    stripe_mock.get("http://127.0.0.1:8420/v1/account", json={"id": "acct_1"})
    assert client.get("/v1/account").data == {"id": "acct_1"}
    assert stripe_mock.calls[0].request.url == "http://127.0.0.1:8420/v1/account"


def test_base_url_and_timeouts_default_to_settings(settings, stripe_mock):
    settings.STRIPE_API_BASE = "https://stripe.internal.example"
    settings.STRIPE_CONNECT_TIMEOUT = 3
    settings.STRIPE_READ_TIMEOUT = 40
    client = StripeClient(TEST_KEY)
    assert (client.base_url, client.timeout) == ("https://stripe.internal.example", (3, 40))
    stripe_mock.get("https://stripe.internal.example/v1/balance", json={"object": "balance"})
    assert client.get("/v1/balance").data == {"object": "balance"}


def test_the_timeouts_reach_requests(stripe_client, stripe_mock):
    stripe_mock.get(f"{API}/v1/balance", json={"object": "balance"})
    stripe_client.get("/v1/balance")
    assert stripe_mock.calls[0].request.req_kwargs["timeout"] == (2, 5)


def test_a_client_can_pin_another_api_version(stripe_mock):
    client = StripeClient(TEST_KEY, api_version="2025-03-31.basil", base_url=API)
    stripe_mock.get(f"{API}/v1/balance", json={"object": "balance"})
    client.get("/v1/balance")
    assert stripe_mock.calls[0].request.headers["Stripe-Version"] == "2025-03-31.basil"


def test_an_empty_api_version_falls_back_to_the_pinned_one():
    assert StripeClient(TEST_KEY, api_version="", base_url=API).api_version == DEFAULT_API_VERSION


def test_it_logs_one_line_per_request_without_params_or_key(stripe_client, stripe_mock, caplog):
    caplog.set_level(logging.DEBUG)
    stripe_mock.get(f"{API}/v1/customers", json={"data": []}, headers={"Request-Id": "req_77"})
    stripe_client.get("/v1/customers", {"email": "jenny@example.com"})
    [record] = [r for r in caplog.records if r.name == "stripe_connector.client"]
    assert record.levelno == logging.INFO
    assert re.fullmatch(
        r"Stripe GET /v1/customers -> 200 in \d+ ms \(request req_77, sk_test_\.\.\.abcd\)",
        record.getMessage(),
    )
    assert "jenny" not in caplog.text
    assert TEST_KEY not in caplog.text


def test_repr_shows_only_the_masked_key(stripe_client):
    text = repr(stripe_client)
    assert text == (
        "<StripeClient sk_test_...abcd api_version=2026-04-22.dahlia base_url=https://api.stripe.com>"
    )
    assert TEST_KEY not in str(vars(stripe_client))
    assert TEST_KEY not in str(stripe_client)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "HEAD"])
def test_it_refuses_methods_stripe_does_not_use(stripe_client, stripe_mock, method):
    with pytest.raises(ValueError, match="Unsupported HTTP method"):
        stripe_client.request(method, "/v1/customers")


@pytest.mark.parametrize(
    "path", ["v1/customers", "//evil.example/v1", "/v1/customers?email=x", "/v1/a b", ""]
)
def test_it_refuses_a_path_that_is_not_a_plain_api_path(stripe_client, stripe_mock, path):
    with pytest.raises(ValueError, match="Stripe path must"):
        stripe_client.get(path)
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "api.stripe.com"}, "'api.stripe.com' must start with https://"),
        ({"connect_timeout": -1}, "connect_timeout must be a positive"),
        ({"read_timeout": -0.5}, "read_timeout must be a positive"),
    ],
)
def test_it_refuses_a_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StripeClient(TEST_KEY, **kwargs)


def test_clients_share_this_threads_pooled_session_unless_given_one():
    own = requests.Session()
    first = StripeClient(TEST_KEY, base_url=API)
    second = StripeClient(TEST_KEY, base_url=API)
    assert first.session is second.session is shared_session()
    assert StripeClient(TEST_KEY, base_url=API, session=own).session is own


def test_the_shared_session_keeps_no_cookies(stripe_client, stripe_mock):
    headers = {"Set-Cookie": "tracker=1; Domain=api.stripe.com; Path=/"}
    stripe_mock.get(f"{API}/v1/balance", json={"object": "balance"}, headers=headers)
    stripe_mock.get(f"{API}/v1/balance", json={"object": "balance"})
    stripe_client.get("/v1/balance")
    stripe_client.get("/v1/balance")
    assert "Cookie" not in stripe_mock.calls[1].request.headers
