"""Query filters of the API's workflow and run lists (django-filter; documented from here).

Not to be confused with ``workflows.filters``: the conditions a workflow puts on its events.
"""

from __future__ import annotations

import django_filters

from konnectify.platform.api.filters import BooleanFilter, IdFilter, date_range
from workflows.models import Run, RunStatus, Workflow


class WorkflowFilter(django_filters.FilterSet):
    connection = django_filters.UUIDFilter(
        field_name="connection_id", help_text="A connection's id."
    )
    active = BooleanFilter(help_text="true or false.")
    trigger_key = django_filters.CharFilter(
        help_text="A trigger key, e.g. invoice.paid, custom or schedule."
    )
    event_type = django_filters.CharFilter(
        help_text="The Stripe event type the workflow waits for (custom triggers included)."
    )

    class Meta:
        model = Workflow
        fields: list[str] = []


class RunFilter(django_filters.FilterSet):
    workflow = IdFilter(field_name="workflow_id", help_text="A workflow's id.")
    connection = django_filters.UUIDFilter(
        field_name="workflow__connection_id", help_text="A connection's id."
    )
    event = IdFilter(field_name="event_id", help_text="An inbox event's id (/api/v1/events/).")
    stripe_event_id = django_filters.CharFilter(
        field_name="event__stripe_event_id",
        help_text="Stripe's id of the event that started the run, e.g. evt_1Nq...",
    )
    object_id = django_filters.CharFilter(
        field_name="event__object_id",
        help_text="The id of the object the run's event is about (data.object.id), e.g. in_1Nq...",
    )
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    created_after, created_before = date_range("created_at", "creation time")

    class Meta:
        model = Run
        fields: list[str] = []
