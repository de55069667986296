"""``manage.py bootstrap`` prepares a database and is safe to run at every start."""

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_q.models import Schedule

from konnectify.schedules import ensure_schedules

pytestmark = pytest.mark.django_db

EXAMPLE = [{"name": "example job", "func": "tests.support.tasks.echo", "schedule_type": "I",
            "minutes": 5}]  # fmt: skip


def test_it_creates_one_admin_with_a_generated_password_printed_once(capsys, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    call_command("bootstrap")
    first = capsys.readouterr().out
    call_command("bootstrap")
    second = capsys.readouterr().out
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    password = first.split("shown only now): ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert password not in second


def test_it_takes_the_admin_credentials_from_the_environment(monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "ops")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-pass-phrase")
    call_command("bootstrap")
    assert get_user_model().objects.get(username="ops").check_password("a-long-pass-phrase")


def test_schedules_are_created_once_and_updated_in_place():
    with mock.patch("konnectify.schedules.declared_schedules", return_value=EXAMPLE):
        ensure_schedules()
        ensure_schedules()
    edited = [{**EXAMPLE[0], "minutes": 10}]
    with mock.patch("konnectify.schedules.declared_schedules", return_value=edited):
        ensure_schedules()
    assert Schedule.objects.filter(name="example job").count() == 1
    assert Schedule.objects.get(name="example job").minutes == 10


def test_a_job_an_app_no_longer_declares_is_deleted_and_other_schedules_are_kept():
    # The endpoint check the workflows app declared before the connections check took it over.
    Schedule.objects.create(
        name="workflows: webhook endpoint check", func="workflows.tasks.check_endpoints"
    )
    Schedule.objects.create(name="workflow-7", func="workflows.tasks.run_scheduled", args="7")
    Schedule.objects.create(name="staff job", func="tests.support.tasks.echo")
    call_command("bootstrap")
    names = set(Schedule.objects.values_list("name", flat=True))
    assert "workflows: webhook endpoint check" not in names
    assert {"workflow-7", "staff job", "connections: check webhook endpoints"} <= names
