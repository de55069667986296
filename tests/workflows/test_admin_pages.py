"""Admin pages render, with the runs-per-day chart, step field help and replay buttons."""

import pytest
from django.urls import reverse

from workflows.engine import create_run
from workflows.models import Run, RunStatus

from .conftest import make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(connection):
    return make_workflow(
        connection,
        "customer.updated",
        [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})],
    )


@pytest.fixture
def runs(workflow, clock):
    for status in (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.RETRYING):
        run = create_run(workflow, scheduled_for=clock.now)
        Run.objects.filter(pk=run.pk).update(status=status)
        clock.advance(minutes=1)
    return Run.objects.all()


def test_the_admin_index_shows_the_runs_chart(staff_client, runs):
    page = staff_client.get(reverse("admin:index"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Runs per day, last 30 days" in html
    assert "<svg" in html and "2 succeeded" in html and "1 failed" in html and "1 retrying" in html


def test_the_workflow_pages_render_with_field_help_and_paths(staff_client, workflow, runs):
    assert staff_client.get(reverse("admin:workflows_workflow_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:workflows_workflow_add")).status_code == 200
    page = staff_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Exact email address" in html  # the action's field help beside the step
    assert "{{ trigger.data.object.email }}" in html  # a path from the trigger's sample
    assert "Runs per day" in html
    assert "Customer Updated" in html  # trigger choices from the catalog


def test_the_run_pages_render_with_step_details(staff_client, runs):
    assert staff_client.get(reverse("admin:workflows_run_changelist")).status_code == 200
    filtered = staff_client.get(reverse("admin:workflows_run_changelist") + "?status__exact=failed")
    assert filtered.status_code == 200
    run = Run.objects.filter(status=RunStatus.FAILED).get()
    page = staff_client.get(reverse("admin:workflows_run_change", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Resume from failed step" in html and "Re-run from the start" in html
    assert run.step_runs.get().idempotency_key in html


def test_the_run_page_shows_the_fields_left_out_because_they_rendered_empty(staff_client, runs):
    run = Run.objects.filter(status=RunStatus.FAILED).get()
    run.step_runs.update(left_out_fields=["email", "metadata.source"])

    page = staff_client.get(reverse("admin:workflows_run_change", args=[run.pk]))

    html = page.content.decode()
    assert "Left out (rendered empty)" in html
    assert "email, metadata.source" in html
