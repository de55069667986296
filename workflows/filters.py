"""Workflow filters: conditions on the event that must all hold for a run to start.

A filter is ``{"path": "data.object.status", "op": "equals", "value": "draft"}``;
the path is dotted from the event envelope, with numbers for list positions
(``data.object.lines.data.0.price.id``).

A path is *absent* when some key on the way is missing, and *present* otherwise,
also when its value is null. Stripe sends every field of an object, with null
for "no value", and in ``data.previous_attributes`` a key with null means "it
was null before": the key's presence is the whole signal. So:

- ``exists`` / ``not_exists`` ask only whether the path is present (null counts
  as present); ``is_null`` / ``is_not_null`` ask about the value of a present path;
- ``equals`` / ``in`` need a present path; null is a value like any other
  (``equals null`` holds for a present null); ``not_equals`` / ``not_in`` are
  their exact negations, so they hold for an absent path;
- ``contains`` and the orderings ``gt``, ``gte``, ``lt``, ``lte`` hold only for a
  present, non-null value of a comparable type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ABSENT = object()


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """Wrap ordering comparisons: a missing value or mismatched types is just False."""

    def compare(actual: Any, expected: Any) -> bool:
        if actual is _ABSENT or actual is None:
            return False
        try:
            return check(actual, expected)
        except TypeError:
            return False

    return compare


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, (list, dict)):
        try:
            return expected in actual
        except TypeError:  # an unhashable value asked of an object's keys
            return False
    return False


def _in(actual: Any, expected: Any) -> bool:
    return isinstance(expected, list) and actual is not _ABSENT and actual in expected


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda actual, expected: actual is not _ABSENT and actual == expected,
    "not_equals": lambda actual, expected: actual is _ABSENT or actual != expected,
    "in": _in,
    "not_in": lambda actual, expected: not _in(actual, expected),
    "exists": lambda actual, expected: actual is not _ABSENT,
    "not_exists": lambda actual, expected: actual is _ABSENT,
    "is_null": lambda actual, expected: actual is None,
    "is_not_null": lambda actual, expected: actual is not _ABSENT and actual is not None,
    "contains": _contains,
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
}
UNARY = {"exists", "not_exists", "is_null", "is_not_null"}

# Shown in admin and in the API schema (the Workflow.filters field's help text).
HELP_TEXT = (
    "All must hold: "
    '[{"path": "data.object.status", "op": "equals", "value": "draft"}]. Operators: '
    "equals, not_equals, in, not_in, exists, not_exists, is_null, is_not_null, contains, "
    "gt, gte, lt, lte. A path whose value is null is present: exists holds for it (in "
    "data.previous_attributes a null means 'it was null'), is_null tells null from a "
    "value. equals and in need a present path (equals null holds for a present null); "
    "not_equals and not_in are their negations and hold for a missing path; contains, gt, "
    "gte, lt and lte hold only for a present, non-null value."
)

# Step.condition's help: the same rules, over the run's data rather than the event alone.
CONDITION_HELP_TEXT = (
    "Run this step only if these rules hold (all of them, or any one: see 'match'); when "
    "they do not, the step is skipped and the run goes on. The rules are the filters' "
    '[{"path": "steps.find_customer.email", "op": "exists"}], with paths starting at '
    "trigger. (the event) or steps.<an earlier step>. (its output). A skipped step's "
    "output is absent: not_exists holds for it. Empty: always run."
)

FOR_EACH_HELP_TEXT = (
    "Repeat this step for each item of a list: a path like trigger.data.object.lines.data "
    "or steps.search.data. The input references the item as {{ item }} (e.g. "
    "{{ item.price.id }}) and its position from 0 as {{ item_index }}. One call per item, "
    "each with its own idempotency key; the output is the list of the items' outputs. "
    "Empty: run once."
)


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path, or ``_ABSENT``."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return _ABSENT
            current = current[index]
        else:
            return _ABSENT
    return current


# What a JSON value is, in the words of a message about it.
JSON_KINDS = {
    bool: "true or false",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
}


def check_filters(filters: Any) -> list[str]:
    """Problems with a filter list as configured (empty when it is fine), each naming its
    filter by position from 1, e.g. ``Filter 2: 'path' must be text, like
    data.object.status, not a number.``
    """
    if not isinstance(filters, list):
        return ["Filters must be a list of {path, op, value} objects."]
    problems = []
    for position, item in enumerate(filters, start=1):
        if not isinstance(item, dict):
            problems.append(f"Filter {position}: must be an object with 'path', 'op', 'value'.")
        elif item.get("path") is not None and not isinstance(item["path"], str):
            problems.append(
                f"Filter {position}: 'path' must be text, like data.object.status, not "
                f"{JSON_KINDS.get(type(item['path']), 'that')}."
            )
        elif not item.get("path"):
            problems.append(f"Filter {position}: needs a 'path'.")
        elif item.get("op") not in OPERATORS:
            problems.append(f"Filter {position}: 'op' must be one of {', '.join(OPERATORS)}.")
        elif item["op"] in ("in", "not_in") and not isinstance(item.get("value"), list):
            problems.append(f"Filter {position}: '{item['op']}' needs a list value.")
        elif item["op"] not in UNARY and "value" not in item:
            problems.append(f"Filter {position}: needs a 'value'.")
    return problems


def matches(filters: list[dict], event: dict) -> tuple[bool, str]:
    """(True, "") when every filter holds; else (False, which filter did not)."""
    for item in filters or []:
        actual = lookup(event, item["path"])
        if not OPERATORS[item["op"]](actual, item.get("value")):
            shown = "missing" if actual is _ABSENT else repr(actual)
            return False, f"Filter {item['path']} {item['op']} {item.get('value')!r}: was {shown}."
    return True, ""
