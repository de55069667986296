"""Customers: create, update, find (by id or exact email), delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import (
    Action,
    ActionResult,
    ObjectNotFound,
    exactly_one,
    fill_path,
)
from stripe_connector.errors import StripeError

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

GROUP = "Customers"
CUSTOMER_ID = s.stripe_id("cus", "Customer id (cus_...)")
CLEARABLE_ON_UPDATE = ("metadata", "address", "shipping", "tax_exempt")


def _fields() -> dict[str, s.Schema]:
    """What people commonly set on a customer, for create and update."""
    return {
        "email": s.string("Email address", max_length=512),
        "name": s.string("Full name or business name", max_length=256),
        "phone": s.string("Phone number", max_length=20),
        "description": s.string("Internal note shown in the Dashboard"),
        "address": s.address("Billing address"),
        "shipping": s.obj(
            {
                "name": s.string("Recipient name"),
                "phone": s.string("Recipient phone"),
                "address": s.address("Shipping address"),
            },
            "Shipping details",
            required=("name", "address"),
        ),
        "metadata": s.metadata(),
        "preferred_locales": s.array(s.string("Locale, e.g. en or fr-FR"), "Preferred languages"),
        "tax_exempt": s.enum("Tax exemption status", "none", "exempt", "reverse"),
        "invoice_settings": s.obj(
            {
                "default_payment_method": s.expandable(
                    s.string("Payment method id (pm_...) used for invoices")
                )
            },
            "Invoice defaults",
        ),
        "expand": s.expand(),
    }


def find_customer(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Retrieve by id, or list with the exact ``email`` filter (read-after-write, unlike search).

    A deleted customer counts as not found. ``if_not_found`` decides between a
    clear error ("fail", the default) and ``{"found": false}`` ("empty").
    """
    mode = data.get("if_not_found", "fail")
    try:
        customer, request_id = _lookup(client, data)
    except StripeError as err:
        if err.http_status == 404 and mode == "empty":
            return ActionResult({"found": False}, err.request_id)
        raise
    if customer and not customer.get("deleted"):
        return ActionResult({**customer, "found": True}, request_id)
    if mode == "empty":
        return ActionResult({"found": False}, request_id)
    what = f"email {data['email']}" if "email" in data else f"id {data['id']} (deleted)"
    param = "email" if "email" in data else "id"
    raise ObjectNotFound(f"No customer with {what}.", param=param, request_id=request_id)


def _lookup(client: StripeClient, data: dict[str, Any]) -> tuple[dict | None, str | None]:
    """The customer (or None) and the request id; by email, the most recent match wins."""
    expand = {"expand": data["expand"]} if data.get("expand") else {}
    if "id" in data:
        path, _ = fill_path("/v1/customers/{id}", data)
        response = client.request("GET", path, expand or None)
        return response.data, response.request_id
    params = {"email": data["email"], "limit": 1, **_list_expand(expand)}
    response = client.request("GET", "/v1/customers", params)
    matches = response.data.get("data", [])
    return (matches[0] if matches else None), response.request_id


def _list_expand(expand: dict[str, list[str]]) -> dict[str, list[str]]:
    """On a list call, expansions apply to each object under ``data.``."""
    return {"expand": [f"data.{path}" for path in expand["expand"]]} if expand else {}


ACTIONS = [
    Action(
        key="create_customer",
        label="Create Customer",
        group=GROUP,
        description="Create a customer with email, name and optional details.",
        method="POST",
        path="/v1/customers",
        input_schema=s.input_schema(
            {
                **_fields(),
                "payment_method": s.expandable(s.string("Payment method id (pm_...) to attach")),
            }
        ),
    ),
    Action(
        key="update_customer",
        label="Update Customer",
        group=GROUP,
        description="Change a customer's details; metadata merges, an empty value removes a key.",
        method="POST",
        path="/v1/customers/{id}",
        # Unsettable with "" (docs.stripe.com/api/customers/update).
        input_schema=s.input_schema(
            {"id": CUSTOMER_ID, **s.clearing(_fields(), *CLEARABLE_ON_UPDATE)}, required=["id"]
        ),
    ),
    Action(
        key="find_customer",
        label="Find Customer",
        group=GROUP,
        description=(
            "Find a customer by id, or by exact email (the most recent match). Output: the "
            "customer with found=true; when nothing matches, an error or just found=false."
        ),
        method="GET",
        path="/v1/customers/{id}",
        input_schema=s.input_schema(
            {
                "id": CUSTOMER_ID,
                "email": s.string("Exact email address (case-sensitive)", min_length=1),
                "if_not_found": s.enum(
                    "fail: stop with an error (default); empty: output found=false",
                    "fail",
                    "empty",
                ),
                "expand": s.expand(),
            }
        ),
        handler=find_customer,
        call_note="by email: GET /v1/customers?email=",
        mutates=False,
        rules=(exactly_one("id", "email"),),
    ),
    Action(
        key="delete_customer",
        label="Delete Customer",
        group=GROUP,
        description="Permanently delete a customer and cancel its active subscriptions.",
        method="DELETE",
        path="/v1/customers/{id}",
        input_schema=s.input_schema({"id": CUSTOMER_ID}, required=["id"]),
    ),
]
