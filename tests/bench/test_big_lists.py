"""Admin lists of big tables: no full count, indexed searches and filters, a cached chart.

Sizes are tiny; what is checked is which statements a page sends (an estimate instead of
COUNT(*), equality on indexed columns instead of LIKE/UPPER scans, no DISTINCT over the
inbox) and that the answers are the same as Django's own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections.admin_search import event_types
from connections.models import InboxEvent
from konnectify.platform import big_tables
from konnectify.platform.big_tables import EstimatedCountPaginator
from tests.support.factories import make_connection, make_workflow
from workflows import daily_counts
from workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(fast_password_hashing):
    """No test here is about passwords."""


def on_postgres() -> bool:
    return db.vendor == "postgresql"


@pytest.fixture
def inbox():
    """Two connections, 12 events of 3 types with a run each (cus_0..cus_5, two events each)."""
    first = make_connection(name="One", secret_key="sk_test_" + "1" * 40, webhook_secret="whsec_1")
    second = make_connection(name="Two", secret_key="sk_test_" + "2" * 40, webhook_secret="whsec_2")
    workflow = make_workflow(first, "customer.updated", [], name="Sync customers")
    now = timezone.now()
    events = []
    for n in range(12):
        event = InboxEvent.objects.create(
            connection=(first, second)[n % 2],
            stripe_event_id=f"evt_{n:04d}",
            type=("customer.updated", "invoice.paid", "invoice.created")[n % 3],
            object_id=f"cus_{n % 6}",
            created=now,
            livemode=False,
            payload={},
            received_at=now - timedelta(minutes=n),
        )
        Run.objects.create(workflow=workflow, event=event, status=RunStatus.SUCCEEDED)
        events.append(event)
    if on_postgres():
        with db.cursor() as cursor:
            cursor.execute("ANALYZE connections_inboxevent")
            cursor.execute("ANALYZE workflows_run")
    return events


def statements(queries) -> list[str]:
    return [q["sql"] for q in queries]


def counts_in(queries) -> list[str]:
    """COUNT statements on the big tables (the cache's own culling counts are not ours)."""
    return [
        sql
        for sql in statements(queries)
        if "COUNT(" in sql.upper() and ("workflows_run" in sql or "connections_inboxevent" in sql)
    ]


def test_a_small_list_is_counted_exactly(inbox):
    paginator = EstimatedCountPaginator(Run.objects.all(), 5)

    assert paginator.count == 12
    assert paginator.num_pages == 3


def test_a_big_list_is_counted_by_the_planners_estimate(inbox, monkeypatch):
    if not on_postgres():
        pytest.skip("The estimate is PostgreSQL's; elsewhere the count is exact (above).")
    monkeypatch.setattr(big_tables, "EXACT_COUNT_BELOW", 5)

    with CaptureQueriesContext(db) as queries:
        count = EstimatedCountPaginator(Run.objects.order_by("-created_at"), 5).count

    assert count == 12  # ANALYZE'd: the planner knows the table's size
    assert counts_in(queries) == [], statements(queries)
    assert statements(queries)[0].startswith("EXPLAIN (FORMAT JSON)")


def test_a_filtered_list_under_the_limit_is_counted_exactly(inbox, monkeypatch):
    if not on_postgres():
        pytest.skip("PostgreSQL's estimate decides; elsewhere the count is always exact.")
    monkeypatch.setattr(big_tables, "EXACT_COUNT_BELOW", 5)
    one_event = Run.objects.filter(event__stripe_event_id="evt_0003")

    with CaptureQueriesContext(db) as queries:
        count = EstimatedCountPaginator(one_event, 5).count

    assert count == 1
    assert len(counts_in(queries)) == 1


def test_a_list_that_cannot_match_is_empty(inbox):
    assert EstimatedCountPaginator(Run.objects.filter(pk__in=[]), 5).count == 0


@pytest.mark.parametrize(
    "path", ["admin:workflows_run_changelist", "admin:connections_inboxevent_changelist"]
)
def test_the_lists_send_no_full_count(staff_client, inbox, monkeypatch, path):
    monkeypatch.setattr(big_tables, "EXACT_COUNT_BELOW", 5)

    with CaptureQueriesContext(db) as queries:
        response = staff_client.get(reverse(path))

    assert response.status_code == 200
    full_counts = [sql for sql in counts_in(queries) if " WHERE " not in sql]
    if on_postgres():
        assert full_counts == [], "\n".join(statements(queries))
    else:
        assert len(full_counts) == 1, "\n".join(statements(queries))  # the paginator, once
    assert response.context["cl"].full_result_count is None
    assert len(response.context["cl"].result_list) == 12


def inbox_search(client, term: str) -> tuple[list[str], list[str]]:
    with CaptureQueriesContext(db) as queries:
        response = client.get(reverse("admin:connections_inboxevent_changelist"), {"q": term})
    assert response.status_code == 200
    found = sorted(event.stripe_event_id for event in response.context["cl"].result_list)
    return found, statements(queries)


def page_query(sql: list[str]) -> str:
    """The statement that reads the page's rows."""
    return next(s for s in sql if s.startswith('SELECT "connections_inboxevent"."id"'))


def test_an_event_id_is_found_exactly_through_the_unique_index(staff_client, inbox):
    found, sql = inbox_search(staff_client, "evt_0007")

    assert found == ["evt_0007"]
    listing = page_query(sql)
    assert '"stripe_event_id" = ' in listing and "LIKE" not in listing and "UPPER" not in listing
    assert '"connection_id" IN (' in listing  # the unique index's leading column


def test_an_object_id_is_found_exactly(staff_client, inbox):
    found, sql = inbox_search(staff_client, "cus_4")

    assert found == ["evt_0004", "evt_0010"]
    listing = page_query(sql)
    assert '"object_id" = ' in listing and "UPPER" not in listing


def test_other_words_match_the_start_of_the_type(staff_client, inbox):
    assert inbox_search(staff_client, "invoice.p")[0] == [f"evt_{n:04d}" for n in (1, 4, 7, 10)]
    assert inbox_search(staff_client, "paid")[0] == []  # not a substring search
    assert inbox_search(staff_client, "evt_00")[0] == []  # an id is matched whole


def test_the_type_filter_offers_every_type_without_reading_every_row(staff_client, inbox):
    with CaptureQueriesContext(db) as queries:
        response = staff_client.get(reverse("admin:connections_inboxevent_changelist"))

    if on_postgres():
        assert event_types() == ["customer.updated", "invoice.created", "invoice.paid"]
    spec = next(s for s in response.context["cl"].filter_specs if s.field_path == "type")
    assert list(spec.lookup_choices) == ["customer.updated", "invoice.created", "invoice.paid"]
    distinct = [s for s in statements(queries) if "SELECT DISTINCT" in s and '"type"' in s]
    if on_postgres():
        assert distinct == [], distinct  # the recursive index walk instead
    else:
        assert len(distinct) == 1


def test_the_chart_counts_closed_days_once_per_hour_and_live_days_twice_a_minute(inbox, settings):
    today = timezone.localdate()
    statuses = [RunStatus.SUCCEEDED, RunStatus.FAILED]
    runs = list(Run.objects.order_by("pk"))
    for days_ago, run in zip((0, 1, 5, 5, 29), runs, strict=False):
        when = timezone.now() - timedelta(days=days_ago)
        Run.objects.filter(pk=run.pk).update(created_at=when, status=RunStatus.FAILED)
    first = today - timedelta(days=29)
    expected = {
        day: {
            status: Run.objects.filter(created_at__date=day, status=status).count()
            for status in statuses
        }
        for day in (first + timedelta(days=i) for i in range(30))
    }

    assert daily_counts.runs_per_day(first, today, statuses) == expected
    with CaptureQueriesContext(db) as queries:
        again = daily_counts.runs_per_day(first, today, statuses)

    assert again == expected
    assert not [s for s in statements(queries) if "workflows_run" in s], statements(queries)
    assert sum(n for day in expected.values() for n in day.values()) == 12
    assert expected[today - timedelta(days=5)][RunStatus.FAILED] == 2


def test_the_inbox_search_box_says_what_it_matches(staff_client, inbox):
    response = staff_client.get(reverse("admin:connections_inboxevent_changelist"))

    assert "or the start of an event type" in response.content.decode()


def test_a_deep_page_reads_its_ids_first_and_shows_the_same_rows(inbox, monkeypatch):
    """Past ``ids_first_from`` rows a page is its ids (no join), then its rows by id: the
    same rows in the same order as Django's own OFFSET query."""
    monkeypatch.setattr(EstimatedCountPaginator, "ids_first_from", 4)
    runs = Run.objects.select_related("workflow__connection", "event")
    runs = runs.order_by("-created_at", "-pk")
    expected = [run.pk for run in Paginator(runs, 4).page(2).object_list]

    with CaptureQueriesContext(db) as queries:
        page = EstimatedCountPaginator(runs, 4).page(2)
        shown = [run.pk for run in page.object_list]

    assert shown == expected and len(shown) == 4
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    ids_query, rows_query = [sql for sql in selects if "workflows_run" in sql][-2:]
    assert "JOIN" not in ids_query.upper() and "OFFSET" in ids_query.upper()
    assert "OFFSET" not in rows_query.upper() and "JOIN" in rows_query.upper()


def test_a_first_page_stays_one_query(inbox):
    runs = Run.objects.select_related("event").order_by("-created_at", "-pk")

    with CaptureQueriesContext(db) as queries:
        list(EstimatedCountPaginator(runs, 4).page(1).object_list)

    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert len([sql for sql in selects if "workflows_run" in sql and "JOIN" in sql]) == 1


def test_the_runs_list_shows_a_deep_page_as_django_would(admin_client, inbox, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "ids_first_from", 4)
    monkeypatch.setattr("workflows.admin.runs.RunAdmin.list_per_page", 4)
    expected = list(Run.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)[4:8])

    response = admin_client.get(reverse("admin:workflows_run_changelist") + "?p=2")

    assert response.status_code == 200
    assert [run.pk for run in response.context["cl"].result_list] == expected
