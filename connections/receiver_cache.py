"""The webhook receiver's short-lived, per-process memory of connections.

Loading a connection (a query plus decrypting its signing secrets) was half of
the receiver's time per event; Stripe sends bursts to one URL, so each process
keeps what the receiver needs for WEBHOOK_CONNECTION_CACHE_SECONDS. Saving or
deleting a connection forgets it in the saving process at once; other processes
see the change within that many seconds (a disabled connection may take one
more event, a newly pasted secret may be refused once and Stripe retries).
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

from django.conf import settings

from connections.models import Connection

_entries: dict[UUID, tuple[float, Connection]] = {}
_lock = threading.Lock()


def get(connection_id: UUID, load) -> Connection:
    """The cached connection, or ``load(connection_id)``'s answer, remembered for a while."""
    ttl = settings.WEBHOOK_CONNECTION_CACHE_SECONDS
    entry = _entries.get(connection_id)
    if entry is not None and entry[0] > time.monotonic():
        return entry[1]
    connection = load(connection_id)
    if ttl > 0:
        with _lock:
            _entries[connection_id] = (time.monotonic() + ttl, connection)
    return connection


def forget(connection_id: UUID | None = None) -> None:
    """Drop one connection (or all) from this process's memory."""
    with _lock:
        if connection_id is None:
            _entries.clear()
        else:
            _entries.pop(connection_id, None)


def forget_saved(sender, instance: Connection, **kwargs) -> None:
    """Signal receiver: a saved or deleted connection is read afresh next time."""
    forget(instance.pk)
