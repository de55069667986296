"""Rendering a step's input mapping against the trigger and earlier steps."""

import pytest

from workflows.mapping import MappingError, build_context, render_input, render_mapping

EVENT = {
    "id": "evt_1",
    "data": {
        "object": {
            "id": "sub_1",
            "customer": "cus_1",
            "amount": 1200,
            "metadata": {"plan": "pro"},
            "items": {"data": [{"price": {"id": "price_1"}}]},
            "canceled_at": None,
        }
    },
}
CONTEXT = build_context(EVENT, {"find_customer": {"email": "a@example.com", "balance": -5}})


def test_a_single_reference_keeps_its_number_type():
    assert render_mapping({"amount": "{{ trigger.data.object.amount }}"}, CONTEXT) == {
        "amount": 1200
    }


def test_a_single_reference_keeps_objects_and_nulls():
    mapping = {
        "meta": "{{ trigger.data.object.metadata }}",
        "c": "{{trigger.data.object.canceled_at}}",
    }
    assert render_mapping(mapping, CONTEXT) == {"meta": {"plan": "pro"}, "c": None}


def test_text_around_references_renders_to_a_string():
    mapping = {
        "description": "Sub {{ trigger.data.object.id }} for {{ steps.find_customer.email }}"
    }
    assert render_mapping(mapping, CONTEXT) == {"description": "Sub sub_1 for a@example.com"}


def test_nested_objects_and_lists_are_rendered_recursively():
    mapping = {
        "metadata": {"source": "{{ trigger.id }}"},
        "list": ["x", "{{ steps.find_customer.balance }}"],
    }
    assert render_mapping(mapping, CONTEXT) == {
        "metadata": {"source": "evt_1"},
        "list": ["x", -5],
    }


def test_json_keys_win_over_python_dict_methods():
    # Stripe subscriptions have an "items" key; plain Jinja would give dict.items.
    mapping = {"price": "{{ trigger.data.object.items.data[0].price.id }}"}
    assert render_mapping(mapping, CONTEXT) == {"price": "price_1"}


def test_literals_pass_through_untouched():
    mapping = {"n": 3, "flag": True, "none": None, "s": "plain text"}
    assert render_mapping(mapping, CONTEXT) == mapping


def test_a_missing_path_is_an_error_naming_the_reference_and_the_field():
    with pytest.raises(MappingError) as caught:
        render_mapping({"customer": "{{ trigger.data.object.nope }}"}, CONTEXT)
    assert caught.value.field == "customer"
    assert caught.value.reference == "trigger.data.object.nope"
    assert "trigger.data.object.nope" in str(caught.value)


def test_a_missing_path_inside_text_names_the_missing_reference():
    text = "{{ trigger.id }} and {{ steps.find_customer.phone }}"
    with pytest.raises(MappingError) as caught:
        render_mapping({"metadata": {"note": text}}, CONTEXT)
    assert caught.value.field == "metadata.note"
    assert caught.value.reference == "steps.find_customer.phone"


def test_a_reference_to_a_step_that_has_not_run_is_an_error():
    with pytest.raises(MappingError) as caught:
        render_mapping({"email": "{{ steps.later.email }}"}, CONTEXT)
    assert caught.value.reference == "steps.later.email"


def test_a_syntax_error_is_a_mapping_error():
    with pytest.raises(MappingError, match="syntax error"):
        render_mapping({"x": "{{ trigger.data[ }}"}, CONTEXT)


def test_the_sandbox_refuses_python_internals():
    with pytest.raises(MappingError):
        render_mapping({"x": "{{ trigger.__class__.__mro__ }}"}, CONTEXT)


def test_the_sandbox_bounds_repetition_and_powers():
    with pytest.raises(MappingError):
        render_mapping({"x": "{{ 'x' * 1000000000 }}"}, CONTEXT)
    with pytest.raises(MappingError):
        render_mapping({"x": "{{ 10 ** 100000 }}"}, CONTEXT)
    assert render_mapping({"x": "{{ 'ab' * 2 }}", "y": "{{ 2 ** 3 }}"}, CONTEXT) == {
        "x": "abab",
        "y": 8,
    }


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"name": '{{ "a\\ud800" }}'}, "name"),  # a Jinja string literal makes one
        ({"metadata": {"note": 'x {{ "\\udfff" }}'}}, "metadata.note"),
        ({"amount": "{{ 1e308 * 10 }}"}, "amount"),  # infinity
    ],
)
def test_rendered_values_json_cannot_carry_are_mapping_errors_naming_the_field(mapping, field):
    with pytest.raises(MappingError) as caught:
        render_input(mapping, build_context({}, {}))
    assert caught.value.field == field
