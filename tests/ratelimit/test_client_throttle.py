"""StripeClient calls its throttle right before each HTTP request, and only then."""

from __future__ import annotations

import pytest
import responses

from konnectify.platform.ratelimit import Throttled
from stripe_connector.client import StripeClient
from stripe_connector.errors import StripeError

KEY = "sk_test_51KonnectifyRateLimitKey000000000000000000000000wxyz"
API = "https://api.stripe.com"


class RecordingThrottle:
    """Records (method, path, requests already sent) on every call."""

    def __init__(self, mock: responses.RequestsMock, error: Exception | None = None) -> None:
        self.mock = mock
        self.error = error
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, method: str, path: str) -> None:
        self.calls.append((method, path, len(self.mock.calls)))
        if self.error is not None:
            raise self.error


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def client_with(throttle) -> StripeClient:
    return StripeClient(KEY, base_url=API, connect_timeout=2, read_timeout=5, throttle=throttle)


def test_it_calls_the_throttle_before_each_request(mock):
    mock.post(f"{API}/v1/customers", json={"id": "cus_1", "object": "customer"})
    mock.get(f"{API}/v1/customers/cus_1", json={"id": "cus_1", "object": "customer"})
    throttle = RecordingThrottle(mock)
    client = client_with(throttle)

    client.post("/v1/customers", {"email": "a@example.com"})
    client.get("/v1/customers/cus_1")

    assert throttle.calls == [("POST", "/v1/customers", 0), ("GET", "/v1/customers/cus_1", 1)]


def test_it_throttles_every_page_of_a_list(mock):
    first = {"object": "list", "data": [{"id": "cus_1"}], "has_more": True}
    mock.get(f"{API}/v1/customers", json=first)
    mock.get(f"{API}/v1/customers", json={"object": "list", "data": [{"id": "cus_2"}]})
    throttle = RecordingThrottle(mock)

    objects = client_with(throttle).list_all("/v1/customers")

    assert [o["id"] for o in objects] == ["cus_1", "cus_2"]
    assert throttle.calls == [("GET", "/v1/customers", 0), ("GET", "/v1/customers", 1)]


def test_without_a_throttle_it_sends_at_once(mock):
    mock.post(f"{API}/v1/customers", json={"id": "cus_1", "object": "customer"})
    client = client_with(None)

    response = client.post("/v1/customers")

    assert client.throttle is None
    assert response.data["id"] == "cus_1"
    assert len(mock.calls) == 1


def test_a_throttled_call_sends_nothing_and_raises_a_retryable_error(mock):
    throttle = RecordingThrottle(mock, Throttled("stripe:test:acct_1", 7.5, 5))

    with pytest.raises(StripeError) as caught:
        client_with(throttle).post("/v1/customers")

    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.5
    assert len(mock.calls) == 0


def test_a_request_refused_before_sending_books_no_slot(mock):
    throttle = RecordingThrottle(mock)

    with pytest.raises(ValueError):
        client_with(throttle).get("/v1/customers?email=a@example.com")

    assert throttle.calls == []
