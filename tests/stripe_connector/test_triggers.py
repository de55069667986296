"""Trigger samples: full Stripe event envelopes of their event type, in the pinned API shape."""

import json

import pytest
from jsonschema import Draft202012Validator

from stripe_connector.catalog import TRIGGERS, get_trigger
from stripe_connector.client import DEFAULT_API_VERSION

# The envelope Stripe POSTs to a webhook endpoint: https://docs.stripe.com/api/events/object
ENVELOPE = {
    "type": "object",
    "required": [
        "id",
        "object",
        "api_version",
        "created",
        "data",
        "livemode",
        "pending_webhooks",
        "request",
        "type",
    ],
    "properties": {
        "id": {"type": "string", "pattern": "^evt_[A-Za-z0-9]+$"},
        "object": {"const": "event"},
        "api_version": {"const": DEFAULT_API_VERSION},
        "created": {"type": "integer", "minimum": 1},
        "livemode": {"const": False},
        "pending_webhooks": {"type": "integer", "minimum": 0},
        "request": {
            "type": "object",
            "required": ["id", "idempotency_key"],
            "properties": {
                "id": {"type": ["string", "null"]},
                "idempotency_key": {"type": ["string", "null"]},
            },
        },
        "data": {
            "type": "object",
            "required": ["object"],
            "properties": {
                "object": {"type": "object", "required": ["id", "object"]},
                "previous_attributes": {"type": "object", "minProperties": 1},
            },
        },
        "type": {"type": "string", "pattern": "^[a-z_]+(\\.[a-z_]+)+$"},
    },
}

# Which Stripe object each event type carries, and its id prefix.
OBJECT_OF = {
    "customer.subscription": ("subscription", "sub_"),
    "customer": ("customer", "cus_"),
    "product": ("product", "prod_"),
    "price": ("price", "price_"),
    "invoice": ("invoice", "in_"),
    "payment_intent": ("payment_intent", "pi_"),
    "coupon": ("coupon", ""),
}

STATUS_OF = {
    "customer.subscription.created": "active",
    "customer.subscription.deleted": "canceled",
    "invoice.created": "draft",
    "invoice.deleted": "draft",
    "invoice.finalized": "open",
    "invoice.sent": "open",
    "invoice.payment_failed": "open",
    "invoice.payment_succeeded": "paid",
    "invoice.paid": "paid",
    "invoice.marked_uncollectible": "uncollectible",
    "payment_intent.created": "requires_payment_method",
    "payment_intent.canceled": "canceled",
    "payment_intent.succeeded": "succeeded",
}

STRIPE_TRIGGERS = [pytest.param(t, id=t.key) for t in TRIGGERS.values() if t.key != "custom"]


@pytest.mark.parametrize("trigger", STRIPE_TRIGGERS)
def test_every_sample_is_a_valid_envelope_of_its_event_type(trigger):
    sample = trigger.sample
    Draft202012Validator(ENVELOPE).validate(sample)
    assert sample["type"] == trigger.event_type == trigger.key
    resource = trigger.event_type.rsplit(".", 1)[0]
    name, prefix = OBJECT_OF[resource]
    assert sample["data"]["object"]["object"] == name
    assert sample["data"]["object"]["id"].startswith(prefix)
    assert json.loads(json.dumps(sample)) == sample


@pytest.mark.parametrize("trigger", STRIPE_TRIGGERS)
def test_only_updated_events_carry_previous_attributes(trigger):
    data = trigger.sample["data"]
    if trigger.event_type.endswith(".updated"):
        changed = data["previous_attributes"]
        assert all(key in data["object"] for key in changed)
        assert any(data["object"][key] != changed[key] for key in changed)
    else:
        assert "previous_attributes" not in data


@pytest.mark.parametrize(
    "event_type", ["customer.deleted", "product.deleted", "price.deleted", "invoice.deleted"]
)
def test_deleted_events_carry_the_object_as_it_was_not_the_deleted_stub(event_type):
    obj = get_trigger(event_type).sample["data"]["object"]
    assert "deleted" not in obj
    assert len(obj) > 10


@pytest.mark.parametrize(("event_type", "status"), sorted(STATUS_OF.items()))
def test_samples_show_the_status_that_goes_with_the_event(event_type, status):
    assert get_trigger(event_type).sample["data"]["object"]["status"] == status


def test_a_paid_invoice_sample_has_nothing_left_to_pay():
    invoice = get_trigger("invoice.paid").sample["data"]["object"]
    assert invoice["amount_paid"] == invoice["total"] == 1000
    assert invoice["amount_remaining"] == 0
    assert invoice["number"]


def test_sample_ids_are_unique_per_event_type():
    ids = [trigger.sample["id"] for trigger in TRIGGERS.values()]
    assert len(set(ids)) == len(ids)


def test_sample_event_is_a_copy_that_callers_may_change():
    trigger = get_trigger("customer.created")
    copy = trigger.sample_event()
    copy["data"]["object"]["email"] = "changed@example.com"
    assert trigger.sample["data"]["object"]["email"] == "jenny.rosen@example.com"


def test_the_custom_trigger_sample_takes_the_typed_event_type():
    custom = get_trigger("custom")
    Draft202012Validator(ENVELOPE).validate(custom.sample)
    assert custom.sample_event("charge.refunded")["type"] == "charge.refunded"
    assert custom.sample_event()["type"] == custom.sample["type"]
    assert get_trigger("invoice.paid").sample_event("charge.refunded")["type"] == "invoice.paid"
