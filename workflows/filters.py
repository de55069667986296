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

Values compare as JSON, not as Python: true and false are not numbers (``equals 1``
does not hold for true, nor ``in [0]`` for false), 1 and 1.0 are the same number,
lists and objects are equal item by item. The orderings compare two numbers or two
texts, nothing else. ``contains`` asks whether a text holds a text, a list holds an
item (equal as JSON) or an object has a key.

A filter list or a step's condition has at most ``MAX_RULES`` rules, each with only
``path``, ``op`` and ``value``, and nothing a database cannot store (U+0000, a lone
surrogate, NaN or an infinity). A reason (why a run was filtered out, why a step was
skipped) shows each path and value as JSON in at most ``MAX_SHOWN`` characters and is
at most ``MAX_REASON`` characters in all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

_ABSENT = object()

# At most this many rules in a workflow's filters or a step's condition (refused at save).
MAX_RULES = 50
# A reason shows each path, value and actual value in at most MAX_SHOWN characters,
# and is at most MAX_REASON characters in all.
MAX_SHOWN = 200
MAX_REASON = 2000
# The keys of a rule.
RULE_KEYS = ("path", "op", "value")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _is_number(value: Any) -> bool:
    """A JSON number: int or float, never true or false (Python's bool is an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(left: Any, right: Any) -> bool:
    """Whether two JSON values are equal as JSON: true is not 1 and false is not 0 (as
    they are in Python), 1 equals 1.0, lists item by item, objects key by key."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) or _is_number(right):
        return _is_number(left) and _is_number(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """Wrap ordering comparisons: they hold only between two numbers or two texts."""

    def compare(actual: Any, expected: Any) -> bool:
        both_numbers = _is_number(actual) and _is_number(expected)
        if both_numbers or (isinstance(actual, str) and isinstance(expected, str)):
            return check(actual, expected)
        return False

    return compare


def _contains(actual: Any, expected: Any) -> bool:
    """A text holds the text, a list holds an item equal as JSON, an object has the key."""
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list):
        return any(json_equal(item, expected) for item in actual)
    if isinstance(actual, dict):
        return isinstance(expected, str) and expected in actual
    return False


def _in(actual: Any, expected: Any) -> bool:
    return (
        isinstance(expected, list)
        and actual is not _ABSENT
        and any(json_equal(actual, item) for item in expected)
    )


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda actual, expected: actual is not _ABSENT and json_equal(actual, expected),
    "not_equals": lambda actual, expected: actual is _ABSENT or not json_equal(actual, expected),
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
    "gte, lt and lte hold only for a present, non-null value. Values compare as JSON: "
    "true and false are not numbers (equals 1 does not hold for true); gt, gte, lt and "
    "lte compare two numbers or two texts. At most 50 filters, each with only path, op "
    "and value."
)

# Step.condition's help: the same rules, over the run's data rather than the event alone.
CONDITION_HELP_TEXT = (
    "Run this step only if these rules hold (all of them, or any one: see 'match'); when "
    "they do not, the step is skipped and the run goes on. The rules are the filters' "
    '[{"path": "steps.find_customer.email", "op": "exists"}], with paths starting at '
    "trigger. (the event) or steps.<an earlier step>. (its output). A skipped step's "
    "output is absent: not_exists holds for it. Values compare as JSON (true is not 1). "
    "At most 50 rules, each with only path, op and value. Empty: always run."
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
    plural = "Filters" if label == "Filter" else f"{label}s"
    if not isinstance(filters, list):
        return [f"{plural} must be a list of {{path, op, value}} objects."]
    if len(filters) > MAX_RULES:
        return [f"At most {MAX_RULES} {plural.lower()}; there are {len(filters)}."]
    problems = []
    for position, item in enumerate(filters, start=1):
        problem = rule_problem(item, label, example)
        if problem:
            problems.append(f"{label} {position}: {problem}")
    return problems


def rule_problem(item: Any, label: str = "Filter", example: str = "data.object.status") -> str:
    """What is wrong with one rule ("" when nothing): its shape, its keys (only
    ``RULE_KEYS``), its operator and value, and text a database cannot store."""
    if not isinstance(item, dict):
        return "must be an object with 'path', 'op', 'value'."
    unknown = [key for key in item if key not in RULE_KEYS]
    if unknown:
        return unknown_key_problem(unknown[0], label)
    if item.get("path") is not None and not isinstance(item["path"], str):
        kind = JSON_KINDS.get(type(item["path"]), "that")
        return f"'path' must be text, like {example}, not {kind}."
    if not item.get("path"):
        return "needs a 'path'."
    problem = unstorable(item["path"], "'path'") or unstorable(item.get("value"), "'value'")
    if problem:
        return problem
    if item.get("op") not in OPERATORS:
        return f"'op' must be one of {', '.join(OPERATORS)}."
    if item["op"] in ("in", "not_in") and not isinstance(item.get("value"), list):
        return f"'{item['op']}' needs a list value."
    if item["op"] not in UNARY and "value" not in item:
        return "needs a 'value'."
    return ""


def unknown_key_problem(key: Any, label: str) -> str:
    """The problem of a rule's key other than path, op and value (the key as JSON, cut)."""
    problem = f"unknown key {shorten(json.dumps(key), 60)}; a rule has only path, op and value."
    if key == "match" and label == "Rule":
        problem += " All or any is the condition's own 'match', for all its rules."
    return problem


def unstorable(value: Any, where: str) -> str:
    """Where in ``value`` there is what a database cannot store ("" when nowhere), e.g.
    ``'value' holds U+0000 (a NUL character) at value.a[0], which cannot be stored.``

    Looks at every text and key at any depth: U+0000 (PostgreSQL refuses it in text
    and JSON), a lone surrogate (U+D800..U+DFFF, not UTF-8), and NaN or an infinity
    (not JSON). ``where`` names the value ("'path'", "'value'").
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        current, at = stack.pop()
        found = _bad_text(current) if isinstance(current, str) else None
        if isinstance(current, float) and not math.isfinite(current):
            found = f"{'NaN' if math.isnan(current) else 'an infinity'} (not a JSON number)"
        if isinstance(current, dict):
            for key in current:
                if isinstance(key, str) and _bad_text(key):
                    found = f"{_bad_text(key)} in a key"
                    break
            stack.extend((item, f"{at}.{shorten(str(key), 40)}") for key, item in current.items())
        elif isinstance(current, list):
            stack.extend((item, f"{at}[{index}]") for index, item in enumerate(current))
        if found:
            inside = f" at {where.strip(chr(39))}{at}" if at else ""
            return f"{where} holds {found}{inside}, which cannot be stored."
    return ""


def _bad_text(text: str) -> str | None:
    """U+0000 or a lone surrogate in ``text``, described; None when there is neither."""
    if "\x00" in text:
        return "U+0000 (a NUL character)"
    surrogate = _SURROGATE.search(text)
    if surrogate:
        return f"U+{ord(surrogate.group()):04X} (a lone surrogate)"
    return None


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
    ...; ...``), as many as fit in ``MAX_REASON`` characters, then how many more.
    Values are shown as JSON (``"draft"``, ``false``, ``null``), each cut to
    ``MAX_SHOWN`` characters. No rules: (True, ""). ``label`` starts each rule's text
    (a condition's is "Run only if:"); ``unary_value`` False leaves the (unused) value
    out of exists, is_null... rules.
    """
    failed: list[tuple[dict, Any]] = []
    for item in filters or []:
        actual = lookup(data, item["path"])
        if OPERATORS[item["op"]](actual, item.get("value")):
            if match == "any":
                return True, ""
            continue
        failed.append((item, actual))
        if match != "any":
            return False, f"{label} {failed_text(item, actual, unary_value)}."
    if failed and match == "any":
        start = "No filter held:" if label == "Filter" else f"{label} none of the rules held:"
        texts = (failed_text(item, actual, unary_value) for item, actual in failed)
        return False, bounded_reason(start, texts, len(failed))
    return True, ""


def failed_text(item: dict, actual: Any, unary_value: bool = True) -> str:
    """A rule that did not hold and what its path had: ``data.object.total gt 1000: was
    500`` (``was missing`` for an absent path)."""
    was = "missing" if actual is _ABSENT else shown(actual)
    return f"{rule_text(item, unary_value)}: was {was}"


def bounded_reason(start: str, texts: Iterator[str], count: int) -> str:
    """``start`` and the ``count`` texts joined with "; ", as many as fit in
    ``MAX_REASON`` characters, then ``(and N more)``; ends with a full stop."""
    reason = start
    room = MAX_REASON - len(f" (and {count} more).")
    for done, text in enumerate(texts):
        joined = f"{reason}{';' if done else ''} {text}"
        if len(joined) > room:
            return f"{reason} (and {count - done} more)."
        reason = joined
    return f"{reason}."


def rule_text(item: dict, unary_value: bool = True) -> str:
    """A rule as people read it: ``trigger.data.object.amount_due gt 0`` (path, op, value
    as JSON: ``equals "draft"``, ``equals false``), path and value each cut to ``MAX_SHOWN``.

    With ``unary_value`` False, exists, not_exists, is_null and is_not_null show no
    value (``steps.find exists``); the trigger filters' messages keep it (``exists null``).
    """
    path = shorten(str(item["path"]))
    if item["op"] in UNARY and not unary_value:
        return f"{path} {item['op']}"
    return f"{path} {item['op']} {shown(item.get('value'))}"


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` itself, or its first ``limit`` - 1 characters and "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """``value`` written as JSON (``"x"``, ``false``, ``null``, ``[1, 2]``) in at most
    ``limit`` characters (cut with "…"); writing stops there, so a large object costs
    no more than a small one."""
    encoder = json.JSONEncoder(ensure_ascii=False, default=lambda other: str(other))
    parts: list[str] = []
    size = 0
    try:
        for part in encoder.iterencode(value):
            parts.append(part)
            size += len(part)
            if size > limit:
                break
    except (ValueError, RecursionError):  # a cycle or a value nested past Python's limit
        parts.append("…")
    return shorten("".join(parts), limit)


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
    problem = unstorable(path, "The path")
    if problem:
        return [problem]
    if "{" in path or "}" in path or path != path.strip():
        return [
            f"{path!r}: a plain dotted path, without {{{{ }}}} or spaces "
            "(like trigger.data.object.lines.data)."
        ]
    problem = path_root_problem(path, earlier_steps)
    return [problem] if problem else []
