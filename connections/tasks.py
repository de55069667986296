"""Background tasks of the connections app (run by django-q2, called with ids only)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from connections.inbox import enqueue_dispatch
from connections.models import Connection, InboxEvent
from connections.reconcile import reconcile_connection
from connections.webhooks import check_webhook_endpoint, sync_endpoint_in_use
from stripe_connector.errors import StripeError

logger = logging.getLogger(__name__)


# Well past the broker's redelivery (Q_RETRY) so that a merely slow queue is left alone.
STALE_AFTER = timedelta(minutes=30)


def redispatch_stale_events(limit: int = 500) -> int:
    """Scheduled: enqueue again events still "received" long after they arrived.

    Their wake-up call was lost (a broker outage, or a crash between the commit
    and the enqueue with a non-ORM broker). Dispatching is idempotent, so an
    event that was merely slow costs one extra no-op task.
    """
    cutoff = timezone.now() - STALE_AFTER
    stale = InboxEvent.objects.filter(status=InboxEvent.Status.RECEIVED, received_at__lt=cutoff)
    events = list(stale.order_by("received_at").only("connection_id", "stripe_event_id")[:limit])
    for event in events:
        enqueue_dispatch(event)
    if events:
        logger.warning("Re-enqueued %d inbox event(s) left undispatched", len(events))
    return len(events)


def _working_connections():
    """Connections whose key may call Stripe (not disabled, not known invalid)."""
    return Connection.objects.filter(status=Connection.Status.ACTIVE).order_by("name")


def reconcile_events() -> dict[str, str]:
    """Scheduled: recover missed deliveries for every working connection.

    One connection's failure (Stripe down for that account, a revoked key) is
    logged and does not stop the others.
    """
    outcomes = {}
    for connection in _working_connections():
        try:
            outcomes[connection.name] = str(reconcile_connection(connection))
        except (StripeError, ValueError) as exc:
            logger.warning(
                "Reconciliation failed for connection %s (%s): %s",
                connection.name,
                connection.id,
                exc,
            )
            outcomes[connection.name] = f"failed: {exc}"
    return outcomes


def sync_webhook_endpoint(connection_id: str) -> str:
    """Make one connection's endpoint match the event types in use; '' or the error.

    Enqueued by ``connections.webhooks.request_endpoint_sync`` after a workflow change.
    """
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return ""
    result = sync_endpoint_in_use(connection)
    return "" if result.ok else result.message


def check_webhook_endpoints() -> dict[str, str]:
    """Scheduled: the one endpoint repair job.

    Checks every automatic endpoint of a working connection against Stripe (exists,
    enabled, URL, event types in use, API version) and repairs any drift, which
    also retries a sync that failed; the outcome is kept on the connection
    (``webhook_status``, ``webhook_error``).
    """
    outcomes = {}
    automatic = _working_connections().filter(webhook_mode=Connection.WebhookMode.AUTOMATIC)
    for connection in automatic:
        result = check_webhook_endpoint(connection)
        outcomes[connection.name] = f"{result.action}: {result.message}"
    return outcomes
