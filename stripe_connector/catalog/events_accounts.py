"""Events and accounts: read an event, read the connection's (or a connected) account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult, call, send

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

GROUP = "Events & Accounts"


def get_account(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Without an id, the account that owns the key (``GET /v1/account``)."""
    if "id" in data:
        return send(action, client, data, None)
    return call(client, "GET", "/v1/account", data, None)


ACTIONS = [
    Action(
        key="retrieve_event",
        label="Retrieve Event",
        group=GROUP,
        description="Retrieve an event (last 30 days) by id.",
        method="GET",
        path="/v1/events/{id}",
        input_schema=s.input_schema(
            {"id": s.stripe_id("evt", "Event id (evt_...)"), "expand": s.expand()},
            required=["id"],
        ),
        mutates=False,
    ),
    Action(
        key="get_account",
        label="Get Account",
        group=GROUP,
        description="Read the connection's own account, or a connected account by id.",
        method="GET",
        path="/v1/accounts/{id}",
        input_schema=s.input_schema(
            {
                "id": s.stripe_id(
                    "acct", "Connected account id (acct_...); empty for your own account"
                ),
                "expand": s.expand(),
            }
        ),
        handler=get_account,
        call_note="without id: GET /v1/account",
        mutates=False,
    ),
]
