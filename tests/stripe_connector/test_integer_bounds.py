"""Integer and number fields: text and numbers mean the same, within Stripe's 64-bit range,
and a number text too long for int() is a field error, never a ValueError."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.catalog.values import MAX_INTEGER, prepare
from stripe_connector.errors import ActionInputError


def amount_errors(amount) -> list[dict]:
    with pytest.raises(ActionInputError) as caught:
        get_action("create_payment_intent").validate({"amount": amount, "currency": "usd"})
    return caught.value.errors


@pytest.mark.parametrize("amount", [1099, 1099.0, "1099", "1099.0", "1099.00"])
def test_an_integer_field_takes_a_whole_number_as_number_or_text(amount):
    sent = get_action("create_payment_intent").validate({"amount": amount, "currency": "usd"})
    assert sent["amount"] == 1099
    assert type(sent["amount"]) is int


@pytest.mark.parametrize("amount", [10.5, "10.5"])
def test_an_integer_field_refuses_a_fraction_as_number_or_text(amount):
    assert amount_errors(amount) == [
        {"field": "amount", "message": f"must be a whole number, got {amount!r}"}
    ]


@pytest.mark.parametrize(
    "amount",
    ["1" * 5000, "-" + "1" * 5000, "1" * 5000 + ".0", "9" * 20, 2**63, -(2**63), 1e300],
)
def test_an_integer_field_refuses_a_number_past_stripes_range_naming_the_field(amount):
    errors = amount_errors(amount)
    assert errors == [
        {"field": "amount", "message": f"must be between -{MAX_INTEGER} and {MAX_INTEGER}"}
    ]


def test_the_largest_integer_is_taken():
    action = get_action("create_payment_intent")
    assert action.validate({"amount": str(MAX_INTEGER), "currency": "usd"})["amount"] == MAX_INTEGER


@pytest.mark.parametrize("text", ["1" * 5000, "1" * 5000 + ".5"])
def test_a_number_field_leaves_a_text_too_long_to_read_to_the_range_check(text):
    assert prepare({"type": "number"}, text) == text  # int() is never asked to read it


def test_a_number_field_refuses_a_text_too_long_to_read():
    errors = get_action("create_coupon").validate
    with pytest.raises(ActionInputError) as caught:
        errors({"percent_off": "1" * 5000, "duration": "once"})
    assert caught.value.errors[0]["field"] == "percent_off"
    assert "must be between" in caught.value.errors[0]["message"]
