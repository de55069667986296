"""The runs pages in admin: a list that fits, a read-only run page, exact indexed search."""

import re
from datetime import timedelta

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from connections.models import Connection
from tests.support.factories import event_envelope, inbox_event, make_connection
from workflows.engine import create_run
from workflows.models import Run, RunStatus, StepRun

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

LIST = reverse("admin:workflows_run_changelist")
LONG_ERROR = "find: No such customer: 'cus_Missing'; " + "and then some more words " * 30


def change_url(run: Run) -> str:
    return reverse("admin:workflows_run_change", args=[run.pk])


@pytest.fixture
def workflow(connection):
    return make_workflow(
        connection,
        "customer.updated",
        [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})],
        name="Tag updated customers",
    )


def run_for(workflow, object_id: str, status=RunStatus.SUCCEEDED, **step_fields) -> Run:
    """A run of ``workflow`` for a new event about ``object_id``, its step run set up."""
    envelope = event_envelope("customer.updated", data_object={"id": object_id})
    run = create_run(workflow, event=inbox_event(workflow.connection, envelope), enqueue=False)
    Run.objects.filter(pk=run.pk).update(
        status=status, error=LONG_ERROR if status == RunStatus.FAILED else ""
    )
    StepRun.objects.filter(run=run).update(status=status, **step_fields)
    run.refresh_from_db()
    return run


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [run.pk for run in response.context["cl"].result_list]


# -- the list ---------------------------------------------------------------------------


def test_the_list_shows_status_badges_and_a_truncated_error(staff_client, workflow):
    failed = run_for(workflow, "cus_A", RunStatus.FAILED)
    run_for(workflow, "cus_B", RunStatus.RETRYING)

    html = staff_client.get(LIST).content.decode()

    assert '<span class="run-status run-status-failed">Failed</span>' in html
    assert '<span class="run-status run-status-retrying">Retrying</span>' in html
    [preview] = re.findall(r'<span class="run-error" title="[^"]*">([^<]*)</span>', html)
    assert preview.startswith("find: No such customer: &#x27;cus_Missing&#x27;; and then")
    assert preview.endswith("…") and len(preview) < 120
    assert LONG_ERROR.strip() not in html
    assert failed.error == LONG_ERROR  # the full text stays on the run


def test_long_workflow_and_connection_names_are_clipped_with_their_full_text_in_a_title(
    staff_client, workflow
):
    name = "When a customer is updated, find them and tag them " * 3
    workflow.name = name
    workflow.save()
    Connection.objects.filter(pk=workflow.connection_id).update(name="Acme " * 19)
    run_for(workflow, "cus_A")

    html = staff_client.get(LIST).content.decode()

    assert f'<span class="run-clip" title="{name}">{name}</span>' in html
    assert 'class="run-sub run-clip" title="Acme Acme' in html
    css = staff_client.get("/static/workflows/runs.css")
    assert css.status_code == 200
    text = b"".join(css.streaming_content).decode() if css.streaming else css.content.decode()
    assert "text-overflow: ellipsis" in text and "max-width" in text


def test_the_list_offers_the_filters_by_workflow_connection_status_and_date(
    staff_client, workflow, clock
):
    other_connection = make_connection(
        name="Other", secret_key="sk_test_51OtherKey0000000000000000000000000000000000000000ab",
        webhook_secret="whsec_other_0123456789",
    )  # fmt: skip
    other = make_workflow(other_connection, "customer.updated", [], name="Other workflow")
    mine = run_for(workflow, "cus_A", RunStatus.RETRYING)
    theirs = run_for(other, "cus_B", RunStatus.FAILED)
    Run.objects.filter(pk=theirs.pk).update(created_at=clock.now - timedelta(days=40))

    assert listed(staff_client.get(LIST, {"workflow__id__exact": workflow.pk})) == [mine.pk]
    connection_filter = {"workflow__connection__id__exact": str(other_connection.pk)}
    assert listed(staff_client.get(LIST, connection_filter)) == [theirs.pk]
    assert listed(staff_client.get(LIST, {"status__exact": "failed"})) == [theirs.pk]
    since = (clock.now - timedelta(days=7)).isoformat()
    assert listed(staff_client.get(LIST, {"created_at__gte": since})) == [mine.pk]


# -- search ---------------------------------------------------------------------------


def test_a_search_by_an_object_id_finds_exactly_the_runs_of_events_about_it(staff_client, workflow):
    first = run_for(workflow, "cus_Search1")
    second = run_for(workflow, "cus_Search1")
    run_for(workflow, "cus_Search10")  # its id starts with the searched one
    run_for(workflow, "cus_Other")

    assert sorted(listed(staff_client.get(LIST, {"q": "cus_Search1"}))) == [first.pk, second.pk]
    assert listed(staff_client.get(LIST, {"q": "cus_search1"})) == []  # ids are exact
    assert listed(staff_client.get(LIST, {"q": "Search1"})) == []


def test_a_search_by_an_event_id_a_run_number_or_a_workflow_name(staff_client, workflow):
    run = run_for(workflow, "cus_A")
    other = run_for(workflow, "cus_B")

    assert listed(staff_client.get(LIST, {"q": run.event.stripe_event_id})) == [run.pk]
    assert listed(staff_client.get(LIST, {"q": str(other.pk)})) == [other.pk]
    assert sorted(listed(staff_client.get(LIST, {"q": "updated cust"}))) == [run.pk, other.pk]
    assert listed(staff_client.get(LIST, {"q": "no such workflow"})) == []


def test_an_object_id_search_is_an_exact_match_on_the_indexed_column(staff_client, workflow):
    run_for(workflow, "cus_Indexed")

    with CaptureQueriesContext(db) as queries:
        assert len(listed(staff_client.get(LIST, {"q": "cus_Indexed"}))) == 1

    searches = [q["sql"] for q in queries if "object_id" in q["sql"]]
    assert searches, [q["sql"] for q in queries]
    assert not [sql for sql in searches if "LIKE" in sql.upper() or "UPPER(" in sql.upper()]
    lookup = next(
        sql for sql in searches if sql.startswith("SELECT") and '"connections_inboxevent"' in sql
    )
    plan = explain(lookup)
    assert "inbox_object_id_idx" in plan, plan


def explain(sql: str) -> str:
    """The database's plan for ``sql`` (as Django logged it, with its literals)."""
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # the index must be usable
            cursor.execute(f"EXPLAIN {sql}")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(row) for row in cursor.fetchall())


# -- a run's page ------------------------------------------------------------------------


def test_a_run_is_viewed_not_changed(staff_client, workflow):
    run = run_for(workflow, "cus_A", RunStatus.FAILED)

    page = staff_client.get(change_url(run))

    html = page.content.decode()
    assert page.context["title"] == "View run"
    assert "<h1>View run</h1>" in html
    assert "Change run" not in html
    assert 'name="_save"' not in html
    assert f'<div class="run-error-full">{LONG_ERROR.replace(chr(39), "&#x27;")}</div>' in html


def test_input_output_and_error_are_collapsible_pretty_json(staff_client, workflow):
    run = run_for(
        workflow,
        "cus_A",
        RunStatus.FAILED,
        input={"id": "cus_A", "metadata": {"seen": "yes"}},
        error={"type": "invalid_request_error", "message": "No such customer"},
    )

    html = staff_client.get(change_url(run)).content.decode()

    pretty = '{\n  "id": "cus_A",\n  "metadata": {\n    "seen": "yes"\n  }\n}'
    assert (
        f'<details class="run-json"><summary>Input</summary><pre>{escape(pretty)}</pre></details>'
    ) in html
    assert '<details class="run-json" open><summary>Error</summary>' in html  # failed: open
    assert "<summary>Output</summary>" not in html  # nothing recorded


@pytest.mark.parametrize(
    ("mode", "url"),
    [
        (Connection.Mode.TEST, "https://dashboard.stripe.com/test/logs/req_Abc123"),
        (Connection.Mode.LIVE, "https://dashboard.stripe.com/logs/req_Abc123"),
    ],
)
def test_a_request_id_links_to_stripes_log_of_that_request_in_the_connections_mode(
    staff_client, workflow, mode, url
):
    Connection.objects.filter(pk=workflow.connection_id).update(mode=mode)
    run = run_for(workflow, "cus_A", request_id="req_Abc123")

    html = staff_client.get(change_url(run)).content.decode()

    assert (
        f'<a class="request-log" href="{url}" target="_blank" rel="noopener noreferrer"'
    ) in html
    assert html.count("dashboard.stripe.com") == 1  # a link only: the page loads nothing


def test_a_request_id_that_is_not_stripes_shape_is_shown_but_not_linked(staff_client, workflow):
    run = run_for(workflow, "cus_A", request_id="req_../../account")

    html = staff_client.get(change_url(run)).content.decode()

    assert "req_../../account" in html
    assert "dashboard.stripe.com" not in html


def test_step_runs_show_to_whoever_may_view_runs(staff_as, workflow):
    run = run_for(workflow, "cus_A", RunStatus.FAILED, request_id="req_Viewer1")
    client = staff_as("view_run")

    html = client.get(change_url(run)).content.decode()

    assert "req_Viewer1" in html
    assert 'id="step-run-' in html
    assert "Cancel run" not in html and "Resume from failed step" not in html
