"""Periodic jobs, declared by each app in ``<app>/schedules.py`` as ``SCHEDULES``.

Each entry is a dict of django-q2 ``Schedule`` fields with a unique ``name``.
``ensure_schedules()`` creates or updates them, so running it at every start
(``manage.py bootstrap``) is safe and an edited interval takes effect.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django_q.models import Schedule


def declared_schedules() -> list[dict]:
    declared = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        declared.extend(getattr(module, "SCHEDULES", []))
    return declared


def ensure_schedules() -> list[Schedule]:
    """Create or update every declared schedule; returns them."""
    ensured = []
    for spec in declared_schedules():
        fields = dict(spec)
        name = fields.pop("name")
        schedule, _ = Schedule.objects.update_or_create(name=name, defaults=fields)
        ensured.append(schedule)
    return ensured
