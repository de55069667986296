"""Subscriptions: create, update, find (also by item id), cancel, search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult, call, fill_path, send
from stripe_connector.catalog.search import SearchField, search_action

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

GROUP = "Subscriptions"
SUBSCRIPTION_ID = s.stripe_id("sub", "Subscription id (sub_...)")
PRORATION = s.enum(
    "How changes are prorated",
    "create_prorations",
    "always_invoice",
    "none",
)
PAYMENT_BEHAVIOR = s.enum(
    "What happens when the first payment needs action or fails",
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)


def _common() -> dict[str, s.Schema]:
    """Fields shared by create and update."""
    return {
        "collection_method": s.collection_method(),
        "days_until_due": s.days_until_due(),
        "default_payment_method": s.expandable(s.string("Payment method id (pm_...) to charge")),
        "description": s.string("Description shown on invoices and in the Dashboard"),
        "metadata": s.metadata(),
        "cancel_at_period_end": s.boolean("Cancel when the current period ends"),
        "trial_end": s.timestamp("End of the trial"),
        "payment_behavior": PAYMENT_BEHAVIOR,
        "proration_behavior": PRORATION,
        "discounts": s.array(
            s.obj(
                {
                    "coupon": s.expandable(s.string("Coupon id")),
                    "promotion_code": s.expandable(s.string("Promotion code id (promo_...)")),
                },
                "A coupon or a promotion code",
            ),
            "Discounts to apply",
        ),
        "expand": s.expand(),
    }


_NEW_ITEM = s.obj(
    {
        "price": s.expandable(s.string("Price id (price_...)", min_length=1)),
        "quantity": s.integer("Quantity, e.g. seats", minimum=0),
        "metadata": s.metadata(),
    },
    "One price of the subscription",
    required=("price",),
)

_CHANGED_ITEM = s.obj(
    {
        "id": s.stripe_id("si", "Existing subscription item id (si_...) to change"),
        "price": s.expandable(s.string("Price id (price_...) to switch to or add")),
        "quantity": s.integer("New quantity", minimum=0),
        "deleted": s.boolean("Remove this item"),
        "metadata": s.clearable(s.metadata()),
    },
    "An item to change (with id) or add (with price)",
)


def find_subscription(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """``sub_`` ids read the subscription, ``si_`` ids the subscription item."""
    template = "/v1/subscription_items/{id}" if data["id"].startswith("si_") else action.path
    path, params = fill_path(template, data)
    return call(client, "GET", path, params, None)


def cancel_subscription(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Cancel now (DELETE), or at period end, which in Stripe is an update."""
    if not data.get("at_period_end"):
        return send(action, client, {k: v for k, v in data.items() if k != "at_period_end"}, None)
    path, _ = fill_path("/v1/subscriptions/{id}", data)
    params = {"cancel_at_period_end": True, "expand": data.get("expand")}
    if "cancellation_details" in data:
        params["cancellation_details"] = data["cancellation_details"]
    return call(client, "POST", path, params, idempotency_key)


def _immediate_only(data: dict[str, Any]) -> list[dict[str, str]]:
    """invoice_now and prorate only mean something for an immediate cancellation."""
    if not data.get("at_period_end"):
        return []
    return [
        {"field": name, "message": "only applies when canceling now (at_period_end false)"}
        for name in ("invoice_now", "prorate")
        if name in data
    ]


SEARCH_FIELDS = (
    SearchField(
        "status",
        "enum",
        "Subscription status",
        (
            "active",
            "past_due",
            "unpaid",
            "canceled",
            "incomplete",
            "incomplete_expired",
            "trialing",
            "paused",
        ),
    ),
    SearchField("created", "timestamp", "When the subscription was created"),
    SearchField("canceled_at", "timestamp", "When the subscription was canceled"),
    SearchField("metadata", "metadata", "Metadata values"),
)

ACTIONS = [
    Action(
        key="create_subscription",
        label="Create Subscription",
        group=GROUP,
        description="Subscribe a customer to one or more prices.",
        method="POST",
        path="/v1/subscriptions",
        input_schema=s.input_schema(
            {
                "customer": s.stripe_id("cus", "Customer id (cus_...)"),
                "items": s.array(_NEW_ITEM, "Prices to subscribe to", min_items=1),
                "currency": s.currency(),
                "trial_period_days": s.integer("Trial length in days", minimum=0),
                **_common(),
            },
            required=["customer", "items"],
            exclusive=[("trial_end", "trial_period_days")],
        ),
    ),
    Action(
        key="update_subscription",
        label="Update Subscription",
        group=GROUP,
        description="Change prices, quantities, metadata or billing of a subscription.",
        method="POST",
        path="/v1/subscriptions/{id}",
        input_schema=s.input_schema(
            {
                "id": SUBSCRIPTION_ID,
                "items": s.array(_CHANGED_ITEM, "Items to change, add or remove"),
                "cancel_at": s.clearable(s.timestamp("Cancel at this time")),
                # Unsettable with "" (docs.stripe.com/api/subscriptions/update).
                **s.clearing(_common(), "metadata", "discounts"),
            },
            required=["id"],
            exclusive=[("cancel_at", "cancel_at_period_end")],
        ),
    ),
    Action(
        key="find_subscription",
        label="Find Subscription",
        group=GROUP,
        description="Retrieve a subscription (sub_...) or a specific subscription item (si_...).",
        method="GET",
        path="/v1/subscriptions/{id}",
        input_schema=s.input_schema(
            {
                "id": s.stripe_id(("sub", "si"), "Subscription id (sub_...) or item id (si_...)"),
                "expand": s.expand(),
            },
            required=["id"],
        ),
        handler=find_subscription,
        call_note="si_ ids: GET /v1/subscription_items/{id}",
        mutates=False,
    ),
    Action(
        key="cancel_subscription",
        label="Cancel Subscription",
        group=GROUP,
        description="Cancel now, or at the end of the current period (at_period_end).",
        method="DELETE",
        path="/v1/subscriptions/{id}",
        input_schema=s.input_schema(
            {
                "id": SUBSCRIPTION_ID,
                "at_period_end": s.boolean(
                    "Cancel when the current period ends instead of now (sets cancel_at_period_end)"
                ),
                "invoice_now": s.boolean("Invoice pending usage and prorations now"),
                "prorate": s.boolean("Credit the unused time"),
                "cancellation_details": s.obj(
                    {
                        "comment": s.string("Why the customer canceled, in their words"),
                        "feedback": s.enum(
                            "Reason picked by the customer",
                            "customer_service",
                            "low_quality",
                            "missing_features",
                            "other",
                            "switched_service",
                            "too_complex",
                            "too_expensive",
                            "unused",
                        ),
                    },
                    "Why the subscription is canceled",
                ),
                "expand": s.expand(),
            },
            required=["id"],
        ),
        handler=cancel_subscription,
        call_note="at period end: POST /v1/subscriptions/{id} cancel_at_period_end=true",
        rules=(_immediate_only,),
    ),
    search_action(
        "search_subscription",
        "Search Subscription",
        GROUP,
        "/v1/subscriptions/search",
        SEARCH_FIELDS,
        "subscriptions",
    ),
]
