"""Query filters of the API's connection and inbox lists (django-filter; documented from here)."""

from __future__ import annotations

import django_filters

from connections.models import Connection, InboxEvent
from konnectify.platform.api.filters import date_range


class ConnectionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Connection.Status.choices)
    mode = django_filters.ChoiceFilter(
        choices=Connection.Mode.choices, help_text="test or live (the key's mode)."
    )
    webhook_mode = django_filters.ChoiceFilter(choices=Connection.WebhookMode.choices)

    class Meta:
        model = Connection
        fields = ["status", "mode", "webhook_mode"]


class InboxEventFilter(django_filters.FilterSet):
    connection = django_filters.UUIDFilter(
        field_name="connection_id", help_text="A connection's id."
    )
    stripe_event_id = django_filters.CharFilter(help_text="Stripe's event id, e.g. evt_1Nq...")
    object_id = django_filters.CharFilter(
        help_text="The id of the object the event is about (its data.object.id), e.g. cus_Nq..."
    )
    type = django_filters.CharFilter(help_text="Event type, e.g. invoice.paid.")
    status = django_filters.ChoiceFilter(choices=InboxEvent.Status.choices)
    source = django_filters.ChoiceFilter(choices=InboxEvent.Source.choices)
    created_after, created_before = date_range("created", "Stripe creation time")
    received_after, received_before = date_range("received_at", "arrival time")

    class Meta:
        model = InboxEvent
        fields: list[str] = []
