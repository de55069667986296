"""The one place workflows read the time, so tests can fix it (patch ``workflows.clock.now``)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current time (aware, UTC)."""
    return timezone.now()
