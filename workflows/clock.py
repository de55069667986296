"""The one place workflows read the time and wait, so tests can fix both (``now``, ``sleep``)."""

from __future__ import annotations

import time
from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current time (aware, UTC)."""
    return timezone.now()


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (a short retry backoff, waited out in the worker)."""
    time.sleep(seconds)
