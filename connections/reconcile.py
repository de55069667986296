"""Recover missed deliveries: list Stripe's events and feed them through the inbox.

Stripe keeps events for 30 days (``GET /v1/events``). Everything goes through
``connections.inbox.ingest``, so an event already delivered by webhook is a
duplicate and runs nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from connections.inbox import NotAnEvent, ingest
from connections.models import Connection, InboxEvent
from connections.webhooks import event_types_in_use
from stripe_connector.client import StripeClient

logger = logging.getLogger(__name__)

STRIPE_RETENTION = timedelta(days=30)
# Events can appear in the list a little after their ``created`` time; listing
# an overlap costs only duplicates, which the inbox ignores.
CURSOR_OVERLAP = timedelta(minutes=10)
MAX_TYPES_PER_REQUEST = 20  # Stripe's limit for types[]
PAGE_SIZE = 100


@dataclass
class Summary:
    """Counts of one reconciliation or backfill run."""

    new: int = 0
    duplicates: int = 0
    skipped: int = 0
    listed: int = 0
    oldest: datetime | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.new} new, {self.duplicates} duplicates, {self.skipped} skipped"


Progress = Callable[[Summary], None]


def iter_events(client: StripeClient, since: datetime, types: list[str]) -> Iterator[list[dict]]:
    """Pages of Stripe events created at or after ``since``, newest first, for ``types``."""
    for start in range(0, len(types), MAX_TYPES_PER_REQUEST):
        params = {
            "created": {"gte": int(since.timestamp())},
            "types": types[start : start + MAX_TYPES_PER_REQUEST],
            "limit": PAGE_SIZE,
        }
        while True:
            page = client.get("/v1/events", params).data
            data = page.get("data") or []
            yield data
            if not page.get("has_more") or not data:
                break
            params["starting_after"] = data[-1]["id"]


def feed(
    connection: Connection,
    since: datetime,
    types: list[str],
    *,
    source: str,
    progress: Progress | None = None,
) -> Summary:
    """List events since ``since`` of ``types`` and ingest each; raises StripeError."""
    summary = Summary()
    wanted = set(types)
    for page in iter_events(connection.client(), since, sorted(wanted)):
        for payload in page:
            _ingest_one(connection, payload, wanted, source, summary)
        if progress:
            progress(summary)
    return summary


def _ingest_one(
    connection: Connection, payload: dict, wanted: set[str], source: str, summary: Summary
) -> None:
    summary.listed += 1
    created = payload.get("created")
    if isinstance(created, int):
        stamp = datetime.fromtimestamp(created, tz=UTC)
        summary.oldest = stamp if summary.oldest is None else min(summary.oldest, stamp)
    if payload.get("type") not in wanted:
        summary.skipped += 1
        return
    try:
        _, created_now = ingest(connection, payload, source=source)
    except NotAnEvent:
        summary.skipped += 1
        return
    if created_now:
        summary.new += 1
    else:
        summary.duplicates += 1


def reconcile_connection(connection: Connection, now: datetime | None = None) -> Summary:
    """The scheduled pass for one connection: events since its cursor, then move the cursor.

    A connection without a cursor starts now: events from before the endpoint
    existed are history, not missed deliveries.
    """
    now = now or timezone.now()
    types = event_types_in_use(connection)
    if connection.events_cursor is None or not types:
        _move_cursor(connection, now)
        return Summary()
    since = max(connection.events_cursor - CURSOR_OVERLAP, now - STRIPE_RETENTION)
    summary = feed(connection, since, types, source=InboxEvent.Source.RECONCILIATION)
    _move_cursor(connection, now)
    if summary.new:
        logger.warning(
            "Reconciliation recovered %d missed event(s) for connection %s (%s)",
            summary.new,
            connection.name,
            connection.id,
        )
    return summary


def _move_cursor(connection: Connection, when: datetime) -> None:
    connection.events_cursor = when
    Connection.objects.filter(pk=connection.pk).update(events_cursor=when)
