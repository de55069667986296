"""Retrieve Event, Get Account (own or connected) and the generic Stripe API request."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError
from tests.stripe_connector.data import assert_action_round_trip, stripe_object

EVENT = stripe_object("event")
ACCOUNT = stripe_object("account")
REFUND = {"id": "re_1", "object": "refund", "amount": 500, "status": "succeeded"}

CASES = [
    pytest.param(
        "retrieve_event",
        {"id": EVENT["id"]},
        "GET",
        f"/v1/events/{EVENT['id']}",
        [],
        EVENT,
        id="retrieve_event",
    ),
    pytest.param(
        "get_account",
        {},
        "GET",
        "/v1/account",
        [],
        ACCOUNT,
        id="get_account_without_id_reads_the_own_account",
    ),
    pytest.param(
        "get_account",
        {"id": "acct_1PgafTB7WZ01zgkW", "expand": ["external_accounts"]},
        "GET",
        "/v1/accounts/acct_1PgafTB7WZ01zgkW",
        [("expand[0]", "external_accounts")],
        ACCOUNT,
        id="get_account_with_id_reads_a_connected_account",
    ),
    pytest.param(
        "stripe_api_request",
        {
            "method": "POST",
            "path": "/v1/refunds",
            "params": {"payment_intent": "pi_1", "amount": 500, "metadata": {"reason": "late"}},
        },
        "POST",
        "/v1/refunds",
        [("payment_intent", "pi_1"), ("amount", "500"), ("metadata[reason]", "late")],
        REFUND,
        id="stripe_api_request_post",
    ),
    pytest.param(
        "stripe_api_request",
        {"method": "GET", "path": "/v1/charges", "params": {"limit": 3, "customer": "cus_1"}},
        "GET",
        "/v1/charges",
        [("limit", "3"), ("customer", "cus_1")],
        {"object": "list", "data": [], "has_more": False, "url": "/v1/charges"},
        id="stripe_api_request_get",
    ),
    pytest.param(
        "stripe_api_request",
        {"method": "DELETE", "path": "/v1/customers/cus_1/tax_ids/txi_1"},
        "DELETE",
        "/v1/customers/cus_1/tax_ids/txi_1",
        [],
        {"id": "txi_1", "object": "tax_id", "deleted": True},
        id="stripe_api_request_delete",
    ),
]


@pytest.mark.parametrize(("key", "given", "method", "path", "pairs", "answer"), CASES)
def test_it_sends_the_exact_request_and_returns_stripes_object(
    key, given, method, path, pairs, answer, stripe_mock, stripe_client, stripe_key
):
    assert_action_round_trip(
        stripe_mock, stripe_client, stripe_key, key, given, method, path, pairs, answer
    )


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"method": "GET", "path": "https://evil.example.com/v1/charges"}, "path"),
        ({"method": "GET", "path": "/v2/core/events"}, "path"),
        ({"method": "GET", "path": "/v1/charges?limit=3"}, "path"),
        ({"method": "GET", "path": "/v1/../admin"}, "path"),
        ({"method": "PATCH", "path": "/v1/charges"}, "method"),
        ({"path": "/v1/charges"}, "method"),
        ({"method": "POST", "path": "/v1/refunds", "params": ["amount", 5]}, "params"),
    ],
)
def test_stripe_api_request_refuses_anything_but_a_v1_path_before_sending(
    given, field, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action("stripe_api_request").run(stripe_client, given)
    assert caught.value.fields == [field]
    assert len(stripe_mock.calls) == 0


def test_get_account_refuses_an_id_that_is_not_an_account(stripe_mock, stripe_client):
    with pytest.raises(ActionInputError) as caught:
        get_action("get_account").run(stripe_client, {"id": "cus_QXg1o8vcGmoR32"})
    assert caught.value.fields == ["id"]
    assert len(stripe_mock.calls) == 0


def test_retrieve_event_requires_an_event_id(stripe_mock, stripe_client):
    with pytest.raises(ActionInputError) as caught:
        get_action("retrieve_event").run(stripe_client, {})
    assert caught.value.errors == [{"field": "id", "message": "is required"}]
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/v1/%2e%2e/%2e%2e/x",  # once decoded by a server, the request line is /v1/../../x
        "/v1/%2E%2E/admin",
        "/v1/%252e%252e/admin",  # encoded twice: a proxy may decode once more
        "/v1/%25252e%25252e/admin",
        "/v1/charges/.%2e",
        "/v1/charges/%2e",
        "/v1/charges%2f..%2fadmin",
        "/v1/charges%2F%2Fevil",
        "/v1/charges%252fadmin",
        "/v1/charges%5c..%5cadmin",
        "/v1/charges\\..\\admin",
        "/v1//charges",
        "/v1/charges%3flimit",
        "/v1/charges%23x",
        "/v1/charges%00",
        "/v1/charges%0d%0aHost",
        "/v1/ch%2541",  # fine once, but decodes again to another path than the one checked
        "/%76%31/charges",  # /v1/ only once decoded: what is checked must be what is sent
    ],
)
def test_stripe_api_request_refuses_encoded_path_tricks_before_sending(
    path, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action("stripe_api_request").run(stripe_client, {"method": "GET", "path": path})
    assert caught.value.fields == ["path"]
    assert len(stripe_mock.calls) == 0


def test_stripe_api_request_sends_exactly_the_path_it_checked(stripe_mock, stripe_client):
    stripe_mock.get("https://api.stripe.com/v1/coupons/SUMMER-25_off", json=REFUND)
    get_action("stripe_api_request").run(
        stripe_client, {"method": "GET", "path": "/v1/coupons/SUMMER-25_off"}
    )
    assert stripe_mock.calls[0].request.path_url == "/v1/coupons/SUMMER-25_off"
