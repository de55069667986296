"""Admin lists of tables with millions of rows: counts that do not scan the table.

Django's admin counts a list's rows on every page view (``COUNT(*)`` for the
paginator, and once more for "N total" unless ``show_full_result_count`` is off). On
PostgreSQL a count reads every row: about a second at a million runs. Here the
paginator asks the planner instead when the list is big: ``EXPLAIN`` gives the rows
it expects from the statistics that ANALYZE (autovacuum) keeps, in a millisecond.
A small list (a search, a narrow filter) is counted exactly, as before.
"""

from __future__ import annotations

import json

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this many rows (as the planner estimates them) a list is counted exactly: a
# count that small is cheap, and a page number or total that is off would show.
EXACT_COUNT_BELOW = 10_000


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's estimate of ``queryset``'s rows on PostgreSQL; None elsewhere.

    For a table without filters this is ``pg_class.reltuples`` scaled to the table's
    current size; with filters, what the statistics predict for them. Estimates can
    be off by a few percent (or more, for a filter on correlated columns).
    """
    database = connections[queryset.db]
    if database.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:  # e.g. pk__in=[]: Django knows there is nothing to count
        return 0
    with database.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator whose count of a big list is the planner's estimate (PostgreSQL).

    Exact (``COUNT(*)``) when the estimate is under EXACT_COUNT_BELOW, and on other
    databases. A big list's count, and so its number of pages, is then approximate:
    the last pages may come out shorter or empty.
    """

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            estimate = estimated_count(self.object_list)
            if estimate is not None and estimate >= EXACT_COUNT_BELOW:
                return estimate
        return super().count


class BigTableAdmin:
    """ModelAdmin mixin for a list of millions of rows: no full count, an estimating paginator.

    Use before ``admin.ModelAdmin`` in the bases. Leave ``date_hierarchy`` out of such
    an admin: its links read the distinct dates of the whole table; a date
    ``list_filter`` (ranges on an indexed column) does the same job.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
