"""Catalog integrity: exactly the triggers and actions the product offers, valid schemas,
choices."""

import re

import pytest
from jsonschema.validators import validator_for

from stripe_connector.catalog import (
    ACTIONS,
    GROUPS,
    TRIGGERS,
    Action,
    Trigger,
    action_choices,
    event_type_for_trigger,
    get_action,
    get_trigger,
    trigger_choices,
)

# The product's triggers, spelled out: this list IS the spec (group, label, event type).
# Event types as Stripe names them: https://docs.stripe.com/api/events/types
SPEC_TRIGGERS = [
    ("Customers", "Customer Created", "customer.created"),
    ("Customers", "Customer Updated", "customer.updated"),
    ("Customers", "Customer Deleted", "customer.deleted"),
    ("Products", "Product Created", "product.created"),
    ("Products", "Product Updated", "product.updated"),
    ("Products", "Product Deleted", "product.deleted"),
    ("Prices", "Price Created", "price.created"),
    ("Prices", "Price Updated", "price.updated"),
    ("Prices", "Price Deleted", "price.deleted"),
    ("Subscriptions", "Subscription Created", "customer.subscription.created"),
    ("Subscriptions", "Subscription Updated", "customer.subscription.updated"),
    ("Subscriptions", "Subscription Deleted", "customer.subscription.deleted"),
    ("Invoices", "Invoice Created", "invoice.created"),
    ("Invoices", "Invoice Updated", "invoice.updated"),
    ("Invoices", "Invoice Deleted", "invoice.deleted"),
    ("Invoices", "Invoice Sent", "invoice.sent"),
    ("Invoices", "Invoice Payment Failed", "invoice.payment_failed"),
    ("Invoices", "Invoice Payment Succeeded", "invoice.payment_succeeded"),
    ("Invoices", "Invoice Marked Uncollectible", "invoice.marked_uncollectible"),
    ("Invoices", "Invoice Paid", "invoice.paid"),
    ("Invoices", "Invoice Finalized", "invoice.finalized"),
    ("Payments", "Payment Intent Created", "payment_intent.created"),
    ("Payments", "Payment Intent Canceled", "payment_intent.canceled"),
    ("Payments", "Payment Intent Succeeded", "payment_intent.succeeded"),
    ("Coupons", "Coupon Created", "coupon.created"),
]

# (group, label, method, path) of the 37 actions of the product page; paths as in
# Stripe's API reference: https://docs.stripe.com/api
SPEC_ACTIONS = [
    ("Invoices", "Search Invoice", "GET", "/v1/invoices/search"),
    ("Invoices", "Create Invoice", "POST", "/v1/invoices"),
    ("Invoices", "Update Invoice", "POST", "/v1/invoices/{id}"),
    ("Invoices", "Find Invoice", "GET", "/v1/invoices/{id}"),
    ("Invoices", "Delete Invoice", "DELETE", "/v1/invoices/{id}"),
    ("Invoices", "Finalize Invoice", "POST", "/v1/invoices/{id}/finalize"),
    ("Invoices", "Mark Invoice as Uncollectible", "POST", "/v1/invoices/{id}/mark_uncollectible"),
    ("Invoices", "Pay Invoice", "POST", "/v1/invoices/{id}/pay"),
    ("Prices", "Create Price", "POST", "/v1/prices"),
    ("Prices", "Update Price", "POST", "/v1/prices/{id}"),
    ("Prices", "Find Price", "GET", "/v1/prices/{id}"),
    ("Prices", "Search Price", "GET", "/v1/prices/search"),
    ("Prices", "Archive Price", "POST", "/v1/prices/{id}"),
    ("Products", "Create Product", "POST", "/v1/products"),
    ("Products", "Update Product", "POST", "/v1/products/{id}"),
    ("Products", "Find Product", "GET", "/v1/products/{id}"),
    ("Products", "Search Product", "GET", "/v1/products/search"),
    ("Products", "Delete Product", "DELETE", "/v1/products/{id}"),
    ("Customers", "Create Customer", "POST", "/v1/customers"),
    ("Customers", "Update Customer", "POST", "/v1/customers/{id}"),
    ("Customers", "Find Customer", "GET", "/v1/customers/{id}"),
    ("Customers", "Delete Customer", "DELETE", "/v1/customers/{id}"),
    ("Subscriptions", "Create Subscription", "POST", "/v1/subscriptions"),
    ("Subscriptions", "Update Subscription", "POST", "/v1/subscriptions/{id}"),
    ("Subscriptions", "Find Subscription", "GET", "/v1/subscriptions/{id}"),
    ("Subscriptions", "Cancel Subscription", "DELETE", "/v1/subscriptions/{id}"),
    ("Subscriptions", "Search Subscription", "GET", "/v1/subscriptions/search"),
    ("Coupons", "Create Coupon", "POST", "/v1/coupons"),
    ("Coupons", "Update Coupon", "POST", "/v1/coupons/{id}"),
    ("Coupons", "Find Coupon", "GET", "/v1/coupons/{id}"),
    ("Coupons", "Delete Coupon", "DELETE", "/v1/coupons/{id}"),
    ("Payments", "Create Payment Intent", "POST", "/v1/payment_intents"),
    ("Payments", "Update Payment Intent", "POST", "/v1/payment_intents/{id}"),
    ("Payments", "Find Payment Intent", "GET", "/v1/payment_intents/{id}"),
    ("Payments", "Cancel Payment Intent", "POST", "/v1/payment_intents/{id}/cancel"),
    ("Events & Accounts", "Retrieve Event", "GET", "/v1/events/{id}"),
    ("Events & Accounts", "Get Account", "GET", "/v1/accounts/{id}"),
]

# The actions offered beyond the product page.
SPEC_EXTRAS = [
    ("Invoices", "Create Invoice Item", "POST", "/v1/invoiceitems"),
    ("Invoices", "Send Invoice", "POST", "/v1/invoices/{id}/send"),
    ("Invoices", "Void Invoice", "POST", "/v1/invoices/{id}/void"),
    ("Payments", "Confirm Payment Intent", "POST", "/v1/payment_intents/{id}/confirm"),
    ("Payments", "Capture Payment Intent", "POST", "/v1/payment_intents/{id}/capture"),
    ("Advanced", "Stripe API request", "ANY", "/v1/{path}"),
    ("HTTP", "HTTP request", "ANY", "{url}"),
]

EXPECTED_GROUPS = [
    "Customers",
    "Products",
    "Prices",
    "Subscriptions",
    "Invoices",
    "Payments",
    "Coupons",
    "Events & Accounts",
    "Advanced",
    "HTTP",
]


def _schema_ids():
    return [pytest.param(action, id=action.key) for action in ACTIONS.values()]


def test_there_are_exactly_the_25_triggers_of_the_product_page_plus_custom():
    assert len(SPEC_TRIGGERS) == 25
    listed = [(t.group, t.label, t.event_type) for t in TRIGGERS.values() if t.key != "custom"]
    assert sorted(listed) == sorted(SPEC_TRIGGERS)
    assert all(t.key == t.event_type for t in TRIGGERS.values() if t.key != "custom")
    assert set(TRIGGERS) == {event_type for _, _, event_type in SPEC_TRIGGERS} | {"custom"}


def test_the_custom_trigger_has_no_fixed_event_type():
    custom = get_trigger("custom")
    assert (custom.label, custom.group, custom.event_type) == ("Custom event", "Advanced", None)


def test_there_are_exactly_the_37_actions_of_the_product_page_plus_the_extras():
    assert len(SPEC_ACTIONS) == 37
    listed = [(a.group, a.label, a.method, a.path) for a in ACTIONS.values()]
    assert sorted(listed) == sorted(SPEC_ACTIONS + SPEC_EXTRAS)
    assert len(ACTIONS) == 44


def test_action_keys_are_unique_snake_case_and_labels_unique():
    keys = [action.key for action in ACTIONS.values()]
    assert keys == list(ACTIONS)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", key) for key in keys)
    assert len({action.label for action in ACTIONS.values()}) == len(ACTIONS)
    assert len({trigger.label for trigger in TRIGGERS.values()}) == len(TRIGGERS)


def test_the_contract_keys_exist():
    for key in ("create_customer", "find_customer", "search_invoice", "archive_price"):
        assert get_action(key).key == key
    assert get_action("get_account").label == "Get Account"
    assert get_action("stripe_api_request").label == "Stripe API request"


def test_groups_follow_the_product_page_and_registry_order_follows_groups():
    assert GROUPS == EXPECTED_GROUPS
    action_groups = [GROUPS.index(action.group) for action in ACTIONS.values()]
    trigger_groups = [GROUPS.index(trigger.group) for trigger in TRIGGERS.values()]
    assert action_groups == sorted(action_groups)
    assert trigger_groups == sorted(trigger_groups)


@pytest.mark.parametrize("action", _schema_ids())
def test_every_input_schema_is_valid_json_schema_with_help_text(action):
    schema = action.input_schema
    validator_for(schema).check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["properties"]
    assert all(prop.get("description") for prop in schema["properties"].values())
    assert set(schema.get("required", [])) <= set(schema["properties"])


# These fill their path themselves: by email, without an id, from a free-form path or a URL.
_OWN_PATHS = {"find_customer", "get_account", "stripe_api_request", "http_request"}


@pytest.mark.parametrize("action", [a for a in _schema_ids() if a.values[0].key not in _OWN_PATHS])
def test_every_path_parameter_is_a_required_input(action):
    names = re.findall(r"{(\w+)}", action.path)
    assert names in ([], ["id"])
    assert set(names) <= set(action.input_schema.get("required", []))


def test_only_reads_are_marked_as_not_mutating():
    reads = {key for key, action in ACTIONS.items() if not action.mutates}
    assert reads == {
        "find_customer",
        "find_product",
        "search_product",
        "find_price",
        "search_price",
        "find_subscription",
        "search_subscription",
        "search_invoice",
        "find_invoice",
        "find_payment_intent",
        "find_coupon",
        "retrieve_event",
        "get_account",
    }
    assert all(ACTIONS[key].method == "GET" for key in reads)


def test_registry_items_are_frozen_dataclasses():
    action = get_action("create_customer")
    with pytest.raises(AttributeError):
        action.label = "Something else"
    assert isinstance(action, Action)
    assert isinstance(get_trigger("invoice.paid"), Trigger)


def test_action_choices_are_django_grouped_choices_in_group_order():
    choices = action_choices()
    assert [group for group, _ in choices] == EXPECTED_GROUPS
    assert choices[0] == (
        "Customers",
        [
            ("create_customer", "Create Customer"),
            ("update_customer", "Update Customer"),
            ("find_customer", "Find Customer"),
            ("delete_customer", "Delete Customer"),
        ],
    )
    assert choices[-1] == ("HTTP", [("http_request", "HTTP request")])
    assert sum(len(options) for _, options in choices) == 44


def test_trigger_choices_list_every_trigger_once():
    choices = trigger_choices()
    assert [group for group, _ in choices] == [*EXPECTED_GROUPS[:7], "Advanced"]
    flat = [key for _, options in choices for key, _ in options]
    assert flat == list(TRIGGERS)
    assert ("payment_intent.canceled", "Payment Intent Canceled") in dict(choices)["Payments"]


def test_unknown_keys_raise_a_clear_key_error():
    with pytest.raises(KeyError, match="Unknown action 'create_widget'"):
        get_action("create_widget")
    with pytest.raises(KeyError, match=r"Unknown trigger 'charge\.refunded'"):
        get_trigger("charge.refunded")


def test_event_type_for_trigger_is_the_event_type_or_the_custom_one():
    assert (
        event_type_for_trigger("customer.subscription.deleted") == "customer.subscription.deleted"
    )
    assert event_type_for_trigger("invoice.paid", "ignored.here") == "invoice.paid"
    assert event_type_for_trigger("custom", "charge.refunded") == "charge.refunded"
    assert event_type_for_trigger("custom", " checkout.session.completed ") == (
        "checkout.session.completed"
    )


@pytest.mark.parametrize("typed", [None, "", "*", "charge", "Charge.Refunded", "charge.refunded;x"])
def test_the_custom_trigger_refuses_what_is_not_an_event_type(typed):
    with pytest.raises(ValueError, match="needs a Stripe event type"):
        event_type_for_trigger("custom", typed)


def test_validate_returns_the_input_without_none_values():
    cleaned = get_action("create_customer").validate(
        {"email": "a@example.com", "name": None, "address": {"city": "Paris", "line2": None}}
    )
    assert cleaned == {"email": "a@example.com", "address": {"city": "Paris"}}


def test_to_dict_is_json_safe_and_carries_the_schema():
    data = get_action("archive_price").to_dict()
    assert data["call"] == "POST /v1/prices/{id} (active=false)"
    assert data["mutates"] is True
    assert data["input_schema"]["required"] == ["id"]
