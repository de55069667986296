"""Helpers shared by the workflow and run admin pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404


def object_or_404(model, pk: Any, **filters: Any):
    """``get_object_or_404`` for a key from a form: a malformed one is 404 too, never 500."""
    try:
        return get_object_or_404(model, pk=pk, **filters)
    except (ValueError, ValidationError):
        raise Http404(f"No {model._meta.verbose_name} with id {pk!r}.") from None
