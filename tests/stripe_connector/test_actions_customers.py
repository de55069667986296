"""Customer actions: exact requests to Stripe, outputs, and Find Customer's lookups."""

import pytest

from stripe_connector.catalog import ObjectNotFound, get_action
from stripe_connector.errors import ActionInputError, StripeError
from tests.stripe_connector.data import API, assert_action_round_trip, assert_sent, stripe_object

CUSTOMER = stripe_object("customer")
CUS = CUSTOMER["id"]

CASES = [
    pytest.param(
        "create_customer",
        {
            "email": "jenny.rosen@example.com",
            "name": "Jenny Rosen",
            "phone": "+15555550123",
            "address": {"line1": "510 Townsend St", "city": "San Francisco", "country": "US"},
            "metadata": {"plan": "pro", "source": "signup form"},
            "preferred_locales": ["en", "fr"],
            "description": None,  # a mapping that rendered nothing: left out
        },
        "POST",
        "/v1/customers",
        [
            ("email", "jenny.rosen@example.com"),
            ("name", "Jenny Rosen"),
            ("phone", "+15555550123"),
            ("address[line1]", "510 Townsend St"),
            ("address[city]", "San Francisco"),
            ("address[country]", "US"),
            ("metadata[plan]", "pro"),
            ("metadata[source]", "signup form"),
            ("preferred_locales[0]", "en"),
            ("preferred_locales[1]", "fr"),
        ],
        CUSTOMER,
        id="create_customer",
    ),
    pytest.param(
        "update_customer",
        {
            "id": CUS,
            "email": "jenny@example.com",
            "metadata": {"plan": "", "tier": "gold"},
            "invoice_settings": {"default_payment_method": "pm_123"},
            "tax_exempt": "reverse",
            "expand": ["default_source"],
        },
        "POST",
        f"/v1/customers/{CUS}",
        [
            ("email", "jenny@example.com"),
            ("metadata[plan]", ""),  # "" removes the key in Stripe
            ("metadata[tier]", "gold"),
            ("invoice_settings[default_payment_method]", "pm_123"),
            ("tax_exempt", "reverse"),
            ("expand[0]", "default_source"),
        ],
        {**CUSTOMER, "email": "jenny@example.com"},
        id="update_customer",
    ),
    pytest.param(
        "delete_customer",
        {"id": CUS},
        "DELETE",
        f"/v1/customers/{CUS}",
        [],
        stripe_object("deleted_customer"),
        id="delete_customer",
    ),
]


@pytest.mark.parametrize(("key", "given", "method", "path", "pairs", "answer"), CASES)
def test_it_sends_the_exact_request_and_returns_stripes_object(
    key, given, method, path, pairs, answer, stripe_mock, stripe_client, stripe_key
):
    assert_action_round_trip(
        stripe_mock, stripe_client, stripe_key, key, given, method, path, pairs, answer
    )


def test_a_post_without_a_callers_key_gets_a_fresh_idempotency_key(
    stripe_mock, stripe_client, stripe_key
):
    stripe_mock.add("POST", f"{API}/v1/customers", json=CUSTOMER)
    stripe_mock.add("POST", f"{API}/v1/customers", json=CUSTOMER)
    action = get_action("create_customer")
    action.run(stripe_client, {"email": "a@example.com"})
    action.run(stripe_client, {"email": "a@example.com"})
    first, second = (call.request.headers["Idempotency-Key"] for call in stripe_mock.calls)
    assert len(first) == 36 and first != second


def test_find_customer_by_id_returns_the_customer_marked_found(
    stripe_mock, stripe_client, stripe_key
):
    stripe_mock.add("GET", f"{API}/v1/customers/{CUS}", json=CUSTOMER, headers={"Request-Id": "r1"})
    result = get_action("find_customer").run(stripe_client, {"id": CUS, "expand": ["discount"]})
    assert_sent(
        stripe_mock.calls[0].request,
        "GET",
        f"/v1/customers/{CUS}",
        [("expand[0]", "discount")],
        stripe_key,
    )
    assert result.output == {**CUSTOMER, "found": True}
    assert result.request_id == "r1"


def test_find_customer_by_email_uses_the_exact_list_filter_not_search(
    stripe_mock, stripe_client, stripe_key
):
    page = {"object": "list", "data": [CUSTOMER], "has_more": False, "url": "/v1/customers"}
    stripe_mock.add("GET", f"{API}/v1/customers", json=page, headers={"Request-Id": "r2"})
    result = get_action("find_customer").run(
        stripe_client, {"email": "jenny.rosen@example.com", "expand": ["default_source"]}
    )
    assert_sent(
        stripe_mock.calls[0].request,
        "GET",
        "/v1/customers",
        [
            ("email", "jenny.rosen@example.com"),
            ("limit", "1"),
            ("expand[0]", "data.default_source"),
        ],
        stripe_key,
    )
    assert result.output == {**CUSTOMER, "found": True}
    assert result.request_id == "r2"


def test_find_customer_by_email_fails_clearly_when_nothing_matches(stripe_mock, stripe_client):
    page = {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}
    stripe_mock.add("GET", f"{API}/v1/customers", json=page, headers={"Request-Id": "r3"})
    with pytest.raises(ObjectNotFound) as caught:
        get_action("find_customer").run(stripe_client, {"email": "nobody@example.com"})
    err = caught.value
    assert err.message == "No customer with email nobody@example.com."
    assert (err.http_status, err.code, err.param, err.retryable) == (
        404,
        "resource_missing",
        "email",
        False,
    )
    assert err.request_id == "r3"
    assert isinstance(err, StripeError)


def test_find_customer_by_email_can_return_found_false_instead(stripe_mock, stripe_client):
    page = {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}
    stripe_mock.add("GET", f"{API}/v1/customers", json=page)
    result = get_action("find_customer").run(
        stripe_client, {"email": "nobody@example.com", "if_not_found": "empty"}
    )
    assert result.output == {"found": False}


def test_find_customer_by_unknown_id_in_empty_mode_returns_found_false(stripe_mock, stripe_client):
    error = {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "id",
            "message": "No such customer: 'cus_missing1'",
        }
    }
    stripe_mock.add("GET", f"{API}/v1/customers/cus_missing1", status=404, json=error)
    result = get_action("find_customer").run(
        stripe_client, {"id": "cus_missing1", "if_not_found": "empty"}
    )
    assert result.output == {"found": False}


def test_find_customer_by_unknown_id_fails_with_stripes_error_by_default(
    stripe_mock, stripe_client
):
    error = {"error": {"type": "invalid_request_error", "message": "No such customer: 'cus_x1'"}}
    stripe_mock.add("GET", f"{API}/v1/customers/cus_x1", status=404, json=error)
    with pytest.raises(StripeError) as caught:
        get_action("find_customer").run(stripe_client, {"id": "cus_x1"})
    assert caught.value.http_status == 404
    assert caught.value.message == "No such customer: 'cus_x1'"


def test_find_customer_treats_a_deleted_customer_as_not_found(stripe_mock, stripe_client):
    stripe_mock.add("GET", f"{API}/v1/customers/{CUS}", json=stripe_object("deleted_customer"))
    with pytest.raises(ObjectNotFound, match=f"No customer with id {CUS} \\(deleted\\)"):
        get_action("find_customer").run(stripe_client, {"id": CUS})


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({}, "id", "give one of: id, email"),
        ({"id": CUS, "email": "a@example.com"}, "email", "give only one of: id, email"),
        ({"email": "a@example.com", "if_not_found": "ignore"}, "if_not_found", "must be one of"),
        ({"id": "jenny@example.com"}, "id", "has an invalid format"),
    ],
)
def test_find_customer_refuses_bad_input_before_any_request(
    given, field, message, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action("find_customer").run(stripe_client, given)
    assert caught.value.fields == [field]
    assert message in caught.value.errors[0]["message"]
    assert len(stripe_mock.calls) == 0


def test_create_customer_names_every_bad_field_and_sends_nothing(stripe_mock, stripe_client):
    given = {
        "email": ["ada@example.com"],
        "address": {"line1": "1 Main St", "country": "USA"},
        "shipping": {"name": "Jenny"},
        "metadata": {"plan": {"tier": 3}},
        "nickname": "typo",
    }
    with pytest.raises(ActionInputError) as caught:
        get_action("create_customer").run(stripe_client, given)
    assert caught.value.fields == [
        "address.country",
        "email",
        "metadata.plan",
        "nickname",
        "shipping.address",
    ]
    assert caught.value.errors[1]["message"] == "must be of type string, got list"
    assert caught.value.errors[3]["message"] == "is not a known field"
    assert caught.value.errors[4]["message"] == "is required"
    assert len(stripe_mock.calls) == 0


def test_update_customer_requires_the_id(stripe_mock, stripe_client):
    with pytest.raises(ActionInputError, match="id: is required"):
        get_action("update_customer").run(stripe_client, {"name": "Jenny"})
    assert len(stripe_mock.calls) == 0
