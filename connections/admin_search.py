"""The inbox list at millions of events: searched and filtered through its indexes, never
counted in full."""

from __future__ import annotations

import re

from django.contrib import admin
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from connections.models import Connection, InboxEvent
from konnectify.platform.big_tables import BigTableAdmin

# What a Stripe id looks like: a lowercase prefix, an underscore, letters and digits
# (evt_1Nq..., cus_9s6X..., in_1MtH..., also two-part prefixes such as ii_ and whsec_).
STRIPE_ID = re.compile(r"^[a-z]+(?:_[a-z]+)*_[A-Za-z0-9]+$")


class InboxBigTableAdmin(BigTableAdmin):
    """The inbox admin's search and counts (a mixin, before ``admin.ModelAdmin``).

    Search: an event id (``evt_...``) is looked up exactly with the unique index on
    (connection, event id), one probe per connection; any other Stripe id (``cus_...``,
    ``in_...``) exactly in ``object_id`` (``inbox_object_id_idx``); other words match
    the start of the event type (``invoice.`` finds ``invoice.paid``). Never a substring
    scan of the payloads or ids.

    List filter: ``type`` offers the types found with one probe of
    ``inbox_connection_type_idx`` per (connection, type) pair (TypeFilter), instead of
    a DISTINCT over every row.
    """

    search_help_text = (
        "An event id (evt_...), the id of the object an event is about (cus_..., in_..., "
        "pi_...), or the start of an event type (invoice. or invoice.paid)."
    )

    def get_list_filter(self, request: HttpRequest):
        return [
            ("type", TypeFilter) if f == "type" else f for f in super().get_list_filter(request)
        ]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("evt_") and STRIPE_ID.match(term):
            connections = list(Connection.objects.values_list("pk", flat=True))
            return queryset.filter(connection_id__in=connections, stripe_event_id=term), False
        if STRIPE_ID.match(term):
            return queryset.filter(object_id=term), False
        return queryset.filter(Q(type__startswith=term)), False


class TypeFilter(admin.AllValuesFieldListFilter):
    """The inbox's event types as Django's all-values filter offers them, found cheaply.

    On PostgreSQL a recursive query walks ``inbox_connection_type_idx`` from one
    (connection, type) pair to the next (a "loose index scan"): a few dozen index
    probes instead of reading a million rows. Elsewhere Django's own DISTINCT.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        if connections[InboxEvent.objects.db].vendor == "postgresql":
            self.lookup_choices = event_types()


def event_types() -> list[str]:
    """Every distinct ``type`` in the inbox, sorted (PostgreSQL)."""
    database = connections[InboxEvent.objects.db]
    with database.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE pairs AS (
                (SELECT connection_id, type FROM connections_inboxevent
                 ORDER BY connection_id, type LIMIT 1)
                UNION ALL
                SELECT next.connection_id, next.type FROM pairs, LATERAL (
                    SELECT connection_id, type FROM connections_inboxevent
                    WHERE (connection_id, type) > (pairs.connection_id, pairs.type)
                    ORDER BY connection_id, type LIMIT 1
                ) AS next
            )
            SELECT DISTINCT type FROM pairs ORDER BY type
            """
        )
        return [row[0] for row in cursor.fetchall()]
