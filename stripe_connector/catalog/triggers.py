"""The triggers: Stripe webhook events a workflow can start from, each with a sample event.

Samples are built from ``samples/objects.json`` (Stripe's own example objects
from its openapi ``fixtures3.json``, MIT, trimmed) wrapped in the full event
envelope of the pinned API version. Each event type changes the object the way
Stripe does (an invoice is ``paid`` in ``invoice.paid``, ...), and ``*.updated``
events carry ``data.previous_attributes``.

Stripe's ``*.deleted`` events carry the object as it was just before deletion,
not the ``{"id", "object", "deleted": true}`` stub that the DELETE call answers;
the samples do the same.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from stripe_connector.catalog.base import Trigger
from stripe_connector.client import DEFAULT_API_VERSION

OBJECTS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "samples" / "objects.json").read_text(encoding="utf-8")
)
SAMPLE_CREATED = 1767225660  # 2026-01-01 00:01:00 UTC: one minute after the objects' "created"
CUSTOM_KEY = "custom"
# What a Stripe event type looks like: dotted lower-case words (customer.subscription.created).
EVENT_TYPE_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def event(
    event_type: str,
    obj: dict[str, Any],
    previous: dict[str, Any] | None = None,
    *,
    from_api: bool = True,
) -> dict[str, Any]:
    """A full event envelope as Stripe sends it to a webhook endpoint.

    ``from_api`` says whether an API request caused it (then ``request`` has its
    id and idempotency key) or Stripe itself did (renewals, payment attempts).
    """
    digest = hashlib.sha256(event_type.encode()).hexdigest()[:24]
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    request = {"id": f"req_{digest[:14]}", "idempotency_key": f"{digest[:8]}-sample-key"}
    return {
        "id": f"evt_{digest}",
        "object": "event",
        "api_version": DEFAULT_API_VERSION,
        "created": SAMPLE_CREATED,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": request if from_api else {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def base(resource: str, /, **changes: Any) -> dict[str, Any]:
    """A fresh copy of the example object ``resource`` with some fields changed."""
    obj = copy.deepcopy(OBJECTS[resource])
    obj.update(changes)
    return obj


def _invoice(status: str, **changes: Any) -> dict[str, Any]:
    """The example invoice in a given status, with the totals that go with it."""
    paid = status == "paid"
    fields: dict[str, Any] = {"status": status}
    if status != "draft":
        fields.update(number="7FE1103-0001", hosted_invoice_url="https://invoice.stripe.com/i/x")
    if paid:
        fields.update(amount_paid=1000, amount_remaining=0, attempted=True, attempt_count=1)
    fields.update(changes)
    return base("invoice", **fields)


def _trigger(
    group: str, label: str, event_type: str, description: str, sample: dict[str, Any]
) -> Trigger:
    """Declare a trigger; its key is the event type."""
    return Trigger(event_type, label, group, description, event_type, sample)


_CANCELED_SUB = {
    "status": "canceled",
    "canceled_at": SAMPLE_CREATED,
    "ended_at": SAMPLE_CREATED,
    "cancellation_details": {"comment": None, "feedback": None, "reason": "cancellation_requested"},
}
_SUCCEEDED_PI = {
    "status": "succeeded",
    "amount_received": 1099,
    "payment_method": "pm_1PgafyB7WZ01zgkWxc5ATNXN",
    "latest_charge": "ch_3PgafyB7WZ01zgkW0bSmWd8x",
}

TRIGGERS: list[Trigger] = [
    _trigger(
        "Customers",
        "Customer Created",
        "customer.created",
        "A customer was created.",
        event("customer.created", base("customer")),
    ),
    _trigger(
        "Customers",
        "Customer Updated",
        "customer.updated",
        "A customer changed; previous_attributes holds the old values.",
        event(
            "customer.updated",
            base("customer", metadata={"plan": "pro"}),
            previous={"email": "jenny@example.com", "metadata": {"plan": None}},
        ),
    ),
    _trigger(
        "Customers",
        "Customer Deleted",
        "customer.deleted",
        "A customer was deleted (the event carries the customer as it was).",
        event("customer.deleted", base("customer")),
    ),
    _trigger(
        "Products",
        "Product Created",
        "product.created",
        "A product was created.",
        event("product.created", base("product")),
    ),
    _trigger(
        "Products",
        "Product Updated",
        "product.updated",
        "A product changed; previous_attributes holds the old values.",
        event(
            "product.updated",
            base("product", name="T-shirt (organic)", updated=SAMPLE_CREATED),
            previous={"name": "T-shirt", "updated": 1767225600},
        ),
    ),
    _trigger(
        "Products",
        "Product Deleted",
        "product.deleted",
        "A product was deleted (the event carries the product as it was).",
        event("product.deleted", base("product", default_price=None)),
    ),
    _trigger(
        "Prices",
        "Price Created",
        "price.created",
        "A price was created.",
        event("price.created", base("price")),
    ),
    _trigger(
        "Prices",
        "Price Updated",
        "price.updated",
        "A price changed (e.g. archived); previous_attributes holds the old values.",
        event("price.updated", base("price", active=False), previous={"active": True}),
    ),
    _trigger(
        "Prices",
        "Price Deleted",
        "price.deleted",
        "A price was deleted (only prices of deleted products or plans can be).",
        event("price.deleted", base("price", active=False)),
    ),
    _trigger(
        "Subscriptions",
        "Subscription Created",
        "customer.subscription.created",
        "A customer was subscribed to a plan.",
        event("customer.subscription.created", base("subscription")),
    ),
    _trigger(
        "Subscriptions",
        "Subscription Updated",
        "customer.subscription.updated",
        "A subscription changed (plan, quantity, status, cancellation...).",
        event(
            "customer.subscription.updated",
            base("subscription", cancel_at_period_end=True, cancel_at=1769904000),
            previous={"cancel_at_period_end": False, "cancel_at": None},
        ),
    ),
    _trigger(
        "Subscriptions",
        "Subscription Deleted",
        "customer.subscription.deleted",
        "A subscription ended (canceled now or at period end).",
        event("customer.subscription.deleted", base("subscription", **_CANCELED_SUB)),
    ),
    _trigger(
        "Invoices",
        "Invoice Created",
        "invoice.created",
        "An invoice was created (as a draft).",
        event("invoice.created", _invoice("draft")),
    ),
    _trigger(
        "Invoices",
        "Invoice Updated",
        "invoice.updated",
        "An invoice changed; previous_attributes holds the old values.",
        event(
            "invoice.updated",
            _invoice("draft", description="Thanks for your business"),
            previous={"description": None},
        ),
    ),
    _trigger(
        "Invoices",
        "Invoice Deleted",
        "invoice.deleted",
        "A draft invoice was deleted (the event carries the invoice as it was).",
        event("invoice.deleted", _invoice("draft")),
    ),
    _trigger(
        "Invoices",
        "Invoice Sent",
        "invoice.sent",
        "An invoice was emailed to the customer.",
        event("invoice.sent", _invoice("open", collection_method="send_invoice")),
    ),
    _trigger(
        "Invoices",
        "Invoice Payment Failed",
        "invoice.payment_failed",
        "A payment attempt on an invoice failed.",
        event(
            "invoice.payment_failed",
            _invoice("open", attempted=True, attempt_count=1, next_payment_attempt=1767484800),
            from_api=False,
        ),
    ),
    _trigger(
        "Invoices",
        "Invoice Payment Succeeded",
        "invoice.payment_succeeded",
        "A payment attempt on an invoice succeeded.",
        event("invoice.payment_succeeded", _invoice("paid"), from_api=False),
    ),
    _trigger(
        "Invoices",
        "Invoice Marked Uncollectible",
        "invoice.marked_uncollectible",
        "An invoice was marked uncollectible.",
        event("invoice.marked_uncollectible", _invoice("uncollectible")),
    ),
    _trigger(
        "Invoices",
        "Invoice Paid",
        "invoice.paid",
        "An invoice was paid (by payment attempt or marked paid out of band).",
        event("invoice.paid", _invoice("paid"), from_api=False),
    ),
    _trigger(
        "Invoices",
        "Invoice Finalized",
        "invoice.finalized",
        "A draft invoice was finalized and can now be paid.",
        event("invoice.finalized", _invoice("open")),
    ),
    _trigger(
        "Payments",
        "Payment Intent Created",
        "payment_intent.created",
        "A payment intent was created.",
        event("payment_intent.created", base("payment_intent")),
    ),
    _trigger(
        "Payments",
        "Payment Intent Canceled",
        "payment_intent.canceled",
        "A payment intent was canceled.",
        event(
            "payment_intent.canceled",
            base(
                "payment_intent",
                status="canceled",
                canceled_at=SAMPLE_CREATED,
                cancellation_reason="requested_by_customer",
            ),
        ),
    ),
    _trigger(
        "Payments",
        "Payment Intent Succeeded",
        "payment_intent.succeeded",
        "A payment intent succeeded: the money was collected.",
        event("payment_intent.succeeded", base("payment_intent", **_SUCCEEDED_PI)),
    ),
    _trigger(
        "Coupons",
        "Coupon Created",
        "coupon.created",
        "A coupon was created.",
        event("coupon.created", base("coupon")),
    ),
    Trigger(
        key=CUSTOM_KEY,
        label="Custom event",
        group="Advanced",
        description=(
            "Any other Stripe event type you type in, e.g. charge.refunded or "
            "checkout.session.completed."
        ),
        event_type=None,
        sample=event(
            "example.custom_event",
            {"id": "obj_123", "object": "example", "livemode": False, "metadata": {}},
        ),
    ),
]
