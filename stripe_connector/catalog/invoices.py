"""Invoices and invoice items: the whole draft -> open -> paid/void/uncollectible life."""

from __future__ import annotations

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, exactly_one, object_operation
from stripe_connector.catalog.search import SearchField, search_action

GROUP = "Invoices"
INVOICE_ID = s.stripe_id("in", "Invoice id (in_...)")
# A payment term is a number of days or a date, not both.
DUE = ("days_until_due", "due_date")


def _by_id(**extra: s.Schema) -> s.Schema:
    """Input of the actions that only take an invoice id (plus a few options)."""
    return s.input_schema({"id": INVOICE_ID, **extra}, required=["id"])


def _line_amount() -> s.Schema:
    """Invoice item amounts may be negative (a credit line)."""
    return s.integer("Amount of the line, in the smallest currency unit; negative for a credit")


def _editable() -> dict[str, s.Schema]:
    """Fields of a draft invoice people commonly set."""
    return {
        "auto_advance": s.boolean("Let Stripe finalize and collect the invoice automatically"),
        "collection_method": s.collection_method(),
        "days_until_due": s.days_until_due(),
        "due_date": s.timestamp("Due date (send_invoice only)"),
        "description": s.string("Memo shown on the invoice"),
        "footer": s.string("Footer shown on the invoice"),
        "metadata": s.metadata(),
        "default_payment_method": s.expandable(s.string("Payment method id (pm_...) to charge")),
        "expand": s.expand(),
    }


def _invoice_action(key: str, label: str, suffix: str, description: str, **extra) -> Action:
    """A POST on ``/v1/invoices/{id}/<suffix>`` (finalize, pay, send, void, ...)."""
    return object_operation(
        key=key,
        label=label,
        group=GROUP,
        description=description,
        resource="invoices",
        id_schema=INVOICE_ID,
        suffix=suffix,
        **extra,
    )


SEARCH_FIELDS = (
    SearchField(
        "status", "enum", "Invoice status", ("draft", "open", "paid", "uncollectible", "void")
    ),
    SearchField("customer", "string", "Customer id (cus_...)"),
    SearchField("created", "timestamp", "When the invoice was created"),
    SearchField("currency", "string", "Three-letter currency code, e.g. usd"),
    SearchField("metadata", "metadata", "Metadata values"),
    SearchField("number", "string", "Invoice number, e.g. 7FE1103-0001"),
    SearchField("receipt_number", "string", "Receipt number"),
    SearchField("subscription", "string", "Subscription id (sub_...)"),
    SearchField("total", "number", "Invoice total in the smallest currency unit"),
)

ACTIONS = [
    search_action(
        "search_invoice", "Search Invoice", GROUP, "/v1/invoices/search", SEARCH_FIELDS, "invoices"
    ),
    Action(
        key="create_invoice",
        label="Create Invoice",
        group=GROUP,
        description="Create a draft invoice for a customer; add lines with Create Invoice Item.",
        method="POST",
        path="/v1/invoices",
        input_schema=s.input_schema(
            {
                "customer": s.stripe_id("cus", "Customer id (cus_...)"),
                "subscription": s.stripe_id("sub", "Subscription id (sub_...) to invoice"),
                "currency": s.currency(),
                "pending_invoice_items_behavior": s.enum(
                    "include pulls in the customer's pending invoice items",
                    "include",
                    "exclude",
                ),
                **_editable(),
            },
            required=["customer"],
            exclusive=[DUE],
        ),
    ),
    Action(
        key="update_invoice",
        label="Update Invoice",
        group=GROUP,
        description="Change an invoice; most fields only while it is a draft.",
        method="POST",
        path="/v1/invoices/{id}",
        input_schema=s.input_schema(
            {"id": INVOICE_ID, **s.clearing(_editable(), "metadata")},
            required=["id"],
            exclusive=[DUE],
        ),
    ),
    Action(
        key="find_invoice",
        label="Find Invoice",
        group=GROUP,
        description="Retrieve an invoice by id.",
        method="GET",
        path="/v1/invoices/{id}",
        input_schema=_by_id(expand=s.expand()),
        mutates=False,
    ),
    Action(
        key="delete_invoice",
        label="Delete Invoice",
        group=GROUP,
        description="Delete a draft invoice (finalized invoices can only be voided).",
        method="DELETE",
        path="/v1/invoices/{id}",
        input_schema=_by_id(),
    ),
    _invoice_action(
        "finalize_invoice",
        "Finalize Invoice",
        "finalize",
        "Finalize a draft invoice so it can be paid.",
        auto_advance=s.boolean("Let Stripe collect the invoice automatically afterwards"),
    ),
    _invoice_action(
        "mark_invoice_uncollectible",
        "Mark Invoice as Uncollectible",
        "mark_uncollectible",
        "Mark an open invoice as uncollectible (bad debt).",
    ),
    _invoice_action(
        "pay_invoice",
        "Pay Invoice",
        "pay",
        "Pay an open invoice now, or record that it was paid outside Stripe.",
        paid_out_of_band=s.boolean("Record a payment made outside Stripe (no charge)"),
        payment_method=s.expandable(s.string("Payment method id (pm_...) to charge")),
        source=s.expandable(s.string("Legacy payment source id to charge")),
        forgive=s.boolean("Accept a partial payment and forgive the rest"),
        off_session=s.boolean("The customer is not present (default true)"),
    ),
    Action(
        key="create_invoice_item",
        label="Create Invoice Item",
        group=GROUP,
        description=(
            "Add a line to a customer's next invoice, or to a given draft invoice "
            "(an amount, or a price)."
        ),
        method="POST",
        path="/v1/invoiceitems",
        input_schema=s.input_schema(
            {
                "customer": s.stripe_id("cus", "Customer id (cus_...)"),
                "invoice": s.stripe_id("in", "Draft invoice id (in_...) to add the line to"),
                "amount": _line_amount(),
                "currency": s.currency(),
                "pricing": s.obj(
                    {"price": s.expandable(s.string("Price id (price_...)", min_length=1))},
                    "Charge an existing price instead of an amount",
                    required=("price",),
                ),
                "quantity": s.integer("Quantity (with pricing.price)", minimum=1),
                "description": s.string("Text of the line"),
                "subscription": s.stripe_id("sub", "Subscription id (sub_...) it belongs to"),
                "discountable": s.boolean("Whether discounts apply to this line"),
                "metadata": s.metadata(),
                "expand": s.expand(),
            },
            required=["customer"],
        ),
        rules=(exactly_one("amount", "pricing"),),
    ),
    _invoice_action(
        "send_invoice",
        "Send Invoice",
        "send",
        "Email an open invoice to the customer (collection_method send_invoice).",
    ),
    _invoice_action(
        "void_invoice",
        "Void Invoice",
        "void",
        "Void a finalized invoice that should not be paid.",
    ),
]
