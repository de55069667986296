"""Product and price actions: exact requests, outputs, Delete Product's hint, Archive Price."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError, InvalidRequestError
from tests.stripe_connector.data import API, assert_action_round_trip, stripe_object

PRODUCT = stripe_object("product")
PROD = PRODUCT["id"]
PRICE = stripe_object("price")
PRICE_ID = PRICE["id"]

CASES = [
    pytest.param(
        "create_product",
        {
            "name": "T-shirt",
            "description": "Comfortable gray cotton t-shirt",
            "shippable": True,
            "metadata": {"sku": "TS-GRAY-M"},
            "default_price_data": {
                "currency": "usd",
                "unit_amount": 2000,
                "recurring": {"interval": "month"},
            },
        },
        "POST",
        "/v1/products",
        [
            ("name", "T-shirt"),
            ("description", "Comfortable gray cotton t-shirt"),
            ("shippable", "true"),
            ("metadata[sku]", "TS-GRAY-M"),
            ("default_price_data[currency]", "usd"),
            ("default_price_data[unit_amount]", "2000"),
            ("default_price_data[recurring][interval]", "month"),
        ],
        PRODUCT,
        id="create_product",
    ),
    pytest.param(
        "update_product",
        {"id": PROD, "active": False, "images": ["https://example.com/a.png"], "url": ""},
        "POST",
        f"/v1/products/{PROD}",
        [("active", "false"), ("images[0]", "https://example.com/a.png"), ("url", "")],
        {**PRODUCT, "active": False},
        id="update_product",
    ),
    pytest.param(
        "find_product",
        {"id": PROD, "expand": ["default_price"]},
        "GET",
        f"/v1/products/{PROD}",
        [("expand[0]", "default_price")],
        PRODUCT,
        id="find_product",
    ),
    pytest.param(
        "find_product",
        {"id": "gold plan/v2"},  # a user-chosen id never escapes its path segment
        "GET",
        "/v1/products/gold%20plan%2Fv2",
        [],
        {**PRODUCT, "id": "gold plan/v2"},
        id="find_product_with_own_id",
    ),
    pytest.param(
        "delete_product",
        {"id": PROD},
        "DELETE",
        f"/v1/products/{PROD}",
        [],
        stripe_object("deleted_product"),
        id="delete_product",
    ),
    pytest.param(
        "create_price",
        {
            "currency": "usd",
            "product": PROD,
            "unit_amount": 2000,
            "recurring": {"interval": "month", "interval_count": 3},
            "lookup_key": "tshirt_quarterly",
            "tax_behavior": "exclusive",
            "metadata": {"plan": "pro"},
        },
        "POST",
        "/v1/prices",
        [
            ("currency", "usd"),
            ("product", PROD),
            ("unit_amount", "2000"),
            ("recurring[interval]", "month"),
            ("recurring[interval_count]", "3"),
            ("lookup_key", "tshirt_quarterly"),
            ("tax_behavior", "exclusive"),
            ("metadata[plan]", "pro"),
        ],
        PRICE,
        id="create_price",
    ),
    pytest.param(
        "create_price",
        {"currency": "eur", "product_data": {"name": "Donation"}, "unit_amount_decimal": "12.5"},
        "POST",
        "/v1/prices",
        [("currency", "eur"), ("product_data[name]", "Donation"), ("unit_amount_decimal", "12.5")],
        {**PRICE, "currency": "eur", "unit_amount_decimal": "12.5"},
        id="create_price_with_product_data",
    ),
    pytest.param(
        "update_price",
        {"id": PRICE_ID, "nickname": "Monthly", "transfer_lookup_key": True},
        "POST",
        f"/v1/prices/{PRICE_ID}",
        [("nickname", "Monthly"), ("transfer_lookup_key", "true")],
        {**PRICE, "nickname": "Monthly"},
        id="update_price",
    ),
    pytest.param(
        "find_price",
        {"id": PRICE_ID},
        "GET",
        f"/v1/prices/{PRICE_ID}",
        [],
        PRICE,
        id="find_price",
    ),
    pytest.param(
        "archive_price",
        {"id": PRICE_ID},
        "POST",
        f"/v1/prices/{PRICE_ID}",
        [("active", "false")],
        {**PRICE, "active": False},
        id="archive_price",
    ),
]


@pytest.mark.parametrize(("key", "given", "method", "path", "pairs", "answer"), CASES)
def test_it_sends_the_exact_request_and_returns_stripes_object(
    key, given, method, path, pairs, answer, stripe_mock, stripe_client, stripe_key
):
    assert_action_round_trip(
        stripe_mock, stripe_client, stripe_key, key, given, method, path, pairs, answer
    )


def test_delete_product_with_prices_says_to_archive_instead(stripe_mock, stripe_client):
    message = "This product cannot be deleted because it has one or more user-created prices."
    error = {"error": {"type": "invalid_request_error", "message": message}}
    stripe_mock.add(
        "DELETE", f"{API}/v1/products/{PROD}", status=400, json=error, headers={"Request-Id": "r9"}
    )
    with pytest.raises(InvalidRequestError) as caught:
        get_action("delete_product").run(stripe_client, {"id": PROD})
    err = caught.value
    assert err.message == (
        f"{message} A product with prices cannot be deleted: archive it instead "
        "(Update Product with active=false)."
    )
    assert (err.http_status, err.type, err.request_id, err.retryable) == (
        400,
        "invalid_request_error",
        "r9",
        False,
    )


def test_delete_product_passes_other_errors_through_unchanged(stripe_mock, stripe_client):
    error = {"error": {"type": "invalid_request_error", "message": "No such product: 'prod_x'"}}
    stripe_mock.add("DELETE", f"{API}/v1/products/prod_x", status=404, json=error)
    with pytest.raises(InvalidRequestError) as caught:
        get_action("delete_product").run(stripe_client, {"id": "prod_x"})
    assert caught.value.message == "No such product: 'prod_x'"


def test_archive_price_refuses_an_active_field_of_its_own(stripe_mock, stripe_client):
    with pytest.raises(ActionInputError) as caught:
        get_action("archive_price").run(stripe_client, {"id": PRICE_ID, "active": True})
    assert caught.value.errors == [{"field": "active", "message": "is not a known field"}]
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        (
            {"currency": "usd", "unit_amount": 100},
            [{"field": "product", "message": "give one of: product, product_data"}],
        ),
        (
            {"currency": "usd", "product": PROD},
            [
                {
                    "field": "unit_amount",
                    "message": "give one of: unit_amount, unit_amount_decimal, custom_unit_amount",
                }
            ],
        ),
        (
            {"product": PROD, "unit_amount": -5, "recurring": {"interval": "fortnight"}},
            [
                {"field": "currency", "message": "is required"},
                {
                    "field": "recurring.interval",
                    "message": "must be one of: day, week, month, year",
                },
                {"field": "unit_amount", "message": "-5 is less than the minimum of 0"},
            ],
        ),
    ],
)
def test_create_price_refuses_incomplete_input_before_any_request(
    given, errors, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action("create_price").run(stripe_client, given)
    assert caught.value.errors == errors
    assert len(stripe_mock.calls) == 0


def test_create_product_requires_a_name(stripe_mock, stripe_client):
    with pytest.raises(ActionInputError) as caught:
        get_action("create_product").run(stripe_client, {"description": "x"})
    assert caught.value.errors == [{"field": "name", "message": "is required"}]
    assert len(stripe_mock.calls) == 0
