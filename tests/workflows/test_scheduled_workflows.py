"""Scheduled workflows: a django-q2 Schedule calls run_scheduled; runs get the schedule time."""

import pytest
from django_q.models import Schedule

from workflows import tasks
from workflows.models import Run, RunStatus
from workflows.services import set_active

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

STEPS = [("note", "create_customer", {"description": "Tick at {{ trigger.scheduled_at }}"})]


def test_an_active_scheduled_workflow_has_a_schedule_and_an_inactive_one_has_none(connection):
    workflow = make_workflow(connection, "schedule", STEPS, schedule_cron="0 * * * *")
    schedule = Schedule.objects.get(name=f"workflow-{workflow.pk}")
    assert (schedule.func, schedule.schedule_type, schedule.cron) == (
        "workflows.tasks.run_scheduled",
        Schedule.CRON,
        "0 * * * *",
    )

    set_active(workflow, False)
    assert not Schedule.objects.filter(name=f"workflow-{workflow.pk}").exists()


def test_a_tick_runs_the_workflow_with_the_scheduled_time_once(
    connection, stripe, clock, on_commit
):
    workflow = make_workflow(connection, "schedule", STEPS, schedule_minutes=15)
    stripe.post(f"{API}/v1/customers", json={"id": "cus_S", "object": "customer"})

    with on_commit():
        tasks.run_scheduled(workflow.pk)
        tasks.run_scheduled(workflow.pk)  # the same tick delivered twice

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert run.step_runs.get().input == {"description": f"Tick at {clock.now.isoformat()}"}


def test_a_schedule_needs_cron_or_minutes(connection):
    from django.core.exceptions import ValidationError

    workflow = make_workflow(connection, "schedule", STEPS, active=False, schedule_cron="not cron")
    with pytest.raises(ValidationError):
        workflow.full_clean()
