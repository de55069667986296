"""Shared pieces of the resource viewsets: JSON bodies, query filters, error answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from konnectify.platform.api.errors import error_body
from konnectify.platform.api.parsers import BoundedJSONParser

# Write actions whose body is the viewset's own (StrictFields) serializer.
SERIALIZER_BODY_ACTIONS = ("create", "update", "partial_update")
WRITE_METHODS = ("POST", "PUT", "PATCH")


class JsonOnly:
    """Request bodies are JSON objects only (no form encoding of nested data), and strict.

    Create and update bodies go through the viewset's serializer, which should be a
    ``StrictFields`` one. Other write actions take no body unless listed in
    ``body_actions`` (then they validate it with a ``StrictFields`` serializer of
    their own): any field sent to them is refused by name, as nothing reads it.
    """

    parser_classes = [BoundedJSONParser]  # the product's one bound on JSON
    body_actions: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        reads_body = self.action in (*SERIALIZER_BODY_ACTIONS, *self.body_actions)
        if request.method in WRITE_METHODS and not reads_body:
            refuse_body(request.data)


def refuse_body(data: Any) -> None:
    """400 unless ``data`` (a parsed body) is empty: ``{}`` or no body at all."""
    if isinstance(data, Mapping):
        unknown = {name: ["Unknown field: this action takes no body."] for name in data}
        if unknown:
            raise exceptions.ValidationError(unknown)
    elif data not in (None, ""):
        raise exceptions.ValidationError(["This action takes no body (or an empty object)."])


class StrictFields:
    """Serializer mixin: a field the serializer does not have is a 400 naming it.

    DRF silently drops unknown keys, so a typo (``emial``) or a field at the wrong
    level (``email`` beside ``input`` instead of inside it) would be accepted and
    ignored. Read-only fields are known: sending back what was read is harmless.
    Nested StrictFields serializers check their own level (``steps[0].nmae``).
    """

    def to_internal_value(self, data):
        unknown = unknown_fields(data, self.fields)
        try:
            value = super().to_internal_value(data)
        except exceptions.ValidationError as exc:
            if unknown and isinstance(exc.detail, Mapping):
                raise exceptions.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise exceptions.ValidationError(unknown)
        return value


def unknown_fields(data: Any, fields: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{name: [message]}`` for each key of ``data`` that is not one of ``fields``."""
    if not isinstance(data, Mapping):
        return {}  # the serializer itself refuses a body that is not an object
    known = ", ".join(name for name, field in fields.items() if not field.read_only)
    return {
        name: [f"Unknown field; this body takes: {known}."]
        for name in sorted(data, key=str)
        if name not in fields
    }


def error_response(
    kind: str,
    message: str,
    http_status: int,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An answer in the API's error format; the request's transaction is rolled back."""
    set_rollback()
    return Response({**error_body(kind, message), **(extra or {})}, http_status, headers=headers)


def conflict(message: str) -> Response:
    """409: the object's state does not allow the operation now."""
    return error_response("conflict", message, status.HTTP_409_CONFLICT)


def date_range_parameters(field: str, name: str = "created") -> list[OpenApiParameter]:
    """OpenAPI parameters ``<name>_after`` / ``<name>_before`` for ``filter_date_range``."""
    return [
        OpenApiParameter(
            f"{name}_{side}",
            OpenApiTypes.DATETIME,
            description=f"Only rows whose {field} is {word} this ISO 8601 time "
            "(with offset; without one, UTC).",
        )
        for side, word in (("after", "at or after"), ("before", "before"))
    ]


def parse_iso(param: str, text: str) -> datetime:
    """An aware datetime from ISO 8601 text; a 400 naming the parameter otherwise."""
    try:
        value = parse_datetime(text.strip())
        if value is not None:
            if timezone.is_naive(value):
                value = timezone.make_aware(value, UTC)
            value = value.astimezone(UTC)  # the database compares in UTC
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise exceptions.ValidationError({param: [f"Not an ISO 8601 date-time: {text!r}."]})
    return value


def filter_date_range(queryset: QuerySet, params, field: str, name: str = "created") -> QuerySet:
    """Apply ``<name>_after`` (inclusive) and ``<name>_before`` (exclusive) to ``field``."""
    after, before = params.get(f"{name}_after"), params.get(f"{name}_before")
    if after:
        queryset = queryset.filter(**{f"{field}__gte": parse_iso(f"{name}_after", after)})
    if before:
        queryset = queryset.filter(**{f"{field}__lt": parse_iso(f"{name}_before", before)})
    return queryset


def filter_choice(queryset: QuerySet, params, name: str, field: str, choices) -> QuerySet:
    """Filter on an exact value that must be one of ``choices`` (400 otherwise)."""
    value = params.get(name)
    if value in (None, ""):
        return queryset
    allowed = [str(choice) for choice in choices]
    if value not in allowed:
        raise exceptions.ValidationError({name: [f"Must be one of {', '.join(allowed)}."]})
    return queryset.filter(**{field: value})


def positive_id(text: str) -> int:
    """An integer primary key (a value no database column can hold is not an id)."""
    value = int(text)
    if not 0 < value < 2**63:
        raise ValueError(text)
    return value


def filter_id(queryset: QuerySet, params, name: str, field: str, parse=positive_id) -> QuerySet:
    """Filter on an id given in the query string (400 when it is not an id)."""
    value = params.get(name)
    if value in (None, ""):
        return queryset
    try:
        parsed = parse(value)
    except (TypeError, ValueError):
        raise exceptions.ValidationError({name: [f"Not a valid id: {value!r}."]}) from None
    return queryset.filter(**{field: parsed})


class IntegerIds:
    """Integer primary keys in the path: anything no column can hold is simply not found."""

    def get_object(self):
        lookup = self.lookup_url_kwarg or self.lookup_field
        try:
            positive_id(self.kwargs[lookup])
        except (KeyError, ValueError):
            raise exceptions.NotFound("No such object.") from None
        return super().get_object()


@extend_schema(exclude=True)
class NoSuchEndpoint(APIView):
    """404 in the API's error format for any path under /api/ that names no endpoint."""

    authentication_classes: list = []
    permission_classes: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("No such endpoint.")
