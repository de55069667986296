"""Filter conditions on the event decide whether a run starts."""

import pytest

from workflows.filters import check_filters, matches

EVENT = {
    "type": "invoice.created",
    "data": {
        "object": {
            "status": "draft",
            "total": 500,
            "lines": {"data": [{"id": "il_1"}]},
            "tags": ["vip"],
            "description": "Annual plan",
            "due": None,
        }
    },
}


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("data.object.status", "equals", "draft", True),
        ("data.object.status", "equals", "open", False),
        ("data.object.status", "not_equals", "open", True),
        ("data.object.status", "in", ["draft", "open"], True),
        ("data.object.status", "not_in", ["draft"], False),
        ("data.object.status", "exists", None, True),
        ("data.object.due", "exists", None, False),
        ("data.object.nothing", "not_exists", None, True),
        ("data.object.description", "contains", "Annual", True),
        ("data.object.tags", "contains", "vip", True),
        ("data.object.total", "gt", 499, True),
        ("data.object.total", "gte", 500, True),
        ("data.object.total", "lt", 500, False),
        ("data.object.total", "lte", 500, True),
        ("data.object.lines.data.0.id", "equals", "il_1", True),
        ("data.object.nothing", "gt", 1, False),
        ("data.object.status", "gt", 1, False),
    ],
)
def test_each_operator(path, op, value, expected):
    assert matches([{"path": path, "op": op, "value": value}], EVENT)[0] is expected


def test_all_filters_must_hold_and_the_failing_one_is_named():
    ok, reason = matches(
        [
            {"path": "data.object.status", "op": "equals", "value": "draft"},
            {"path": "data.object.total", "op": "gt", "value": 1000},
        ],
        EVENT,
    )
    assert not ok
    assert "data.object.total gt 1000" in reason


def test_no_filters_always_match():
    assert matches([], EVENT) == (True, "")


def test_bad_filter_configurations_are_reported():
    problems = check_filters(
        [
            {"path": "", "op": "equals"},
            {"path": "a", "op": "like", "value": 1},
            {"path": "a", "op": "in", "value": 1},
        ]
    )
    assert len(problems) == 3
