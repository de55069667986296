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
        ("data.object.due", "exists", None, True),
        ("data.object.due", "is_not_null", None, False),
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


# Each operator on the three shapes a path can have: present with a value,
# present with null, absent. (In data.previous_attributes, a null means "it was null".)
PREVIOUS = {
    "type": "customer.subscription.updated",
    "data": {
        "object": {"cancel_at": 1767225600},
        "previous_attributes": {"cancel_at": None, "status": "trialing", "items": ["si_1"]},
    },
}
NULL = "data.previous_attributes.cancel_at"
ABSENT = "data.previous_attributes.ended_at"
VALUE = "data.previous_attributes.status"


@pytest.mark.parametrize(
    ("op", "value", "on_value", "on_null", "on_absent"),
    [
        ("exists", None, True, True, False),
        ("not_exists", None, False, False, True),
        ("is_null", None, False, True, False),
        ("is_not_null", None, True, False, False),
        ("equals", "trialing", True, False, False),
        ("equals", None, False, True, False),
        ("not_equals", "trialing", False, True, True),
        ("not_equals", None, True, False, True),
        ("in", ["trialing", None], True, True, False),
        ("in", ["active"], False, False, False),
        ("not_in", ["trialing", None], False, False, True),
        ("not_in", ["active"], True, True, True),
        ("contains", "trial", True, False, False),
        ("gt", "a", True, False, False),
        ("gte", "trialing", True, False, False),
        ("lt", "z", True, False, False),
        ("lte", "trialing", True, False, False),
    ],
)
def test_each_operator_on_a_value_a_present_null_and_an_absent_path(
    op, value, on_value, on_null, on_absent
):
    def holds(path):
        return matches([{"path": path, "op": op, "value": value}], PREVIOUS)[0]

    assert (holds(VALUE), holds(NULL), holds(ABSENT)) == (on_value, on_null, on_absent)


def test_exists_starts_a_run_when_a_previous_attribute_was_null():
    ok, reason = matches([{"path": NULL, "op": "exists"}], PREVIOUS)
    assert (ok, reason) == (True, "")


def test_contains_with_an_unhashable_value_on_an_object_is_false_not_an_error():
    rule = {"path": "data.previous_attributes", "op": "contains", "value": ["cancel_at"]}
    assert matches([rule], PREVIOUS)[0] is False


def test_the_filter_help_shown_in_admin_and_the_api_documents_null():
    from workflows.models import Workflow

    help_text = Workflow._meta.get_field("filters").help_text
    assert "is_null" in help_text
    assert "null is present: exists holds" in help_text
