"""Runs per day and status, counted without reading a month of runs on every page view.

The admin index, the runs list and a workflow's page each chart 30 days of runs. At a
million runs, counting them is half a million rows read and grouped (most of a second)
per view. Days before yesterday no longer change (a run retries for 24 hours at most,
then it is final), so their counts are kept in the cache for CLOSED_DAYS_SECONDS;
yesterday and today are counted on the ``created_at`` index and kept LIVE_DAYS_SECONDS.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from workflows.models import Run

# How long the counts of closed days are reused: a run deleted or changed by hand (or
# by pruning, at the chart's first day) shows in the chart at most this much later.
CLOSED_DAYS_SECONDS = 3600
# How long yesterday's and today's counts are reused: a new or finished run shows in
# the chart at most this much later.
LIVE_DAYS_SECONDS = 30


def runs_per_day(
    first: date, last: date, statuses: list[str], workflow_id: int | None = None
) -> dict[date, dict[str, int]]:
    """{day: {status: count}} of runs created from ``first`` to ``last`` (both included).

    Days are the current time zone's, as ``TruncDate`` and the runs list's date filter
    count them; every day and status is present (0 when none). Days before
    ``last - 1`` come from the cache (at most CLOSED_DAYS_SECONDS old), the last two
    days too (at most LIVE_DAYS_SECONDS old).
    """
    counts = {
        first + timedelta(days=i): dict.fromkeys(statuses, 0)
        for i in range((last - first).days + 1)
    }
    live_from = max(first, last - timedelta(days=1))
    rows: list[tuple[str, str, int]] = []
    if live_from > first:
        rows += _cached(first, live_from, statuses, workflow_id, CLOSED_DAYS_SECONDS)
    rows += _cached(live_from, last + timedelta(days=1), statuses, workflow_id, LIVE_DAYS_SECONDS)
    for day, status, n in rows:
        when = date.fromisoformat(day)
        if when in counts:
            counts[when][status] = n
    return counts


def start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in the current time zone (aware)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _cached(
    first: date, end: date, statuses: list[str], workflow_id: int | None, seconds: int
) -> list[tuple[str, str, int]]:
    """_count of the days from ``first`` up to ``end`` (excluded), through the cache."""
    key = ":".join(
        [
            "workflows.runs_per_day",
            timezone.get_current_timezone_name(),
            str(workflow_id or "all"),
            first.isoformat(),
            end.isoformat(),
            ",".join(statuses),
        ]
    )
    rows = cache.get(key)
    if rows is None:
        rows = _count(start_of(first), start_of(end), statuses, workflow_id)
        cache.set(key, rows, seconds)
    return rows


def _count(
    since: datetime, until: datetime, statuses: list[str], workflow_id: int | None
) -> list[tuple[str, str, int]]:
    """(ISO day, status, count) of runs created in [since, until): ranges on indexed columns."""
    runs = Run.objects.filter(created_at__gte=since, created_at__lt=until, status__in=statuses)
    if workflow_id is not None:
        runs = runs.filter(workflow_id=workflow_id)
    grouped = (
        runs.order_by()
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "status")
        .annotate(n=Count("id"))
    )
    return [(day.isoformat(), status, n) for day, status, n in grouped]
