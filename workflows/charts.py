"""Runs per day by status, as bars for an inline SVG (rendered server-side, no JS).

Days are the current time zone's (``TIME_ZONE``), as the runs list's date filter on
``created_at`` counts them: each bar links to that list, filtered
to its day and status (and workflow), which shows exactly the runs the bar counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from workflows import clock
from workflows.daily_counts import runs_per_day, start_of
from workflows.models import RunStatus

SERIES = (
    (RunStatus.SUCCEEDED, "#3a8f4e"),
    (RunStatus.FAILED, "#ba2121"),
    (RunStatus.RETRYING, "#e0a800"),
)
BAR_WIDTH, GAP, HEIGHT = 14, 4, 120
LEFT = 30  # room for the count axis' labels, in px
AXIS = 30  # below the bars: a row of day numbers, a row of month names, in px


@dataclass
class Bar:
    """One stacked segment of one day's bar, in SVG coordinates, and the runs it counts."""

    x: int
    y: int
    width: int
    height: int
    colour: str
    title: str
    url: str


@dataclass
class Tick:
    """A label of the date axis: a day's number under its bar, a month's name at its start."""

    x: int
    day: str
    month: str


def daily_counts(days: int = 30, workflow_id: int | None = None) -> dict[date, dict[str, int]]:
    """{day: {status: count}} for the last ``days`` days (today included), every day present.

    Days in the current time zone, as ``TruncDate`` and the runs list's date filters use.
    """
    today = timezone.localdate(clock.now())
    first = today - timedelta(days=days - 1)
    return runs_per_day(first, today, [status for status, _ in SERIES], workflow_id)


def runs_list_url(day: date, status: str, workflow_id: int | None = None) -> str:
    """The admin runs list showing the runs of ``day`` with ``status`` (of one workflow).

    Only parameters the runs list accepts itself: its date filter's range on
    ``created_at`` (the index answers it) and its ``status`` and ``workflow`` filters.
    """
    query = {
        "created_at__gte": str(start_of(day)),
        "created_at__lt": str(start_of(day + timedelta(days=1))),
        "status__exact": status,
    }
    if workflow_id is not None:
        query["workflow__id__exact"] = workflow_id
    return f"{reverse('admin:workflows_run_changelist')}?{urlencode(query)}"


def chart(days: int = 30, workflow_id: int | None = None) -> dict:
    """Everything the chart template needs: bars, the date axis, size, totals and legend.

    Shapes: ``bars`` a list of Bar (x, y, size in px; ``url`` the runs list it counts),
    ``ticks`` one Tick per day, ``width``/``height`` of the SVG in px, ``plot_height``
    the bars' area, ``peak`` the busiest day's count (0: no runs), ``legend`` a list of
    (label, colour, total).
    """
    counts = daily_counts(days, workflow_id)
    peak = max((sum(day.values()) for day in counts.values()), default=0) or 1
    bars: list[Bar] = []
    ticks: list[Tick] = []
    for index, (day, by_status) in enumerate(counts.items()):
        x, bottom = LEFT + index * (BAR_WIDTH + GAP), HEIGHT
        month = f"{day:%b}" if index == 0 or day.day == 1 else ""
        ticks.append(Tick(x + BAR_WIDTH // 2, str(day.day), month))
        for status, colour in SERIES:
            height = round(by_status[status] * HEIGHT / peak)
            if by_status[status]:
                bottom -= height
                n = by_status[status]
                title = f"{day:%b} {day.day}: {n} {status} (open the runs list)"
                url = runs_list_url(day, status, workflow_id)
                bars.append(Bar(x, bottom, BAR_WIDTH, max(height, 1), colour, title, url))
    totals = {status: sum(day[status] for day in counts.values()) for status, _ in SERIES}
    return {
        "bars": bars,
        "ticks": ticks,
        "left": LEFT,
        "width": LEFT + days * (BAR_WIDTH + GAP),
        "plot_height": HEIGHT,
        "height": HEIGHT + AXIS,
        "peak": peak if any(totals.values()) else 0,
        "legend": [(status.label, colour, totals[status]) for status, colour in SERIES],
        "first_day": next(iter(counts)),
        "last_day": next(reversed(counts)),
    }
