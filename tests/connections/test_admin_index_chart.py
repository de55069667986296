"""The runs-per-day chart (admin index, a workflow's page): a date axis, and bars that open
the runs list filtered to their day and status (and workflow), showing as many runs as
the bar counts."""

import html as htmllib
import re
from datetime import timedelta
from itertools import count

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.support.factories import make_workflow
from workflows.charts import chart
from workflows.engine import create_run
from workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db

FIND = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]
TICKS = count(1)
BAR = re.compile(r'<a href="([^"]+)" aria-label="(\w+) (\d+): (\d+) (\w+) \(open the runs list\)">')


def add_runs(workflow, status: str, when, n: int = 1) -> None:
    for _ in range(n):
        tick = timezone.now() - timedelta(days=400, seconds=next(TICKS))  # one run per tick
        run = create_run(workflow, scheduled_for=tick, enqueue=False)
        # created_at is auto_now_add: placed on its day by an update.
        Run.objects.filter(pk=run.pk).update(status=status, created_at=when)
        when += timedelta(seconds=1)


@pytest.fixture
def workflows(connection):
    sync = make_workflow(connection, "customer.created", FIND, name="Sync", active=False)
    other = make_workflow(connection, "customer.updated", FIND, name="Other", active=False)
    now = timezone.now()
    add_runs(sync, RunStatus.SUCCEEDED, now - timedelta(days=2), 3)
    add_runs(sync, RunStatus.FAILED, now - timedelta(days=2), 1)
    add_runs(other, RunStatus.FAILED, now - timedelta(days=2), 2)
    add_runs(other, RunStatus.RETRYING, now - timedelta(minutes=5), 1)
    add_runs(sync, RunStatus.SUCCEEDED, now - timedelta(days=29, hours=-1), 1)
    add_runs(sync, RunStatus.SKIPPED, now - timedelta(days=2), 4)  # not charted
    return sync, other


def bars(page: str) -> list[tuple[str, int, str]]:
    """(url, count, status) of every bar on the page."""
    return [
        (htmllib.unescape(url), int(n), status)
        for url, _month, _day, n, status in BAR.findall(page)
    ]


def listed(client, url: str) -> list[Run]:
    response = client.get(url)
    assert response.status_code == 200, url
    return list(response.context["cl"].queryset)


def test_every_bar_of_the_index_opens_exactly_the_runs_it_counts(staff_client, workflows):
    page = staff_client.get(reverse("admin:index")).content.decode()

    found = bars(page)

    assert sorted((n, status) for _url, n, status in found) == [
        (1, "retrying"), (1, "succeeded"), (3, "failed"), (3, "succeeded"),
    ]  # fmt: skip
    for url, n, status in found:
        runs = listed(staff_client, url)
        assert len(runs) == n, url
        assert {run.status for run in runs} == {status}
    assert (
        sum(n for _url, n, _status in found)
        == Run.objects.exclude(status=RunStatus.SKIPPED).count()
    )


def test_a_workflows_bars_open_that_workflows_runs(staff_client, workflows):
    sync, _other = workflows
    page = staff_client.get(reverse("admin:workflows_workflow_change", args=[sync.pk]))

    found = bars(page.content.decode())

    assert sorted((n, status) for _url, n, status in found) == [
        (1, "failed"), (1, "succeeded"), (3, "succeeded"),
    ]  # fmt: skip
    for url, n, _status in found:
        assert f"workflow__id__exact={sync.pk}" in url
        runs = listed(staff_client, url)
        assert len(runs) == n and {run.workflow_id for run in runs} == {sync.pk}


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland"])
def test_days_are_the_time_zones_as_the_runs_list_counts_them(
    settings, staff_client, connection, zone
):
    """A run at 03:00 UTC is on the previous day in New York: bar and list agree on it."""
    settings.TIME_ZONE = zone
    workflow = make_workflow(connection, "customer.created", FIND, name="Late", active=False)
    today = timezone.now().replace(hour=3, minute=0, second=0, microsecond=0)
    add_runs(workflow, RunStatus.SUCCEEDED, today - timedelta(days=3))
    add_runs(workflow, RunStatus.SUCCEEDED, today - timedelta(days=3, hours=-23))

    page = staff_client.get(reverse("admin:index")).content.decode()

    found = bars(page)
    assert sum(n for _url, n, _status in found) == 2
    for url, n, _status in found:
        assert len(listed(staff_client, url)) == n


def test_the_date_axis_labels_every_day_and_each_month(staff_client, workflows):
    data = chart()
    page = staff_client.get(reverse("admin:index")).content.decode()

    axis = page[page.index('<g class="date-axis"') :]
    axis = axis[: axis.index("</g>")]
    days = re.findall(r'<text x="\d+" y="\d+">(\d+)</text>', axis)
    months = re.findall(r'font-weight="bold" text-anchor="start">(\w+)</text>', axis)
    first, last = data["first_day"], data["last_day"]
    assert days == [str((first + timedelta(days=i)).day) for i in range(30)]
    assert months[0] == f"{first:%b}" and months[-1] == f"{last:%b}"
    assert len(months) == len({(first + timedelta(days=i)).month for i in range(30)})
    # The count axis: 0 and the busiest day's count.
    assert '<g class="count-axis"' in page and f">{data['peak']}</text>" in page
