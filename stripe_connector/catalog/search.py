"""Search actions: structured inputs compiled into Stripe's search query language.

Stripe's language (https://docs.stripe.com/search#search-query-language):
``field:'value'``, ``metadata['key']:'value'``, numbers with ``> < >= <=`` and
``field:123`` for equality, clauses joined by ``AND`` or by ``OR`` but never
both, no parentheses. Values are quoted with single quotes; a backslash and a
single quote inside are escaped with a backslash.

Search is not read-after-write (about a minute behind); the descriptions say
so, and Find Customer uses the exact list filter instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

MIN_LIMIT, MAX_LIMIT, DEFAULT_LIMIT = 1, 100, 10
DEFAULT_MAX_RESULTS, MAX_RESULTS_CAP = 1000, 10000

# The operators of a comparison input, in the order clauses are written.
_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": ":"}
_COMPARISON_HELP = {
    "gt": "Greater than",
    "gte": "Greater than or equal to",
    "lt": "Less than",
    "lte": "Less than or equal to",
    "eq": "Exactly",
}


@dataclass(frozen=True)
class SearchField:
    """One searchable field of a Stripe object.

    ``kind`` is how it compiles: string/enum -> ``f:'v'``, boolean -> ``f:'true'``,
    number/timestamp -> comparisons, metadata -> ``metadata['k']:'v'`` per key.
    """

    name: str
    kind: str
    description: str
    values: tuple[str, ...] = ()


def quote(value: str) -> str:
    """Stripe's quoted string: ``'`` around, ``\\`` and ``'`` escaped with a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def compile_query(fields: Sequence[SearchField], data: dict[str, Any]) -> str:
    """The query for validated ``data``: its raw ``query``, or its fields joined by ``combine``."""
    if "query" in data:
        return data["query"]
    clauses = [clause for f in fields if f.name in data for clause in _clauses(f, data[f.name])]
    return f" {data.get('combine', 'AND')} ".join(clauses)


def _clauses(f: SearchField, value: Any) -> list[str]:
    """The clauses of one field's input."""
    if f.kind == "metadata":
        return [f"metadata[{quote(key)}]:{quote(item)}" for key, item in value.items()]
    if f.kind in ("number", "timestamp"):
        return [f"{f.name}{op}{value[key]}" for key, op in _COMPARISONS.items() if key in value]
    if f.kind == "boolean":
        return [f"{f.name}:{quote('true' if value else 'false')}"]
    return [f"{f.name}:{quote(value)}"]


def clamp_limit(limit: int | None) -> int:
    """Stripe takes 1-100 per page; out-of-range values are clamped rather than refused."""
    return DEFAULT_LIMIT if limit is None else max(MIN_LIMIT, min(MAX_LIMIT, limit))


def field_schema(f: SearchField) -> s.Schema:
    """The input schema of one searchable field."""
    if f.kind == "metadata":
        return s.metadata("Metadata keys and the exact values they must have")
    if f.kind in ("number", "timestamp"):
        unit = "Unix timestamp" if f.kind == "timestamp" else "integer"
        bounds = {key: s.integer(f"{text} this {unit}") for key, text in _COMPARISON_HELP.items()}
        schema = s.obj(bounds, f"{f.description}: a range or comparison ({', '.join(bounds)})")
        return {**schema, "minProperties": 1}
    if f.kind == "boolean":
        return s.boolean(f.description)
    if f.kind == "enum":
        return s.enum(f.description, *f.values)
    return s.string(f.description, min_length=1)


def search_schema(fields: Sequence[SearchField]) -> s.Schema:
    """Structured fields plus combine, raw query, limit, page and fetch-all options."""
    properties = {f.name: field_schema(f) for f in fields}
    properties.update(
        combine=s.enum("How the fields combine: AND (all must match) or OR (any)", "AND", "OR"),
        query=s.string(
            "Raw Stripe search query for experts, e.g. status:'open' AND total>1000; "
            "replaces the fields above",
            min_length=1,
        ),
        limit=s.integer(f"Results per page, clamped to {MIN_LIMIT}-{MAX_LIMIT} (default 10)"),
        page=s.string("Cursor from a previous result's next_page, for the following page"),
        fetch_all=s.boolean("Follow next_page and return every match, up to max_results"),
        max_results=s.integer(
            f"Cap for fetch_all (default {DEFAULT_MAX_RESULTS})", minimum=1, maximum=MAX_RESULTS_CAP
        ),
    )
    return s.input_schema(properties)


def search_rule(fields: Sequence[SearchField]):
    """Cross-field checks: a query or fields (not both), and OR never mixed with AND."""
    names = [f.name for f in fields]
    ranged = [f.name for f in fields if f.kind in ("number", "timestamp")]

    def rule(data: dict[str, Any]) -> list[dict[str, str]]:
        given = [name for name in names if name in data]
        if "query" in data and given:
            return [{"field": "query", "message": "give a raw query or search fields, not both"}]
        if "query" not in data and not given:
            return [
                {"field": "query", "message": f"give a raw query or one of: {', '.join(names)}"}
            ]
        if "page" in data and data.get("fetch_all"):
            return [{"field": "page", "message": "fetch_all starts from the first page"}]
        if data.get("combine") == "OR":
            return [
                {"field": name, "message": "a range with two bounds needs combine AND"}
                for name in ranged
                if len(data.get(name, {})) > 1
            ]
        return []

    return rule


def run_search(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """One page (``data``, ``has_more``, ``next_page``), or every page up to ``max_results``."""
    query = compile_query(action.search_fields, data)
    limit = clamp_limit(data.get("limit"))
    if data.get("fetch_all"):
        cap = data.get("max_results", DEFAULT_MAX_RESULTS)
        objects, more = client.search_all(action.path, query, limit=limit, max_objects=cap)
        return ActionResult({"data": objects, "has_more": more, "next_page": None})
    params = {"query": query, "limit": limit, "page": data.get("page")}
    response = client.request("GET", action.path, params)
    page = response.data
    output = {"data": page.get("data", []), "has_more": bool(page.get("has_more"))}
    output["next_page"] = page.get("next_page")
    return ActionResult(output, response.request_id)


@dataclass(frozen=True, eq=False)
class SearchAction(Action):
    """An Action that also knows its searchable fields (for compiling and for docs)."""

    search_fields: tuple[SearchField, ...] = ()


def search_action(
    key: str, label: str, group: str, path: str, fields: Sequence[SearchField], what: str
) -> SearchAction:
    """Declare a search action over ``fields`` of the objects at ``path``."""
    return SearchAction(
        key=key,
        label=label,
        group=group,
        description=(
            f"Search {what} by {', '.join(f.name for f in fields)} (or a raw query). "
            "Search lags writes by about a minute; use a Find action right after a change."
        ),
        method="GET",
        path=path,
        input_schema=search_schema(fields),
        handler=run_search,
        mutates=False,
        rules=(search_rule(fields),),
        search_fields=tuple(fields),
    )
