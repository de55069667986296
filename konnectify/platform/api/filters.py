"""List filters: django-filter FilterSets, whose filters drf-spectacular documents.

A list view names its ``filterset_class``; ``ListFilterBackend`` (the default filter
backend) applies it to lists only, and a bad value is a 400 naming the parameter,
every bad parameter at once. The filters here add what django-filter leaves open:
ids no column can hold, strict booleans, and date-times without an offset read as UTC.
"""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

# Primary keys are 64-bit: a larger number is not an id (and no database compares it).
MAX_ID = 2**63 - 1


class ListFilterBackend(DjangoFilterBackend):
    """django-filter's backend for lists; ``get_object`` of other actions is not filtered."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) != "list":
            return queryset
        return super().filter_queryset(request, queryset, view)


class IdFilter(django_filters.NumberFilter):
    """An integer primary key: ``1`` to 2**63-1; ``1.5``, ``0`` or ``x`` are a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(forms.DateTimeField):
    """ISO 8601; without an offset the time is UTC (not the server's TIME_ZONE)."""

    input_formats = ["iso-8601"]
    default_error_messages = {
        "invalid": "Not an ISO 8601 date-time (e.g. 2026-01-31T09:30:00Z).",
    }

    def strptime(self, value: str, format: str):
        try:
            parsed = parse_datetime(value.strip())
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None:
            raise ValueError(value)
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, UTC)
        return parsed.astimezone(UTC)  # the database compares in UTC

    def to_python(self, value):
        # Django's DateTimeField would re-apply the current time zone to an aware value.
        if value in self.empty_values:
            return None
        try:
            return self.strptime(str(value), "iso-8601")
        except (ValueError, OverflowError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def date_range(field: str, what: str) -> tuple[DateTimeFilter, DateTimeFilter]:
    """``<name>_after`` (inclusive) and ``<name>_before`` (exclusive) filters on ``field``."""
    return (
        DateTimeFilter(
            field_name=field,
            lookup_expr="gte",
            help_text=f"Only rows whose {what} is at or after this ISO 8601 time "
            "(with offset; without one, UTC).",
        ),
        DateTimeFilter(
            field_name=field,
            lookup_expr="lt",
            help_text=f"Only rows whose {what} is before this ISO 8601 time "
            "(with offset; without one, UTC).",
        ),
    )


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's would ignore it)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)
