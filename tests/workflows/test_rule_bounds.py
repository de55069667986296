"""Rules (workflow filters and step conditions) as saved and as read at run time:
at most MAX_RULES of them, only path/op/value, nothing a database cannot store; values
compared as JSON (true is not 1); reasons written as JSON and bounded in size."""

import json

import pytest
from django.urls import reverse

from workflows import tryout
from workflows.filters import (
    MAX_REASON,
    MAX_RULES,
    MAX_SHOWN,
    check_condition,
    check_filters,
    check_for_each,
    condition_holds,
    matches,
)
from workflows.models import Run, RunStatus, Step, Workflow

from .conftest import make_workflow, sample_event
from .test_mapping_errors import workflow_form
from .test_step_editor_conditions import refused, step_errors, with_extras

EXISTS = {"path": "data.object.id", "op": "exists"}
RULE = {"path": "trigger.data.object.id", "op": "exists"}


# -- how many rules ---------------------------------------------------------------------


def test_at_most_max_rules_filters_and_rules():
    assert check_filters([EXISTS] * MAX_RULES) == []
    assert check_filters([EXISTS] * (MAX_RULES + 1)) == [
        f"At most {MAX_RULES} filters; there are {MAX_RULES + 1}."
    ]
    assert check_condition([RULE] * 3000) == [f"At most {MAX_RULES} rules; there are 3000."]


# -- keys -------------------------------------------------------------------------------


def test_a_rule_with_an_unknown_key_is_refused_naming_the_rule_and_the_key():
    assert check_filters([EXISTS, {**EXISTS, "junk": {"x": 1}}]) == [
        'Filter 2: unknown key "junk"; a rule has only path, op and value.'
    ]


def test_match_typed_inside_a_conditions_rule_says_where_match_belongs():
    problems = check_condition([{**RULE, "match": "any"}])

    assert problems == [
        'Rule 1: unknown key "match"; a rule has only path, op and value. '
        "All or any is the condition's own 'match', for all its rules."
    ]


# -- what a database cannot store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"path": "data.a\x00b", "op": "exists"}, "'path' holds U+0000 (a NUL character)"),
        (
            {"path": "data.id", "op": "equals", "value": "a\x00b"},
            "'value' holds U+0000 (a NUL character)",
        ),
        (
            {"path": "data.id", "op": "in", "value": ["ok", {"deep": ["x", "y\x00"]}]},
            "'value' holds U+0000 (a NUL character) at value[1].deep[1]",
        ),
        (
            {"path": "data.id", "op": "equals", "value": {"k\x00": 1}},
            "'value' holds U+0000 (a NUL character) in a key",
        ),
        (
            {"path": "data.id", "op": "equals", "value": "\ud800"},
            "'value' holds U+D800 (a lone surrogate)",
        ),
        (
            {"path": "data.id", "op": "equals", "value": float("nan")},
            "'value' holds NaN (not a JSON number)",
        ),
        (
            {"path": "data.id", "op": "exists", "value": [float("inf")]},
            "'value' holds an infinity (not a JSON number) at value[0]",
        ),
    ],
)
def test_text_a_database_cannot_store_is_refused_at_any_depth(rule, message):
    (problem,) = check_filters([EXISTS, rule])
    assert problem.startswith(f"Filter 2: {message}")
    assert problem.endswith(", which cannot be stored.")
    assert "\x00" not in problem


def test_a_nul_in_a_rules_key_is_refused_as_an_unknown_key_written_as_json():
    (problem,) = check_condition([{**RULE, "x\x00": 1}])
    assert problem == 'Rule 1: unknown key "x\\u0000"; a rule has only path, op and value.'


def test_a_nul_in_a_for_each_path_is_refused():
    assert check_for_each("trigger.data\x00.lines") == [
        "The path holds U+0000 (a NUL character), which cannot be stored."
    ]


# -- values compared as JSON ------------------------------------------------------------

DATA = {"paid": True, "attempted": False, "count": 1, "price": 1.0, "tags": [1, True], "n": None}


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("paid", "equals", 1, False),
        ("paid", "equals", True, True),
        ("attempted", "equals", 0, False),
        ("attempted", "not_equals", 0, True),
        ("paid", "in", [1], False),
        ("paid", "in", [True], True),
        ("attempted", "not_in", [0], True),
        ("count", "equals", True, False),
        ("count", "equals", 1.0, True),  # one JSON number
        ("count", "in", [True, "1"], False),
        ("tags", "equals", [1, 1], False),
        ("tags", "equals", [True, True], False),
        ("tags", "equals", [1, True], True),
        ("tags", "contains", True, True),
        ("count", "gt", False, False),
        ("paid", "gt", 0, False),
        ("paid", "gte", True, False),  # orderings: two numbers or two texts only
        ("price", "lte", 1, True),
        ("n", "equals", False, False),
        ("n", "equals", None, True),
    ],
)
def test_values_compare_as_json_so_a_boolean_never_equals_a_number(path, op, value, expected):
    assert matches([{"path": path, "op": op, "value": value}], DATA)[0] is expected


def test_objects_compare_key_by_key_as_json():
    data = {"meta": {"a": 1, "b": [False]}}
    assert matches([{"path": "meta", "op": "equals", "value": {"b": [False], "a": 1}}], data)[0]
    assert not matches([{"path": "meta", "op": "equals", "value": {"a": True, "b": [0]}}], data)[0]


# -- reasons ----------------------------------------------------------------------------


def test_reasons_show_values_as_json():
    holds, reason = condition_holds(
        [{"path": "trigger.paid", "op": "equals", "value": "yes"}], {"trigger": {"paid": False}}
    )
    assert (holds, reason) == (False, 'Run only if: trigger.paid equals "yes": was false.')
    _, reason = matches([{"path": "n", "op": "in", "value": ["x", None]}], {"n": "y"})
    assert reason == 'Filter n in ["x", null]: was "y".'
    _, reason = matches([{"path": "n", "op": "equals", "value": 1}], {"n": None})
    assert reason == "Filter n equals 1: was null."


def test_each_value_shown_in_a_reason_is_cut():
    big = {"object": "invoice", "lines": ["x" * 10_000] * 100}

    _, reason = matches([{"path": "e", "op": "equals", "value": "v" * 5000}], {"e": big})

    value_shown, was = reason.removeprefix("Filter e equals ").split(": was ")
    assert len(value_shown) == MAX_SHOWN and value_shown.endswith("…")
    assert was.startswith('{"object": "invoice", "lines": ["xxx')
    assert len(was) == MAX_SHOWN + 1  # and the full stop


def test_a_reason_with_many_rules_is_capped_and_says_how_many_more():
    rules = [{"path": "trigger.data", "op": "equals", "value": i} for i in range(MAX_RULES)]
    context = {"trigger": {"data": {"object": {"description": "d" * 100_000}}}}

    holds, reason = condition_holds(rules, context, "any")

    assert not holds
    assert len(reason) <= MAX_REASON
    assert reason.startswith("Run only if: none of the rules held: trigger.data equals 0: was {")
    shown = reason.count("trigger.data equals")
    assert 1 <= shown < MAX_RULES
    assert reason.endswith(f" (and {MAX_RULES - shown} more).")


# -- at run time ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_condition_with_too_many_rules_stored_past_the_checks_fails_the_step(
    connection, deliver, stripe
):
    workflow = make_workflow(
        connection, "invoice.created", [("a", "find_customer", {"id": "cus_X"})]
    )
    Step.objects.filter(workflow=workflow).update(
        condition=[{"path": "trigger.data", "op": "equals", "value": i} for i in range(3000)],
        condition_match="any",
    )

    deliver(connection, sample_event("invoice.created"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.skip_reason == ""
    assert step_run.error["message"] == f"condition: At most {MAX_RULES} rules; there are 3000."
    assert not stripe.calls


@pytest.mark.django_db
def test_a_skip_reason_over_a_big_event_is_bounded(connection, deliver, stripe):
    workflow = make_workflow(
        connection, "invoice.created", [("a", "find_customer", {"id": "cus_X"})]
    )
    Step.objects.filter(workflow=workflow).update(
        condition=[{"path": "trigger.data", "op": "equals", "value": i} for i in range(MAX_RULES)],
        condition_match="any",
    )

    deliver(connection, sample_event("invoice.created", description="d" * 200_000))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.SKIPPED
    assert len(step_run.skip_reason) <= MAX_REASON
    assert step_run.skip_reason.endswith("more).")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (
            {"path": "data.object.paid", "op": "in", "value": [0, None]},
            "Filter data.object.paid in [0, null]: was false.",
        ),
        (
            {"path": "data.object", "op": "equals", "value": "x" * 5000},
            f'Filter data.object equals "{"x" * (MAX_SHOWN - 2)}…: was {{"',
        ),
    ],
)
def test_a_filtered_out_runs_reason_is_json_and_bounded(connection, deliver, stripe, rule, reason):
    workflow = make_workflow(
        connection, "invoice.created", [("a", "find_customer", {"id": "cus_X"})]
    )
    Workflow.objects.filter(pk=workflow.pk).update(filters=[rule])

    deliver(connection, sample_event("invoice.created", paid=False, description="d" * 100_000))

    run = Run.objects.get()
    assert run.status == RunStatus.SKIPPED
    assert run.error.startswith(reason)
    assert len(run.error) <= MAX_REASON


@pytest.mark.django_db
def test_test_a_step_shows_a_bounded_reason(connection, stripe):
    workflow = make_workflow(
        connection, "invoice.created", [("a", "find_customer", {"id": "cus_X"})]
    )
    sample = sample_event("invoice.created", description="d" * 100_000)
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=sample)
    Step.objects.filter(workflow=workflow).update(
        condition=[{"path": "trigger.data", "op": "equals", "value": i} for i in range(MAX_RULES)],
        condition_match="any",
    )
    step = Step.objects.get(workflow=workflow)

    result = tryout.test_step(step)

    assert result["skipped"].startswith("Run only if: none of the rules held:")
    assert len(result["skipped"]) <= MAX_REASON
    assert not stripe.calls


def test_the_help_texts_give_the_maximum_and_the_json_comparison():
    help_texts = [
        Workflow._meta.get_field("filters").help_text,
        Step._meta.get_field("condition").help_text,
    ]
    for text in help_texts:
        assert f"At most {MAX_RULES}" in text
        assert "true is not 1" in text or "equals 1 does not hold for true" in text


def test_shown_values_are_json_not_python():
    reason = matches([{"path": "a", "op": "equals", "value": {"k": None}}], {"a": {"k": False}})[1]
    assert reason == 'Filter a equals {"k": null}: was {"k": false}.'
    assert json.loads(reason.split(": was ")[1].rstrip(".")) == {"k": False}


# -- the admin forms ------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_refuses_a_nul_in_a_steps_condition_and_in_the_filters(staff_client, connection):
    find = ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})
    condition = [{"path": "trigger.data.object.id", "op": "equals", "value": {"a": "x\x00"}}]
    response = refused(
        staff_client, with_extras(workflow_form(connection, [find]), condition=condition)
    )
    assert step_errors(response)["condition"] == [
        "Rule 1: 'value' holds U+0000 (a NUL character) at value.a, which cannot be stored."
    ]

    filters = [{"path": "data.object.id\x00", "op": "exists"}]
    response = staff_client.post(
        reverse("admin:workflows_workflow_add"),
        workflow_form(connection, [find], filters=json.dumps(filters)),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["filters"] == [
        "Filter 1: 'path' holds U+0000 (a NUL character), which cannot be stored."
    ]
    assert not Workflow.objects.exists()
