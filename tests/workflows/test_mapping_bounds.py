"""The mapping sandbox is bounded: size-multiplying templates are refused at save and at run."""

import time
import tracemalloc

import pytest
from django.urls import reverse

from workflows import sandbox, tryout
from workflows.mapping import (
    MappingError,
    build_context,
    check_mapping,
    render_input,
    render_mapping,
)
from workflows.models import Run, RunStatus, StepRun

from .conftest import make_workflow, sample_event

CONTEXT = build_context({"data": {"object": {"id": "cus_1", "name": "Ada", "lines": [1, 2]}}})
SCHEMA = {"type": "object", "properties": {"description": {"type": "string"}}}

# Five expressions that would take a worker's memory or time, then their relatives.
LISTED = [
    "{% set s = 'ab' %}{% for i in range(60) %}{% set s = s ~ s %}{% endfor %}{{ s }}",
    "{{ (['x' * 99999] * 99999) | join }}",
    "{{ '%1000000000s' % 'x' }}",
    "{{ 'x' | center(10**9) }}",
    "{{ ((10**1000)**1000)**100 }}",
]
RELATIVES = [
    "{% for a in range(1000) %}{% for b in range(1000) %}xx{% endfor %}{% endfor %}",
    "{% macro m() %}x{% endmacro %}{{ m() }}",
    "{% filter upper %}x{% endfilter %}",
    "{% with a = 1 %}{{ a }}{% endwith %}",
    "{% include 'x' %}",
    "{{ 'x'.center(10**9) }}",
    "{{ 'x'.rjust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ 'ab'.replace('a', 'a' * 1000).replace('a', 'a' * 1000).replace('a', 'a' * 1000) }}",
    "{{ 'ab' | replace('a', 'a' * 1000) | replace('a', 'a' * 1000) | replace('a', 'a' * 1000) }}",
    "{{ 'x' | indent(10**9) }}",
    "{{ ('x' * 99999) | wordwrap(1, wrapstring='y' * 99) }}",
    "{{ [1] | batch(10**9, 'x') | list }}",
    "{{ [1] | slice(10**9) | list }}",
    "{{ '%s' | format('x' * 10**7) }}",
    "{{ '{:>1000000000}'.format('x') }}",
    "{{ '%.1000000000f' % 1.5 }}",
    "{{ '%*d' % (10**9, 1) }}",
    "{{ ('x' * 900000) ~ ('x' * 900000) }}",
    "{{ ('x' * 900000) + ('x' * 900000) }}",
    "{{ {'a': [1, 2]} | tojson(indent=1000000) }}",
    "{{ range(100000) | batch(1) | sum(start=[]) }}",
    "{{ 2 ** 100000 }}",
    "{{ (2 ** 3000) * (2 ** 3000) }}",
    "{{ 'x\tx'.expandtabs(10**9) }}",
    "{{ 'x' * 999999 }}" * 9,
]


@pytest.mark.parametrize("text", LISTED + RELATIVES)
def test_it_refuses_each_case_at_run_time_quickly_naming_the_field(text):
    with pytest.raises(MappingError) as refused:
        render_mapping({"metadata": {"note": text}}, CONTEXT)
    assert refused.value.field == "metadata.note"
    assert refused.value.message.startswith("metadata.note: ")


@pytest.mark.parametrize("text", LISTED + RELATIVES)
def test_it_refuses_each_case_at_save(text):
    report = check_mapping({"description": text}, SCHEMA, sample_trigger=CONTEXT["trigger"])
    assert {error["field"] for error in report.errors} == {"description"}
    messages = " ".join(error["message"] for error in report.errors)
    assert "Too large for a mapping" in messages or "not allowed in a" in messages


def test_normal_mappings_still_render():
    mapping = {
        "description": "Order for {{ trigger.data.object.name | upper }}",
        "name": "{% if trigger.data.object.name %}{{ trigger.data.object.name }}{% endif %}",
        "lines": "{{ trigger.data.object.lines | map('string') | join(',') }}",
        "padded": "{{ '%05d' % 42 }} {{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 'x' | center(5) }}",
    }
    assert render_mapping(mapping, CONTEXT) == {
        "description": "Order for ADA",
        "name": "Ada",
        "lines": "1,2",
        "padded": "00042 ababab 1024   x  ",
    }


def test_a_loop_is_refused_at_save_with_what_to_use_instead():
    text = "{% for x in trigger.data.object.lines %}{{ x }}{% endfor %}"
    report = check_mapping({"description": text}, SCHEMA)
    assert "'for' is not allowed in a field mapping" in report.errors[0]["message"]


def test_a_render_past_its_deadline_stops(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", -1.0)
    with pytest.raises(MappingError, match="longer than"):
        render_mapping({"description": "{{ trigger.data.object.name | upper }}"}, CONTEXT)


def test_lists_cannot_be_mutated_in_place():
    with pytest.raises(MappingError, match="unsafe"):
        render_mapping({"description": "{{ trigger.data.object.lines.append(3) }}"}, CONTEXT)
    assert CONTEXT["trigger"]["data"]["object"]["lines"] == [1, 2]


@pytest.mark.django_db
@pytest.mark.parametrize("text", LISTED)
def test_a_step_with_a_runaway_mapping_fails_clearly_and_sends_nothing(
    connection, deliver, stripe, text
):
    make_workflow(connection, "customer.created", [("tag", "update_customer", {"id": "cus_1"})])
    Run.objects.all().delete()
    from workflows.models import Step

    Step.objects.update(input_mapping={"id": "cus_1", "description": text})

    deliver(connection, sample_event("customer.created"))

    step_run = StepRun.objects.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["type"] == "mapping_error"
    assert step_run.error["param"] == "description"
    assert step_run.input is None
    assert "tag: description: " in Run.objects.get().error
    assert len(stripe.calls) == 0


@pytest.mark.django_db
def test_an_input_larger_than_the_limit_is_neither_stored_nor_sent(
    connection, deliver, stripe, monkeypatch
):
    monkeypatch.setattr(sandbox, "MAX_INPUT_BYTES", 1000)
    mapping = {"id": "cus_1", "description": "{{ 'x' * 600 }}", "name": "{{ 'y' * 600 }}"}
    make_workflow(connection, "customer.created", [("tag", "update_customer", mapping)])

    deliver(connection, sample_event("customer.created"))

    step_run = StepRun.objects.get()
    assert step_run.status == RunStatus.FAILED
    assert "at most 1,000" in step_run.error["message"]
    assert step_run.input is None
    assert len(stripe.calls) == 0


# -- what filters build, not only what operators predict ---------------------------

# A 280-byte list that map('default') fills with 40 references to one 1 MB string.
SHARED = "(([none] * 40) | map('default', 'x' * 999999, true) | list)"
BUILT = [
    "{{ " + SHARED + " | string | length }}",
    "{{ " + SHARED + " | tojson | length }}",
    "{{ " + SHARED + " }}",
    "Note: {{ " + SHARED + " }}",
    "{{ 'a' ~ " + SHARED + " }}",
    "{{ [1] | batch(40, 'x' * 999999) | list }}",
    "{{ [1, 2] | slice(40, 'x' * 999999) | list }}",
    "{{ ('x' * 999999) | list | string | length }}",
    "{{ ('ab ' * 300000).split() | length }}",
]


@pytest.mark.parametrize("text", BUILT)
def test_it_refuses_a_large_value_before_building_it(text):
    tracemalloc.start()
    try:
        with pytest.raises(MappingError) as refused:
            render_mapping({"description": text}, CONTEXT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.field == "description"
    assert "at most 1,000,000" in refused.value.message
    assert peak < 10_000_000  # the 1 MB string and its copies, never 40 of them


@pytest.mark.parametrize(
    "text",
    [
        "{{ trigger.data.object.name | pprint }}",
        "{{ trigger.data.object.name | urlencode }}",
        "{{ trigger.data.object.name | wordwrap(5) }}",
        "{{ trigger.data.object.name | indent(2) }}",
        "{{ trigger.data.object | attr('name') }}",
        "{{ trigger.data.object.lines | random }}",
        "{{ trigger.data.object.lines | map('pprint') | list }}",
        "{{ trigger.data.object.lines | select('callable') | list }}",
        "{% if trigger.data.object.name is callable %}x{% endif %}",
    ],
)
def test_it_refuses_a_filter_or_test_that_is_not_allowed_when_parsed(text):
    report = check_mapping({"description": text}, SCHEMA, sample_trigger=CONTEXT["trigger"])
    assert report.errors[0]["field"] == "description"
    assert "is not allowed in a field mapping (allowed: " in report.errors[0]["message"]
    with pytest.raises(MappingError, match="is not allowed in a field mapping"):
        render_mapping({"description": text}, CONTEXT)


def test_it_refuses_a_filter_named_by_the_data_at_run_time():
    context = build_context({"data": {"object": {"lines": [1], "filter": "pprint"}}})
    text = "{{ trigger.data.object.lines | map(trigger.data.object.filter) | list }}"
    with pytest.raises(MappingError, match="No filter named 'pprint'") as refused:
        render_mapping({"description": text}, context)
    assert refused.value.field == "description"


def test_the_allowed_filters_still_render_and_give_lists_not_generators():
    context = build_context({"data": {"object": {"name": " ada  ", "lines": [3, 1, 3]}}})
    mapping = {
        "ids": "{{ trigger.data.object.lines | map('string') }}",
        "odd": "{{ trigger.data.object.lines | select('odd') | unique | sort }}",
        "total": "{{ trigger.data.object.lines | sum }} {{ trigger.data.object.lines | max }}",
        "json": "{{ trigger.data.object.lines | reverse | tojson }}",
        "name": "{{ trigger.data.object.name | trim | title | truncate(9) }}",
        "grouped": "{{ [[1, 'a'], [1, 'b']] | groupby(0) | length }}",
        "missing": "{{ trigger.data.object.nothing | default('none given', true) }}",
    }
    assert render_mapping(mapping, context) == {
        "ids": ["3", "1", "3"],
        "odd": [1, 3],
        "total": "7 3",
        "json": "[3, 1, 3]",
        "name": "Ada",
        "grouped": 1,
        "missing": "none given",
    }


def test_it_refuses_an_input_too_large_before_it_is_written_as_json():
    mapping = {"description": "{{ 'x' * 600000 }}", "name": "{{ 'y' * 600000 }}"}
    with pytest.raises(MappingError, match="input: the rendered input is"):
        render_input(mapping, CONTEXT)


def test_an_earlier_steps_list_can_be_joined_at_save():
    # An earlier step's output stands in as AnyValue at save: iterating it ends.
    text = "{{ steps.find.lines | map(attribute='id') | join(',') }}"
    report = check_mapping({"description": text}, SCHEMA, earlier_steps=["find"])
    assert report.ok


# -- templates nested too deep to parse: a syntax error at save, never a 500 ---------

DEEP = [
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ " + "[" * 3000 + "]" * 3000 + " }}",
    "{{ 1" + " | string" * 100 + " }}",
    "{{ 1" + " + 1" * 3000 + " }}",
    "{% if " + "not " * 3000 + "1 %}x{% endif %}",
    "{{ trigger" + ".data" * 3000 + " }}",
    "{% if 1 %}" * 300 + "x" + "{% endif %}" * 300,
    "{{ 1 }}" + "x" * 20000,
]


@pytest.mark.parametrize("text", DEEP)
def test_it_refuses_a_template_nested_too_deep_at_save_naming_the_field(text):
    report = check_mapping({"description": text}, SCHEMA, sample_trigger=CONTEXT["trigger"])
    assert [error["field"] for error in report.errors] == ["description"]
    assert report.errors[0]["message"].startswith("Syntax error: ")


@pytest.mark.parametrize("text", DEEP)
def test_it_refuses_a_template_nested_too_deep_at_run_time_naming_the_field(text):
    with pytest.raises(MappingError, match="description: syntax error: ") as refused:
        render_mapping({"description": text}, CONTEXT)
    assert refused.value.field == "description"


def test_a_template_nested_within_the_limits_renders():
    text = "{{ " + "(" * 16 + "1" + " + 1" * 60 + ")" * 16 + " }}"
    assert render_mapping({"description": text}, CONTEXT) == {"description": 61}


# -- integers stay within 4,000 bits --------------------------------------------------

# 4,300 digits: the most Python's json reads, so the most a trigger or an output can hold.
BIG_DATA = build_context({"data": {"object": {"big": int("9" * 4300)}}})
BIG_INTEGERS = [
    "{{ ('f' * 830000) | int(base=16) }}",
    "{{ (('f' * 830000) | int(base=16)) // (('7' * 415000) | int(base=16)) > 0 }}",
    "{{ ('f' * 4000) | int(base=16) }}",
    "{{ ('9' * 4300) | int }}",
    "{{ ('0x' ~ 'f' * 1001) | int(base=0) }}",
    "{{ ('9' * 4300).encode() | int }}",
    "{{ (1).from_bytes(('x' * 1000).encode(), 'big') }}",
    "{{ 2 ** 4000 }}",
    "{{ 2 ** 3999 + 2 ** 3999 }}",
    "{{ 2 ** 3999 - -(2 ** 3999) }}",
    "{{ 1.5 | round(20000000, 'ceil') }}",
    "{{ trigger.data.object.big }}",
    "{{ trigger.data.object.big // 3 > 0 }}",
    "{{ trigger.data.object.big % 7 }}",
    "{{ trigger.data.object.big is divisibleby 3 }}",
    "{{ trigger.data.object.big | abs > 0 }}",
    "{{ [trigger.data.object.big] | sum > 0 }}",
    "{{ [trigger.data.object.big, 1] | max > 0 }}",
]


@pytest.mark.parametrize("text", BIG_INTEGERS)
def test_it_refuses_an_integer_past_4000_bits_before_computing_with_it(text):
    started = time.monotonic()
    with pytest.raises(MappingError) as refused:
        render_input({"description": text}, BIG_DATA)
    assert time.monotonic() - started < 1
    assert refused.value.field == "description"
    assert "integers have at most 4,000" in refused.value.message


def test_integers_within_4000_bits_still_render():
    mapping = {
        "power": "{{ 2 ** 3999 == (('8' ~ '0' * 999) | int(base=16)) }}",
        "widest": "{{ (('f' * 1000) | int(base=16)).bit_length() }}",
        "zeros": "{{ ('0' * 100000 ~ '42') | int }}",
        "arithmetic": "{{ 'ff' | int(base=16) }} {{ 10 // 3 }} {{ 10 % 3 }} "
        "{{ 7 - 9 }} {{ 7 / 2 }}",
        "rounded": "{{ 1.25 | round(1, 'floor') }} {{ -5 | abs }} {{ 10 is divisibleby 5 }}",
    }
    assert render_input(mapping, CONTEXT).values == {
        "power": True,
        "widest": 4000,
        "zeros": 42,
        "arithmetic": "255 3 1 -2 3.5",
        "rounded": "1.2 5 True",
    }


def test_a_literal_integer_json_cannot_write_is_a_mapping_error_naming_the_field():
    with pytest.raises(MappingError) as refused:
        render_input({"metadata": {"count": 10**5000}}, CONTEXT)
    assert refused.value.field == "metadata.count"
    assert "integers have at most 4,000" in refused.value.message


def test_a_rendered_nul_is_refused_naming_the_field():
    with pytest.raises(MappingError) as refused:
        render_input({"metadata": {"note": "{{ 'a\\x00b' }}"}}, CONTEXT)
    assert refused.value.field == "metadata.note"
    assert "U+0000" in refused.value.message


@pytest.mark.django_db
def test_a_step_rendering_a_huge_integer_fails_as_a_mapping_error(connection, deliver, stripe):
    mapping = {"id": "cus_1", "description": "{{ ('f' * 4000) | int(base=16) }}"}
    make_workflow(connection, "customer.created", [("tag", "update_customer", mapping)])

    deliver(connection, sample_event("customer.created"))

    step_run = StepRun.objects.get()
    assert step_run.error["type"] == "mapping_error"
    assert step_run.error["param"] == "description"
    assert len(stripe.calls) == 0


@pytest.mark.django_db
def test_test_a_step_shows_a_huge_integer_as_a_mapping_error(connection, stripe, staff_client):
    mapping = {"id": "cus_1", "description": "{{ ('f' * 4000) | int(base=16) }}"}
    workflow = make_workflow(connection, "customer.created", [("tag", "update_customer", mapping)])
    url = reverse("admin:workflows_test_step", args=[workflow.pk])

    page = staff_client.post(url, {"step": workflow.steps.get().pk})

    assert page.status_code == 200
    assert page.context["result"]["error"]["type"] == "mapping_error"
    assert page.context["result"]["error"]["param"] == "description"
    assert len(stripe.calls) == 0


@pytest.mark.django_db
def test_test_a_step_never_answers_500_on_a_value_error(connection, staff_client, monkeypatch):
    def overflow(*args, **kwargs):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(tryout, "render_input", overflow)
    workflow = make_workflow(connection, "customer.created", [("tag", "update_customer", {})])
    url = reverse("admin:workflows_test_step", args=[workflow.pk])

    page = staff_client.post(url, {"step": workflow.steps.get().pk})

    assert page.status_code == 200
    assert page.context["result"]["error"]["type"] == "internal_error"


# -- a save renders within one budget ---------------------------------------------------


def test_a_save_renders_every_template_within_one_budget(monkeypatch):
    budgets = []

    class CountedBudget(sandbox._Budget):
        def __init__(self) -> None:
            super().__init__()
            budgets.append(self)

    monkeypatch.setattr(sandbox, "_Budget", CountedBudget)
    schema = {"type": "object", "properties": {"description": {}, "name": {}, "email": {}}}
    mapping = {key: "{{ trigger.data.object.name | upper }}" for key in schema["properties"]}

    report = check_mapping(mapping, schema, sample_trigger=CONTEXT["trigger"])

    assert report.ok
    assert len(budgets) == 1


def test_a_save_past_its_deadline_stops_every_template(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", -1.0)
    schema = {"type": "object", "properties": {"description": {}, "name": {}}}
    mapping = {key: "{{ trigger.data.object.name | upper }}" for key in schema["properties"]}

    report = check_mapping(mapping, schema, sample_trigger=CONTEXT["trigger"])

    assert {error["field"] for error in report.errors} == {"description", "name"}
    assert all("longer than" in error["message"] for error in report.errors)


def test_a_save_does_not_render_fields_the_action_does_not_take():
    mapping = {"nope": "{{ 'x' | center(10**9) }}"}
    report = check_mapping(mapping, SCHEMA, sample_trigger=CONTEXT["trigger"])
    assert report.errors == [{"field": "nope", "message": "Unknown field 'nope' for this action."}]
