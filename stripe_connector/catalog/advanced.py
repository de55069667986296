"""The generic "Stripe API request": any endpoint under /v1/ with the connection's key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult, call

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

GROUP = "Advanced"
# A path of plain segments under /v1/: no query string (params go in params), no
# scheme or host (the key must only ever reach the connection's API base).
PATH_PATTERN = r"^/v1/[A-Za-z0-9_.~%-]+(/[A-Za-z0-9_.~%-]+)*$"


def stripe_api_request(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Send the request as given; POSTs carry the step's idempotency key like any other."""
    return call(client, data["method"], data["path"], data.get("params", {}), idempotency_key)


def _no_dot_segments(data: dict[str, Any]) -> list[dict[str, str]]:
    """``/v1/../x`` would leave the API's namespace; refuse dot segments."""
    segments = data["path"].split("/")
    if any(segment in (".", "..") for segment in segments):
        return [{"field": "path", "message": "must not contain . or .. segments"}]
    return []


ACTIONS = [
    Action(
        key="stripe_api_request",
        label="Stripe API request",
        group=GROUP,
        description=(
            "Call any Stripe endpoint with this connection's key: method, path under /v1/ "
            "and parameters (form-encoded like every other action)."
        ),
        method="ANY",
        path="/v1/{path}",
        input_schema=s.input_schema(
            {
                "method": s.enum("HTTP method", "GET", "POST", "DELETE"),
                "path": s.string(
                    "Path under /v1/, e.g. /v1/refunds or /v1/charges/ch_123", pattern=PATH_PATTERN
                ),
                "params": {
                    "type": "object",
                    "description": "Parameters: query string for GET/DELETE, form body for POST",
                },
            },
            required=["method", "path"],
        ),
        handler=stripe_api_request,
        call_note="GET, POST or DELETE",
        rules=(_no_dot_segments,),
    ),
]
