"""Each connection's one webhook endpoint in Stripe, kept matching the event types in use.

``sync_webhook_endpoint`` makes Stripe match; ``check_webhook_endpoint`` (run
periodically) finds drift and calls it. Both record their outcome on the
connection (``webhook_status``, ``webhook_error``, ``webhook_synced_at``) and
return a ``SyncResult``; neither raises for a Stripe failure, so a caller such
as a workflow save never fails because Stripe is unreachable, yet staff see
the problem on the connection and in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.tasks import async_task

from connections.models import Connection
from konnectify.platform import metrics
from konnectify.platform.commit import after_commit
from stripe_connector.client import StripeClient
from stripe_connector.errors import StripeError, redact_secrets

logger = logging.getLogger(__name__)

ENDPOINTS = "/v1/webhook_endpoints"
PRODUCT = "konnectify"
WEBHOOK_FIELDS = [
    "webhook_endpoint_id",
    "webhook_secret",
    "previous_webhook_secret",
    "previous_secret_expires_at",
    "webhook_enabled_events",
    "webhook_status",
    "webhook_error",
    "webhook_synced_at",
    "events_cursor",
    "updated_at",
]


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: ``action`` is created, updated, repaired, deleted, unchanged,
    manual or failed; ``message`` is for staff (never contains a secret)."""

    ok: bool
    action: str
    message: str = ""


class SyncFailed(Exception):
    """A problem found while syncing that is not a StripeError (e.g. no secret returned)."""


# Who knows which event types a connection's endpoint must enable: the workflows app,
# which sits above connections in the layers (connections never imports it). It
# registers its answer here at start (WorkflowsConfig.ready); None: nobody registered.
EventTypesSource = Callable[[Connection], Iterable[str]]
event_types_source: EventTypesSource | None = None


def provide_event_types_with(source: EventTypesSource | None) -> None:
    """Register the function answering which event types a connection's endpoint needs.

    ``source(connection)`` returns those event types (any iterable of strings).
    Called once, by ``workflows.apps.WorkflowsConfig.ready``; None unregisters.
    """
    global event_types_source
    event_types_source = source


def event_types_in_use(connection: Connection) -> list[str]:
    """The event types the connection's endpoint should receive, sorted.

    The registered source answers (``provide_event_types_with``: the types of the
    connection's active workflows); with none registered, what the endpoint has
    enabled now, so nothing is removed by a sync.
    """
    source = event_types_source
    types = source(connection) if source else connection.webhook_enabled_events
    return sorted(set(types or []))


SYNC_TASK = "connections.tasks.sync_webhook_endpoint"


def request_endpoint_sync(connection_ids: Iterable[Any]) -> None:
    """After commit, make these connections' endpoints match the event types in use.

    A background task (``connections.tasks.sync_webhook_endpoint``), so a save
    in admin or the API never waits on Stripe; a failure is kept on the
    connection (``webhook_error``) and the periodic check retries it.
    """
    for connection_id in connection_ids:
        after_commit(async_task, SYNC_TASK, str(connection_id), task_name="sync-endpoint")


def sync_endpoint_in_use(connection: Connection) -> SyncResult:
    """``sync_webhook_endpoint`` with the event types in use; never raises.

    An unexpected failure (not Stripe's) is recorded on the connection like
    Stripe's, so staff see it in the one place endpoint problems are shown.
    """
    try:
        return sync_webhook_endpoint(connection, event_types_in_use(connection))
    except Exception as exc:  # never lose the failure: it is what staff must see
        logger.exception("Webhook endpoint sync failed for connection %s", connection.pk)
        return _record_failure(connection, redact_secrets(str(exc)))


def sync_webhook_endpoint(connection: Connection, event_types: Iterable[str]) -> SyncResult:
    """Make Stripe's endpoint for ``connection`` enable exactly ``event_types``.

    No endpoint yet: create it and store its signing secret. An endpoint: update
    it in place (url, enabled_events, re-enabled), never delete-and-recreate;
    when Stripe answers 404 (deleted in the dashboard) or it stays disabled,
    recreate it and store the new secret. No event types: delete it. In manual
    mode only record the event types staff must enable in Stripe's dashboard.
    """
    wanted = sorted(set(event_types))
    if connection.webhook_mode == Connection.WebhookMode.MANUAL:
        return _record_manual(connection, wanted)
    try:
        client = connection.client()
        if not wanted:
            return _delete(client, connection)
        if connection.webhook_endpoint_id:
            return _update(client, connection, wanted)
        return _create(client, connection, wanted)
    except (StripeError, SyncFailed, ValueError) as exc:
        return _record_failure(connection, exc)


def _endpoint_params(connection: Connection, wanted: list[str]) -> dict:
    return {
        "url": connection.webhook_url,
        "enabled_events": wanted,
        "api_version": connection.api_version,
        "description": f"Konnectify: connection {connection.name}"[:5000],
        "metadata": {"product": PRODUCT, "connection_id": str(connection.id)},
    }


def _create(
    client: StripeClient, connection: Connection, wanted: list[str], action: str = "created"
) -> SyncResult:
    """Create the endpoint (after removing leftovers of ours) and store its signing secret."""
    _delete_orphans(client, connection, _list_endpoints(client))
    endpoint = client.post(ENDPOINTS, _endpoint_params(connection, wanted)).data
    secret = endpoint.get("secret")
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise SyncFailed(f"Stripe created endpoint {endpoint.get('id')} without a signing secret.")
    connection.webhook_endpoint_id = endpoint["id"]
    connection.replace_webhook_secret(secret)
    return _record_success(connection, endpoint, wanted, action)


def _update(client: StripeClient, connection: Connection, wanted: list[str]) -> SyncResult:
    """Update enabled_events (and url, re-enable) in place; repair a deleted or dead endpoint."""
    path = f"{ENDPOINTS}/{connection.webhook_endpoint_id}"
    params = {"url": connection.webhook_url, "enabled_events": wanted, "disabled": False}
    try:
        endpoint = client.post(path, params).data
    except StripeError as exc:
        if exc.http_status == 404:
            return _recreate(client, connection, wanted, "it was deleted in Stripe")
        raise
    if endpoint.get("status") == "disabled":
        return _recreate(client, connection, wanted, "it stayed disabled in Stripe")
    if endpoint.get("api_version") not in (None, connection.api_version):
        # An endpoint's api_version is fixed at creation; only a new one can change it.
        return _recreate(client, connection, wanted, "its API version differs")
    return _record_success(connection, endpoint, wanted, "updated")


def _recreate(
    client: StripeClient, connection: Connection, wanted: list[str], reason: str
) -> SyncResult:
    """Replace a broken endpoint by a new one with a new signing secret."""
    logger.warning(
        "Recreating webhook endpoint %s of connection %s (%s): %s",
        connection.webhook_endpoint_id,
        connection.name,
        connection.id,
        reason,
    )
    _delete_quietly(client, connection.webhook_endpoint_id)
    connection.webhook_endpoint_id = ""
    result = _create(client, connection, wanted, action="repaired")
    return SyncResult(True, "repaired", f"Endpoint recreated because {reason}. {result.message}")


def _delete(client: StripeClient, connection: Connection) -> SyncResult:
    """No event types in use: delete the endpoint and forget its secrets."""
    if connection.webhook_endpoint_id:
        _delete_quietly(client, connection.webhook_endpoint_id)
    connection.webhook_endpoint_id = ""
    connection.webhook_secret = ""
    connection.previous_webhook_secret = ""
    connection.previous_secret_expires_at = None
    connection.webhook_enabled_events = []
    connection.webhook_status = Connection.WebhookStatus.NONE
    connection.webhook_error = ""
    connection.webhook_synced_at = timezone.now()
    connection.save(update_fields=WEBHOOK_FIELDS)
    return SyncResult(True, "deleted", "No event types in use: the endpoint is deleted.")


def _delete_quietly(client: StripeClient, endpoint_id: str) -> None:
    """DELETE an endpoint; one that is already gone is fine."""
    try:
        client.delete(f"{ENDPOINTS}/{endpoint_id}")
    except StripeError as exc:
        if exc.http_status != 404:
            raise


def _list_endpoints(client: StripeClient) -> list[dict]:
    return client.list_all(ENDPOINTS, {"limit": 100}, max_objects=500)


def _is_ours(endpoint: dict, connection: Connection) -> bool:
    metadata = endpoint.get("metadata") or {}
    return metadata.get("connection_id") == str(connection.id)


def _delete_orphans(client: StripeClient, connection: Connection, endpoints: list[dict]) -> None:
    """Delete endpoints made for this connection that it no longer tracks.

    They appear when a create's answer was lost; their secrets are unknown, so
    their deliveries could only fail.
    """
    for endpoint in endpoints:
        if _is_ours(endpoint, connection) and endpoint["id"] != connection.webhook_endpoint_id:
            logger.warning(
                "Deleting untracked webhook endpoint %s of connection %s (%s)",
                endpoint["id"],
                connection.name,
                connection.id,
            )
            _delete_quietly(client, endpoint["id"])


def _record_success(
    connection: Connection, endpoint: dict, wanted: list[str], action: str
) -> SyncResult:
    now = timezone.now()
    connection.webhook_enabled_events = sorted(endpoint.get("enabled_events") or wanted)
    connection.webhook_status = Connection.WebhookStatus.ENABLED
    connection.webhook_error = ""
    connection.webhook_synced_at = now
    if connection.events_cursor is None:
        connection.events_cursor = now  # reconciliation covers events from here on
    connection.save(update_fields=WEBHOOK_FIELDS)
    count = len(connection.webhook_enabled_events)
    return SyncResult(
        True,
        action,
        f"Endpoint {connection.webhook_endpoint_id} {action}: {count} event type(s) enabled.",
    )


def _record_failure(connection: Connection, exc: Exception | str) -> SyncResult:
    """Keep the failure on the connection for staff, and log it (messages carry no secret)."""
    metrics.endpoint_sync_failed()
    message = f"{timezone.now():%Y-%m-%d %H:%M} UTC: {exc}"
    Connection.objects.filter(pk=connection.pk).update(
        webhook_status=Connection.WebhookStatus.ERROR, webhook_error=message
    )
    connection.webhook_status = Connection.WebhookStatus.ERROR
    connection.webhook_error = message
    logger.warning(
        "Webhook endpoint sync failed: connection=%s (%s): %s", connection.name, connection.id, exc
    )
    return SyncResult(False, "failed", str(exc))


def _record_manual(connection: Connection, wanted: list[str]) -> SyncResult:
    """Manual mode: remember which event types staff must enable in the dashboard."""
    connection.webhook_enabled_events = wanted
    connection.webhook_status = (
        Connection.WebhookStatus.MANUAL
        if connection.webhook_secret
        else Connection.WebhookStatus.NONE
    )
    connection.webhook_error = ""
    connection.save(update_fields=WEBHOOK_FIELDS)
    types = ", ".join(wanted) or "(none)"
    return SyncResult(
        True, "manual", f"Manual mode: enable these event types in Stripe's dashboard: {types}."
    )


def check_manual_secret(secret: str) -> str:
    """``secret`` stripped, or ValidationError (code ``invalid_secret``) for anything
    that is not a whsec_ signing secret as Stripe's dashboard shows it."""
    secret = (secret or "").strip()
    if not secret.startswith("whsec_") or len(secret) < 16 or any(c.isspace() for c in secret):
        raise ValidationError(
            "This is not a webhook signing secret: it starts with whsec_ and is shown under "
            "'Signing secret' on the endpoint's page in Stripe's dashboard.",
            code="invalid_secret",
        )
    return secret


def store_manual_secret(connection: Connection, secret: str) -> None:
    """Store a signing secret pasted from Stripe's dashboard (the old one stays valid for
    the grace period). Raises ValidationError for anything that is not a whsec_ secret."""
    connection.replace_webhook_secret(check_manual_secret(secret))
    connection.webhook_status = Connection.WebhookStatus.MANUAL


# --- the periodic check ----------------------------------------------------------


def endpoint_drift(connection: Connection, endpoint: dict | None, wanted: list[str]) -> list[str]:
    """What differs between Stripe's endpoint and what it should be (empty = nothing)."""
    if endpoint is None:
        return ["the endpoint is missing"] if wanted else []
    if not wanted:
        return ["the endpoint has no event types in use"]
    drift = []
    if endpoint.get("status") != "enabled":
        drift.append(f"it is {endpoint.get('status')}")
    if endpoint.get("url") != connection.webhook_url:
        drift.append("its URL differs")
    if sorted(endpoint.get("enabled_events") or []) != wanted:
        drift.append("its event types differ")
    if endpoint.get("api_version") not in (None, connection.api_version):
        drift.append("its API version differs")
    return drift


def check_webhook_endpoint(connection: Connection) -> SyncResult:
    """Compare Stripe's endpoint with what it should be; repair any drift by syncing."""
    if connection.webhook_mode == Connection.WebhookMode.MANUAL:
        return SyncResult(True, "manual", "Manual mode: not checked.")
    wanted = event_types_in_use(connection)
    try:
        client = connection.client()
        endpoints = _list_endpoints(client)
        _delete_orphans(client, connection, endpoints)
    except (StripeError, ValueError) as exc:
        return _record_failure(connection, exc)
    tracked = connection.webhook_endpoint_id
    endpoint = next((e for e in endpoints if tracked and e.get("id") == tracked), None)
    drift = endpoint_drift(connection, endpoint, wanted)
    if not drift and connection.webhook_status == Connection.WebhookStatus.ERROR:
        # A sync failed before, yet Stripe matches now: the error is no longer true.
        return _record_success(connection, endpoint, wanted, "unchanged")
    if not drift:
        return SyncResult(True, "unchanged", "The endpoint matches.")
    logger.warning(
        "Webhook endpoint drift on connection %s (%s): %s",
        connection.name,
        connection.id,
        "; ".join(drift),
    )
    return sync_webhook_endpoint(connection, wanted)


def delete_endpoint(connection: Connection) -> str:
    """Delete the connection's endpoint in Stripe; "" on success, else a warning for staff."""
    endpoint_id = connection.webhook_endpoint_id
    if not endpoint_id:
        return ""
    try:
        _delete_quietly(connection.client(), endpoint_id)
    except (StripeError, ValueError) as exc:
        logger.warning(
            "Could not delete webhook endpoint %s of connection %s (%s): %s",
            endpoint_id,
            connection.name,
            connection.id,
            exc,
        )
        return (
            f"The webhook endpoint {endpoint_id} could not be deleted in Stripe ({exc}). "
            "Delete it in Stripe's dashboard (Developers > Webhooks)."
        )
    return ""
