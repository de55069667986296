"""Background tasks of the connections app (run by django-q2, called with ids only)."""

from __future__ import annotations

import logging

from connections.models import InboxEvent

logger = logging.getLogger(__name__)


def mark_dispatched(event_id: int) -> bool:
    """Interim dispatch task until workflows provides one: mark a received event dispatched.

    A conditional UPDATE, so running twice (or on two workers) changes nothing more.
    """
    claimed = InboxEvent.objects.filter(pk=event_id, status=InboxEvent.Status.RECEIVED).update(
        status=InboxEvent.Status.DISPATCHED
    )
    return bool(claimed)
