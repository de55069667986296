"""Shared pieces of the resource viewsets: JSON bodies, query filters, error answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django_filters
from django.http import HttpResponsePermanentRedirect
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
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


class KnownQueryParameters:
    """Every query parameter means something: any other is a 400 naming it.

    A list takes its FilterSet's filters (``filterset_class``), the paging
    parameters and ``list_query_parameters`` (e.g. ``expand``); every operation takes
    ``query_parameters``. A misspelt or unsupported filter would otherwise be ignored
    and the whole list answered as if it matched.
    """

    query_parameters: tuple[str, ...] = ()
    list_query_parameters: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        problems = self.query_parameter_errors(request.query_params)
        if problems:
            raise exceptions.ValidationError(problems)

    def query_parameter_errors(self, query_params) -> dict[str, list[str]]:
        """``{name: [message]}``: unknown names, single-value ones given more than once, and
        a ``page``/``page_size`` that is not a number in range, all at once."""
        known = self.known_query_parameters()
        takes = ", ".join(sorted(known)) or "none"
        found: dict[str, list[str]] = {}
        for name, values in sorted(query_params.lists()):
            if name not in known:
                found[name] = [f"Unknown query parameter; this endpoint takes: {takes}."]
            elif len(values) > 1 and name not in self.multi_value_query_parameters():
                # QueryDict.get() would silently answer for the last value only.
                found[name] = [f"Given {len(values)} times; this parameter takes one value."]
        paginator = self.list_paginator()
        if paginator is not None and hasattr(paginator, "query_errors"):
            found.update(
                (name, messages)
                for name, messages in paginator.query_errors(query_params).items()
                if name not in found
            )
        return found

    def list_paginator(self):
        """The paginator, for a list (other actions are not paginated); else None."""
        if getattr(self, "action", None) != "list":
            return None
        return getattr(self, "paginator", None)

    def multi_value_query_parameters(self) -> set[str]:
        """Filters that read every value of their parameter (``MultipleChoiceFilter``)."""
        filterset = getattr(self, "filterset_class", None)
        if filterset is None or getattr(self, "action", None) != "list":
            return set()
        return {
            name
            for name, item in filterset.base_filters.items()
            if isinstance(item, django_filters.MultipleChoiceFilter)
        }

    def known_query_parameters(self) -> set[str]:
        """The names this request may use: filters and paging for lists, plus ours."""
        known = set(self.query_parameters)
        if getattr(self, "action", None) != "list":
            return known
        known.update(self.list_query_parameters)
        filterset = getattr(self, "filterset_class", None)
        if filterset is not None:
            known.update(filterset.base_filters)
        paginator = self.list_paginator()
        if paginator is not None:
            known.update(
                name
                for name in (paginator.page_query_param, paginator.page_size_query_param)
                if name
            )
        return known


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


def positive_id(text: str) -> int:
    """An integer primary key (a value no database column can hold is not an id; ValueError)."""
    value = int(text)
    if not 0 < value < 2**63:
        raise ValueError(text)
    return value


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
    """404 in the API's error format for any path under /api/ that names no endpoint.

    A path that names one once a slash is added (``/api/v1/runs``) is redirected there
    with 308: every method, with its body, follows it (a 301 would turn a POST into a
    GET in most clients); the query string is kept.
    """

    authentication_classes: list = []
    permission_classes: list = []

    def dispatch(self, request, *args, **kwargs):
        slashed = with_slash(request.path_info)
        if slashed is None:
            return super().dispatch(request, *args, **kwargs)
        query = request.META.get("QUERY_STRING", "")
        location = request.path + "/" + (f"?{query}" if query else "")
        return HttpResponsePermanentRedirect(location, preserve_request=True)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("No such endpoint.")


def with_slash(path: str) -> str | None:
    """``path`` + "/" when that names an endpoint (and ``path`` names none), else None."""
    if path.endswith("/"):
        return None
    try:
        match = resolve(path + "/")
    except Resolver404:
        return None
    if getattr(match.func, "view_class", None) is NoSuchEndpoint:
        return None
    return path + "/"
