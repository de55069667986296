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


def check_filters(
    filters: Any, *, label: str = "Filter", example: str = "data.object.status"
) -> list[str]:
    """Problems with a filter list as configured (empty when it is fine), each naming its
    filter by position from 1, e.g. ``Filter 2: 'path' must be text, like
    data.object.status, not a number.``

    ``label`` and ``example`` name the items and a path in the messages (a step's
    condition: ``Rule 2: ...``, like trigger.data.object.status).
    """
    if not isinstance(filters, list):
        plural = "Filters" if label == "Filter" else f"{label}s"
        return [f"{plural} must be a list of {{path, op, value}} objects."]
    problems = []
    for position, item in enumerate(filters, start=1):
        if not isinstance(item, dict):
            problems.append(f"{label} {position}: must be an object with 'path', 'op', 'value'.")
        elif item.get("path") is not None and not isinstance(item["path"], str):
            problems.append(
                f"{label} {position}: 'path' must be text, like {example}, not "
                f"{JSON_KINDS.get(type(item['path']), 'that')}."
            )
        elif not item.get("path"):
            problems.append(f"{label} {position}: needs a 'path'.")
        elif item.get("op") not in OPERATORS:
            problems.append(f"{label} {position}: 'op' must be one of {', '.join(OPERATORS)}.")
        elif item["op"] in ("in", "not_in") and not isinstance(item.get("value"), list):
            problems.append(f"{label} {position}: '{item['op']}' needs a list value.")
        elif item["op"] not in UNARY and "value" not in item:
            problems.append(f"{label} {position}: needs a 'value'.")
    return problems


def matches(
    filters: list[dict],
    data: Any,
    *,
    match: str = "all",
    label: str = "Filter",
    unary_value: bool = True,
) -> tuple[bool, str]:
    """(True, "") when the rules hold; else (False, why not).

    ``match`` "all": every rule must hold, and the reason names the first that did
    not (``Filter data.object.total gt 1000: was 500.``); "any": one rule holding is
    enough, and the reason names every rule (``Run only if: none of the rules held:
    ...; ...``). No rules: (True, ""). ``label`` starts each rule's text (a condition's
    is "Run only if:"); ``unary_value`` False leaves the (unused) value out of exists,
    is_null... rules.
    """
    failed: list[str] = []
    for item in filters or []:
        actual = lookup(data, item["path"])
        if OPERATORS[item["op"]](actual, item.get("value")):
            if match == "any":
                return True, ""
            continue
        shown = "missing" if actual is _ABSENT else repr(actual)
        failed.append(f"{rule_text(item, unary_value)}: was {shown}")
        if match != "any":
            return False, f"{label} {failed[0]}."
    if failed and match == "any":
        start = "No filter held:" if label == "Filter" else f"{label} none of the rules held:"
        return False, f"{start} {'; '.join(failed)}."
    return True, ""


def rule_text(item: dict, unary_value: bool = True) -> str:
    """A rule as people read it: ``trigger.data.object.amount_due gt 0`` (path, op, value).

    With ``unary_value`` False, exists, not_exists, is_null and is_not_null show no
    value (``steps.find exists``); the trigger filters' messages keep it (``exists None``).
    """
    if item["op"] in UNARY and not unary_value:
        return f"{item['path']} {item['op']}"
    return f"{item['path']} {item['op']} {item.get('value')!r}"


# -- a step's condition and for-each list (paths over the run's data) ---------------------

CONDITION_LABEL = "Run only if:"


def condition_holds(condition: list[dict], context: dict, match: str = "all") -> tuple[bool, str]:
    """Whether a step's condition holds over ``context`` {"trigger": event, "steps": outputs}.

    Returns (True, "") or (False, skip reason), e.g. ``Run only if:
    trigger.data.object.amount_due gt 0: was 0.`` A skipped step is absent from
    ``context["steps"]``.
    """
    return matches(condition, context, match=match, label=CONDITION_LABEL, unary_value=False)


def path_root_problem(path: str, earlier_steps: list[str] | tuple[str, ...]) -> str | None:
    """Why ``path`` is not rooted at the run's data, or None.

    A path starts with ``trigger.`` (the event), ``steps.<an earlier step>.`` (its
    output), or is exactly ``steps.<an earlier step>``.
    """
    if "" in path.split("."):
        return f"{path}: a dotted path without empty parts (like trigger.data.object.id)."
    if path.startswith("trigger."):
        return None
    if path == "steps" or path.startswith("steps."):
        if path == "steps":
            return f"{path} needs a step name: steps.<an earlier step>.field."
        name = path.split(".")[1]
        if name not in earlier_steps:
            return (
                f"{path}: {name!r} is not an earlier step (only the steps before this one "
                "have an output)."
            )
        return None
    return f"{path} must start with trigger. (the event) or steps.<an earlier step>."


def check_condition(condition: Any, earlier_steps: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Problems with a step's condition as configured, each naming its rule from 1
    (``Rule 2: ...``): the filters' shape and paths rooted at the run's data
    (``path_root_problem``; ``earlier_steps``: the names of the steps before it)."""
    problems = check_filters(condition, label="Rule", example="trigger.data.object.status")
    if not problems:
        for position, item in enumerate(condition, start=1):
            problem = path_root_problem(item["path"], earlier_steps)
            if problem:
                problems.append(f"Rule {position}: {problem}")
    return problems


def check_match(match: Any) -> list[str]:
    """Problems with a condition's ``match``: it is "all" or "any"."""
    if match in ("all", "any"):
        return []
    return ["'match' must be all (every rule holds) or any (one rule holds)."]


def check_for_each(path: Any, earlier_steps: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Problems with a step's ``for_each`` path ("" is fine: run once).

    A dotted path, no braces (``trigger.data.object.lines.data``, ``steps.search.data``),
    rooted as ``path_root_problem`` says.
    """
    if path in ("", None):
        return []
    if not isinstance(path, str):
        return [
            f"A path like trigger.data.object.lines.data, not {JSON_KINDS.get(type(path), 'that')}."
        ]
    if "{" in path or "}" in path or path != path.strip():
        return [
            f"{path!r}: a plain dotted path, without {{{{ }}}} or spaces "
            "(like trigger.data.object.lines.data)."
        ]
    problem = path_root_problem(path, earlier_steps)
    return [problem] if problem else []
