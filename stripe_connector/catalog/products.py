"""Products: create, update, find, search, delete (with the archive hint)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult, send, with_hint
from stripe_connector.catalog.search import SearchField, search_action
from stripe_connector.errors import StripeError

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

GROUP = "Products"
# Products may carry an id chosen by the user ("gold-plan"), so no prefix check.
PRODUCT_ID = s.stripe_id(None, "Product id (prod_... or your own id)")
ARCHIVE_HINT = (
    "A product with prices cannot be deleted: archive it instead "
    "(Update Product with active=false)."
)


def _fields() -> dict[str, s.Schema]:
    """What people commonly set on a product, for create and update."""
    return {
        "name": s.string("Name shown to customers", min_length=1),
        "description": s.string("Description shown to customers"),
        "active": s.boolean("Whether the product can be bought"),
        "metadata": s.metadata(),
        "images": s.array(s.string("Image URL", fmt="uri"), "Up to 8 image URLs"),
        "url": s.string("Public web page of the product"),
        "shippable": s.boolean("Whether the product is shipped (physical goods)"),
        "statement_descriptor": s.string("Text on the card statement", max_length=22),
        "tax_code": s.expandable(s.string("Stripe tax code id (txcd_...)")),
        "unit_label": s.string("Unit shown on invoices, e.g. seat", max_length=12),
        "expand": s.expand(),
    }


_DEFAULT_PRICE = s.obj(
    {
        "currency": s.currency(),
        "unit_amount": s.amount("Price per unit"),
        "recurring": s.obj(
            {
                "interval": s.enum("Billing interval", "day", "week", "month", "year"),
                "interval_count": s.integer("Intervals between bills, e.g. 3 months", minimum=1),
            },
            "Makes it a subscription price",
            required=("interval",),
        ),
    },
    "Create a default price together with the product",
    required=("currency", "unit_amount"),
)


def delete_product(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Delete; Stripe refuses (400) when the product has prices, so say how to archive it."""
    try:
        return send(action, client, data, idempotency_key)
    except StripeError as err:
        if err.http_status == 400 and "price" in err.message.lower():
            raise with_hint(err, ARCHIVE_HINT) from err
        raise


SEARCH_FIELDS = (
    SearchField("active", "boolean", "Only active (true) or archived (false) products"),
    SearchField("name", "string", "Exact product name"),
    SearchField("description", "string", "Exact description"),
    SearchField("metadata", "metadata", "Metadata values"),
    SearchField("shippable", "boolean", "Whether the product is shippable"),
    SearchField("url", "string", "Exact product URL"),
)

ACTIONS = [
    Action(
        key="create_product",
        label="Create Product",
        group=GROUP,
        description="Create a product, optionally with a default price.",
        method="POST",
        path="/v1/products",
        input_schema=s.input_schema(
            {
                "id": s.string("Your own id for the product (optional)"),
                **_fields(),
                "default_price_data": _DEFAULT_PRICE,
            },
            required=["name"],
        ),
    ),
    Action(
        key="update_product",
        label="Update Product",
        group=GROUP,
        description="Change a product; set active=false to archive it.",
        method="POST",
        path="/v1/products/{id}",
        input_schema=s.input_schema(
            {
                "id": PRODUCT_ID,
                # Unsettable with "" (docs.stripe.com/api/products/update).
                **s.clearing(_fields(), "metadata", "images"),
                "default_price": s.expandable(s.string("Price id (price_...) to make the default")),
            },
            required=["id"],
        ),
    ),
    Action(
        key="find_product",
        label="Find Product",
        group=GROUP,
        description="Retrieve a product by id.",
        method="GET",
        path="/v1/products/{id}",
        input_schema=s.input_schema({"id": PRODUCT_ID, "expand": s.expand()}, required=["id"]),
        mutates=False,
    ),
    search_action(
        "search_product", "Search Product", GROUP, "/v1/products/search", SEARCH_FIELDS, "products"
    ),
    Action(
        key="delete_product",
        label="Delete Product",
        group=GROUP,
        description="Delete a product without prices; products with prices can only be archived.",
        method="DELETE",
        path="/v1/products/{id}",
        input_schema=s.input_schema({"id": PRODUCT_ID}, required=["id"]),
        handler=delete_product,
    ),
]
