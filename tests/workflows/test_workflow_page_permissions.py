"""The workflow page offers only what its user may follow: runs links and the chart need
view_run; steps a user may not view are counted and named as hidden, not silently left out.
"""

import pytest
from django.urls import reverse

from workflows.models import Run, RunStatus

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

STEPS = [
    ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
    ("tag", "update_customer", {"id": "{{ steps.find.id }}", "description": "seen"}),
]


@pytest.fixture
def workflow(connection):
    workflow = make_workflow(connection, "customer.updated", STEPS, active=False)
    Run.objects.create(workflow=workflow, status=RunStatus.SUCCEEDED)
    return workflow


def page(client, workflow) -> str:
    response = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert response.status_code == 200
    return response.content.decode()


def runs_url(workflow) -> str:
    return f"{reverse('admin:workflows_run_changelist')}?workflow__id__exact={workflow.pk}"


def test_without_view_run_no_runs_button_and_no_chart(staff_as, workflow):
    html = page(staff_as("view_workflow", "change_workflow", "view_step"), workflow)

    assert runs_url(workflow) not in html
    assert "runs-chart" not in html
    assert reverse("admin:workflows_run_changelist") not in html


def test_with_view_run_the_runs_button_and_the_linked_chart_are_there(staff_as, workflow):
    client = staff_as("view_workflow", "view_step", "view_run")
    html = page(client, workflow)

    assert f'href="{runs_url(workflow)}"' in html.replace("&amp;", "&")
    assert "runs-chart" in html
    assert client.get(runs_url(workflow)).status_code == 200


def test_a_user_who_may_not_view_steps_is_told_they_are_hidden(staff_as, workflow):
    html = page(staff_as("view_workflow"), workflow)

    assert 'id="workflow-steps-hidden"' in html
    assert "This workflow has 2 steps." in html
    assert "permission to view steps" in html
    assert "update_customer" not in html  # the steps themselves stay hidden


def test_a_user_who_may_view_steps_gets_them_and_no_note(staff_as, workflow):
    html = page(staff_as("view_workflow", "view_step"), workflow)

    assert 'id="workflow-steps-hidden"' not in html
    assert "update_customer" in html
