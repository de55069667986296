"""Every list is paginated by page number, with a bounded page size.

A bad ``page`` or ``page_size`` is a 400 naming it, in the one error format: DRF's
own paginator answers 404 "Invalid page." to ``page=0`` and silently falls back to the
default size for ``page_size=-1`` or clamps ``page_size=10**14``.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination

# Longer is not a page number of any list (and keeps int() cheap).
MAX_PAGE_DIGITS = 100


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()  # ``page`` is an integer, as the schema says; no "last"

    def query_errors(self, query_params) -> dict[str, list[str]]:
        """``{name: [message]}`` for a ``page`` or ``page_size`` that is not a number in range.

        ``page`` is a positive integer; ``page_size`` an integer from 1 to
        ``max_page_size``. Whether ``page`` is past the last page needs the count:
        ``paginate_queryset`` says so.
        """
        found = {}
        page = query_params.get(self.page_query_param)
        if page is not None and positive_integer(page) is None:
            found[self.page_query_param] = ["A page number: a positive integer (1 is the first)."]
        size = query_params.get(self.page_size_query_param)
        if size is not None and not 0 < (positive_integer(size) or 0) <= self.max_page_size:
            found[self.page_size_query_param] = [
                f"A page size: an integer from 1 to {self.max_page_size}."
            ]
        return found

    def get_page_size(self, request) -> int:
        problems = self.query_errors(request.query_params)
        if problems:
            raise exceptions.ValidationError(problems)
        return super().get_page_size(request)

    def paginate_queryset(self, queryset, request, view=None):
        """DRF's, but a page past the last one is a 400 "page N of M" naming ``page``.

        (Page 1 of an empty list exists: it is empty.)
        """
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            pass
        number = positive_integer(request.query_params.get(self.page_query_param, ""))
        pages = self.django_paginator_class(queryset, self.get_page_size(request)).num_pages
        raise exceptions.ValidationError(
            {self.page_query_param: [f"There is no page {number}: page {number} of {pages}."]}
        )


def positive_integer(text: str) -> int | None:
    """``text`` as an integer of 1 or more written in decimal digits, else None."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_PAGE_DIGITS:
        return None
    value = int(text)
    return value if value > 0 else None
