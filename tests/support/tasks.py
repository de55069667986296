"""Tasks that only tests enqueue (a worker started by a test imports them from here)."""

from __future__ import annotations

import time
from pathlib import Path

from connections.models import InboxEvent

# The dispatch task the connections tests use instead of the workflows app's
# (EVENT_DISPATCH_TASK), so that app is tested on its own.
STANDIN_DISPATCH_TASK = "tests.support.tasks.mark_dispatched"


def mark_dispatched(connection_id: str, stripe_event_id: str) -> bool:
    """Mark a received inbox event dispatched, once (a conditional UPDATE); True if it was.

    Called as EVENT_DISPATCH_TASK is: with (connection id, Stripe event id).
    """
    claimed = InboxEvent.objects.filter(
        connection_id=connection_id,
        stripe_event_id=stripe_event_id,
        status=InboxEvent.Status.RECEIVED,
    ).update(status=InboxEvent.Status.DISPATCHED)
    return bool(claimed)


def echo(value):
    """Return its argument: proves a task went through the broker to a worker and back."""
    return value


def hold(marker: str, seconds: float) -> str:
    """A task that takes ``seconds``: writes ``marker`` + ".started", then, at the end,
    ``marker`` + ".finished" (a test sees whether a stop let it finish)."""
    Path(f"{marker}.started").write_text(str(time.time()))
    time.sleep(seconds)
    Path(f"{marker}.finished").write_text(str(time.time()))
    return "finished"
