"""Coupons: create, update (name and metadata only), find, delete."""

from __future__ import annotations

from typing import Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, exactly_one

GROUP = "Coupons"
# Coupon ids are often codes chosen by the user (SUMMER25), so no prefix check.
COUPON_ID = s.stripe_id(None, "Coupon id (the code, e.g. SUMMER25)")


def _duration_rule(data: dict[str, Any]) -> list[dict[str, str]]:
    """duration_in_months only means something with duration repeating.

    (The companions, amount_off -> currency and repeating -> duration_in_months,
    are declared in the schema.)
    """
    if data.get("duration") != "repeating" and "duration_in_months" in data:
        return [{"field": "duration_in_months", "message": "only with duration repeating"}]
    return []


ACTIONS = [
    Action(
        key="create_coupon",
        label="Create Coupon",
        group=GROUP,
        description="Create a percentage or fixed-amount discount, once, repeating or forever.",
        method="POST",
        path="/v1/coupons",
        input_schema=s.input_schema(
            {
                "id": s.string("Your own code for the coupon, e.g. SUMMER25 (optional)"),
                "name": s.string("Name shown to customers", max_length=40),
                "percent_off": s.number("Percentage off", exclusive_minimum=0, maximum=100),
                "amount_off": s.amount("Fixed amount off"),
                "currency": s.currency("Currency of amount_off, e.g. usd"),
                "duration": s.enum(
                    "How long the discount lasts (default once)", "once", "repeating", "forever"
                ),
                "duration_in_months": s.integer("Months, with duration repeating", minimum=1),
                "max_redemptions": s.integer("How many times it can be redeemed", minimum=1),
                "redeem_by": s.timestamp("Last time it can be redeemed"),
                "applies_to": s.obj(
                    {
                        "products": s.array(
                            s.expandable(s.string("Product id")), "Products it applies to"
                        )
                    },
                    "Limit the coupon to some products",
                ),
                "metadata": s.metadata(),
            },
            companions={"amount_off": ["currency"]},
            required_when={"duration_in_months": {"duration": "repeating"}},
        ),
        rules=(exactly_one("percent_off", "amount_off"), _duration_rule),
    ),
    Action(
        key="update_coupon",
        label="Update Coupon",
        group=GROUP,
        description="Rename a coupon or change its metadata (nothing else can change).",
        method="POST",
        path="/v1/coupons/{id}",
        input_schema=s.input_schema(
            {
                "id": COUPON_ID,
                "name": s.string("Name shown to customers", max_length=40),
                "metadata": s.clearable(s.metadata()),
            },
            required=["id"],
        ),
    ),
    Action(
        key="find_coupon",
        label="Find Coupon",
        group=GROUP,
        description="Retrieve a coupon by id.",
        method="GET",
        path="/v1/coupons/{id}",
        input_schema=s.input_schema({"id": COUPON_ID, "expand": s.expand()}, required=["id"]),
        mutates=False,
    ),
    Action(
        key="delete_coupon",
        label="Delete Coupon",
        group=GROUP,
        description="Delete a coupon; discounts already applied stay.",
        method="DELETE",
        path="/v1/coupons/{id}",
        input_schema=s.input_schema({"id": COUPON_ID}, required=["id"]),
    ),
]
