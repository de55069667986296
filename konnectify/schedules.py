"""Periodic jobs, declared by each app in ``<app>/schedules.py`` as ``SCHEDULES``.

Each entry is a dict of django-q2 ``Schedule`` fields with a unique ``name``
starting with the app's label and a colon (``"workflows: retry sweeper"``).
``ensure_schedules()`` creates or updates them, so running it at every start
(``manage.py bootstrap``) is safe and an edited interval takes effect; a job an
app no longer declares (its name has the app's prefix) is deleted, so a stored
schedule never calls a task that was removed or moved.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django_q.models import Schedule


def declaring_apps() -> dict[str, list[dict]]:
    """Each app's label with the schedules its ``schedules.py`` declares."""
    declared = {}
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        declared[config.label] = list(getattr(module, "SCHEDULES", []))
    return declared


def declared_schedules() -> list[dict]:
    return [spec for specs in declaring_apps().values() for spec in specs]


def ensure_schedules() -> list[Schedule]:
    """Create or update every declared schedule, delete retired ones; returns the declared."""
    ensured = []
    for spec in declared_schedules():
        fields = dict(spec)
        name = fields.pop("name")
        schedule, _ = Schedule.objects.update_or_create(name=name, defaults=fields)
        ensured.append(schedule)
    retire_undeclared({schedule.name for schedule in ensured})
    return ensured


def retire_undeclared(declared: set[str]) -> list[str]:
    """Delete the jobs named like a declaring app's (``"<label>: "``) it no longer declares.

    Returns their names. Other schedules (a scheduled workflow's ``workflow-<id>``,
    anything staff added) are left alone.
    """
    prefixes = tuple(f"{label}: " for label in declaring_apps())
    retired = [
        schedule
        for schedule in Schedule.objects.exclude(name__in=declared)
        if schedule.name and schedule.name.startswith(prefixes)
    ]
    for schedule in retired:
        schedule.delete()
    return [schedule.name for schedule in retired]
