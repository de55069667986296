"""Prices: create, update, find, search, archive (Stripe never deletes a price)."""

from __future__ import annotations

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, exactly_one
from stripe_connector.catalog.search import SearchField, search_action

GROUP = "Prices"
# Legacy plans can be read through the prices API with their custom ids, so no prefix check.
PRICE_ID = s.stripe_id(None, "Price id (price_...)")
TAX_BEHAVIOR = s.enum("Whether the amount includes tax", "inclusive", "exclusive", "unspecified")


def _mutable() -> dict[str, s.Schema]:
    """The few fields Stripe lets you change on an existing price."""
    return {
        "active": s.boolean("Whether the price can be used for new purchases"),
        "metadata": s.metadata(),
        "nickname": s.string("Internal name, not shown to customers"),
        "lookup_key": s.string("Stable key to find the price by, e.g. pro_monthly", max_length=200),
        "transfer_lookup_key": s.boolean("Move the lookup_key from the price that has it"),
        "tax_behavior": TAX_BEHAVIOR,
        "expand": s.expand(),
    }


_RECURRING = s.obj(
    {
        "interval": s.enum("Billing interval", "day", "week", "month", "year"),
        "interval_count": s.integer("Intervals between bills, e.g. 3 for quarterly", minimum=1),
        "usage_type": s.enum(
            "licensed: per seat; metered: by reported usage", "licensed", "metered"
        ),
        "trial_period_days": s.integer("Default trial length in days", minimum=0),
        "meter": s.string("Billing meter id (mtr_...) that reports the usage (metered prices)"),
    },
    "Makes it a subscription price",
    required=("interval",),
    # Since API version 2025-03-31 Stripe refuses a metered price without a meter
    # (docs.stripe.com/changelog/basil/2025-03-31/deprecate-legacy-usage-based-billing).
    required_when={"meter": {"usage_type": "metered"}},
)

_PRODUCT_DATA = s.obj(
    {
        "name": s.string("Name of the new product", min_length=1),
        "active": s.boolean("Whether the new product is active"),
        "metadata": s.metadata(),
        "unit_label": s.string("Unit shown on invoices", max_length=12),
    },
    "Create a product together with the price",
    required=("name",),
)

_CUSTOM_UNIT_AMOUNT = s.obj(
    {
        "enabled": s.boolean("Let the customer choose the amount (pay what you want)"),
        "minimum": s.amount("Smallest amount accepted"),
        "maximum": s.amount("Largest amount accepted"),
        "preset": s.amount("Amount suggested"),
    },
    "Customer-chosen amount instead of unit_amount",
    required=("enabled",),
)

SEARCH_FIELDS = (
    SearchField("active", "boolean", "Only active (true) or archived (false) prices"),
    SearchField("currency", "string", "Three-letter currency code, e.g. usd"),
    SearchField("lookup_key", "string", "Exact lookup key"),
    SearchField("metadata", "metadata", "Metadata values"),
    SearchField("product", "string", "Product id (prod_...)"),
    SearchField("type", "enum", "one_time or recurring", ("one_time", "recurring")),
)

ACTIONS = [
    Action(
        key="create_price",
        label="Create Price",
        group=GROUP,
        description=(
            "Create a price for a product (or a new product). Add recurring.interval "
            "for a subscription price."
        ),
        method="POST",
        path="/v1/prices",
        input_schema=s.input_schema(
            {
                "currency": s.currency(),
                "product": s.expandable(s.string("Product id (prod_...) the price belongs to")),
                "product_data": _PRODUCT_DATA,
                "unit_amount": s.amount("Price per unit"),
                "unit_amount_decimal": s.string(
                    "Price per unit with decimals, in the smallest unit, e.g. 12.5",
                    pattern=r"^\d+(\.\d{1,12})?$",
                ),
                "custom_unit_amount": _CUSTOM_UNIT_AMOUNT,
                "recurring": _RECURRING,
                **_mutable(),
            },
            required=["currency"],
        ),
        rules=(
            exactly_one("product", "product_data"),
            exactly_one("unit_amount", "unit_amount_decimal", "custom_unit_amount"),
        ),
    ),
    Action(
        key="update_price",
        label="Update Price",
        group=GROUP,
        description="Change the mutable fields of a price (amounts and currency never change).",
        method="POST",
        path="/v1/prices/{id}",
        input_schema=s.input_schema(
            {"id": PRICE_ID, **s.clearing(_mutable(), "metadata")}, required=["id"]
        ),
    ),
    Action(
        key="find_price",
        label="Find Price",
        group=GROUP,
        description="Retrieve a price by id.",
        method="GET",
        path="/v1/prices/{id}",
        input_schema=s.input_schema({"id": PRICE_ID, "expand": s.expand()}, required=["id"]),
        mutates=False,
    ),
    search_action(
        "search_price", "Search Price", GROUP, "/v1/prices/search", SEARCH_FIELDS, "prices"
    ),
    Action(
        key="archive_price",
        label="Archive Price",
        group=GROUP,
        description="Archive a price (active=false): no new sales; existing subscriptions go on.",
        method="POST",
        path="/v1/prices/{id}",
        input_schema=s.input_schema({"id": PRICE_ID, "expand": s.expand()}, required=["id"]),
        fixed_params={"active": False},
        call_note="active=false",
    ),
]
