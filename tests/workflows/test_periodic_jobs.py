"""Workflows declare their periodic jobs; bootstrap creates them once, visible in django-q2."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

pytestmark = pytest.mark.django_db

JOBS = {
    "workflows: retry sweeper": "workflows.tasks.sweep",
    "workflows: prune old runs and inbox events": "workflows.tasks.prune",
}


def test_bootstrap_creates_the_sweeper_and_pruning_once():
    call_command("bootstrap")
    call_command("bootstrap")
    for name, func in JOBS.items():
        assert Schedule.objects.filter(name=name).get().func == func


def test_the_sweeper_runs_every_minute():
    call_command("bootstrap")
    sweeper = Schedule.objects.get(name="workflows: retry sweeper")
    assert (sweeper.schedule_type, sweeper.minutes) == (Schedule.MINUTES, 1)


def test_the_one_endpoint_repair_job_is_the_connections_check_every_ten_minutes():
    call_command("bootstrap")
    repair = Schedule.objects.filter(func__contains="endpoint")
    assert [(job.func, job.minutes) for job in repair] == [
        ("connections.tasks.check_webhook_endpoints", 10)
    ]
