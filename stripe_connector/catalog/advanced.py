"""The generic "Stripe API request": any endpoint under /v1/ with the connection's key."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult, call

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

GROUP = "Advanced"
# A path of plain segments under /v1/: no query string (params go in params), no
# scheme or host (the key must only ever reach the connection's API base).
PATH_PATTERN = r"^/v1/[A-Za-z0-9_.~%-]+(/[A-Za-z0-9_.~%-]+)*$"
# Percent-escapes of '%', '.', '/' and '\': a server or proxy that decodes them
# (once or several times) would see other segments than the ones checked here.
_ENCODED_SPECIAL = re.compile(r"%(25|2e|2f|5c)", re.IGNORECASE)


def stripe_api_request(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Send the request as given; POSTs carry the step's idempotency key like any other."""
    return call(client, data["method"], data["path"], data.get("params", {}), idempotency_key)


def _safe_path(data: dict[str, Any]) -> list[dict[str, str]]:
    """Refuse a path that could mean another one once a server decodes it.

    ``/v1/%2e%2e/x`` is ``/v1/../x`` to the server. The path is checked as it
    is sent (it is sent unchanged) and as it reads once fully percent-decoded.
    """
    problem = _path_problem(data["path"])
    return [{"field": "path", "message": problem}] if problem else []


def _path_problem(path: str) -> str:
    """Why ``path`` is refused, or "" when it is a plain path under /v1/."""
    decoded = _fully_decoded(path)
    if _ENCODED_SPECIAL.search(path):
        return "must not percent-encode '%', '.', '/' or '\\'"
    if not decoded.startswith("/v1/"):
        return "must be under /v1/"
    if any(ch in decoded for ch in "?#\\") or not decoded.isprintable():
        return "must not contain '?', '#', '\\' or control characters, even percent-encoded"
    if any(segment in ("", ".", "..") for segment in decoded.split("/")[1:]):
        return "must not contain empty, . or .. segments"
    return ""


def _fully_decoded(path: str) -> str:
    """Percent-decode until nothing changes (each round that changes it shortens it)."""
    while (decoded := unquote(path)) != path:
        path = decoded
    return path


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
        rules=(_safe_path,),
    ),
]
