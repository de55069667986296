"""Runs per day by status, as bars for an inline SVG (rendered server-side, no JS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate

from workflows import clock
from workflows.models import Run, RunStatus

SERIES = (
    (RunStatus.SUCCEEDED, "#3a8f4e"),
    (RunStatus.FAILED, "#ba2121"),
    (RunStatus.RETRYING, "#e0a800"),
)
BAR_WIDTH, GAP, HEIGHT = 14, 4, 120


@dataclass
class Bar:
    """One stacked segment of one day's bar, in SVG coordinates."""

    x: int
    y: int
    width: int
    height: int
    colour: str
    title: str


def daily_counts(days: int = 30, workflow_id: int | None = None) -> dict[date, dict[str, int]]:
    """{day: {status: count}} for the last ``days`` days (today included), every day present."""
    today = clock.now().date()
    first = today - timedelta(days=days - 1)
    runs = Run.objects.filter(created_at__date__gte=first)
    if workflow_id is not None:
        runs = runs.filter(workflow_id=workflow_id)
    rows = (
        runs.filter(status__in=[status for status, _ in SERIES])
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("id"))
    )
    counts = {first + timedelta(days=i): {s: 0 for s, _ in SERIES} for i in range(days)}
    for row in rows:
        if row["day"] in counts:
            counts[row["day"]][row["status"]] = row["n"]
    return counts


def chart(days: int = 30, workflow_id: int | None = None) -> dict:
    """Everything the chart template needs: bars, size, totals and the legend."""
    counts = daily_counts(days, workflow_id)
    peak = max((sum(day.values()) for day in counts.values()), default=0) or 1
    bars: list[Bar] = []
    for index, (day, by_status) in enumerate(counts.items()):
        x, bottom = index * (BAR_WIDTH + GAP), HEIGHT
        for status, colour in SERIES:
            height = round(by_status[status] * HEIGHT / peak)
            if by_status[status]:
                bottom -= height
                title = f"{day:%b %d}: {by_status[status]} {status}"
                bars.append(Bar(x, bottom, BAR_WIDTH, max(height, 1), colour, title))
    totals = {status: sum(day[status] for day in counts.values()) for status, _ in SERIES}
    return {
        "bars": bars,
        "width": days * (BAR_WIDTH + GAP),
        "height": HEIGHT,
        "peak": peak if any(totals.values()) else 0,
        "legend": [(status.label, colour, totals[status]) for status, colour in SERIES],
        "first_day": next(iter(counts)),
        "last_day": next(reversed(counts)),
    }
