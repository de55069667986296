"""The product's one bound on JSON: depth, finite numbers, named fields, no recursion."""

import pytest

from stripe_connector.jsonbounds import MAX_JSON_DEPTH, JSONProblem, check, loads


def nested(levels: int, leaf="x"):
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def test_it_reads_json_within_the_bound():
    assert loads(b'{"input": {"amount": 1099, "rate": 1.5}}') == {
        "input": {"amount": 1099, "rate": 1.5}
    }
    check(nested(MAX_JSON_DEPTH))


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 480, 990])
def test_it_refuses_nesting_past_the_bound_naming_the_field(levels):
    with pytest.raises(JSONProblem) as caught:
        check({"steps": [{"input": {"metadata": nested(levels)}}]})
    assert caught.value.field == "steps[0].input.metadata"
    assert str(MAX_JSON_DEPTH) in caught.value.reason


def test_it_names_the_field_of_a_body_too_deep_for_the_json_parser():
    body = '{"name": "w", "input": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(JSONProblem) as caught:
        loads(body)
    assert caught.value.field == "input[0][0][0]"


def test_it_names_the_field_of_a_text_too_deep_for_the_json_parser():
    body = '{"steps": [{"name": "a"}, {"input": {"metadata": ' + "[" * 5000 + "]" * 5000 + "}}]}"
    with pytest.raises(JSONProblem) as caught:
        loads(body)
    assert caught.value.field == "steps[1].input.metadata"


def test_it_names_the_place_in_a_bare_list_too_deep_for_the_json_parser():
    with pytest.raises(JSONProblem) as caught:
        loads("[" * 100_000 + "]" * 100_000)
    assert caught.value.field == "[0][0][0][0]"
    assert "nested deeper" in caught.value.reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_it_refuses_the_literals_that_are_not_json(literal):
    with pytest.raises(JSONProblem) as caught:
        loads('{"filters": [{"value": ' + literal + "}]}")
    assert "is not JSON" in caught.value.reason


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_it_names_the_field_of_a_number_that_overflows_to_infinity(number):
    with pytest.raises(JSONProblem) as caught:
        loads('{"filters": [{"value": ' + number + "}]}")
    assert caught.value.field == "filters[0].value"
    assert "finite" in caught.value.reason


def test_it_refuses_an_integer_too_long_to_read_naming_the_field():
    with pytest.raises(JSONProblem) as caught:
        loads('{"input": {"amount": ' + "1" * 5000 + "}}")
    assert caught.value.field == "input.amount"


def test_it_says_what_is_not_json():
    with pytest.raises(JSONProblem) as caught:
        loads("{")
    assert caught.value.field == ""
    assert caught.value.reason.startswith("is not JSON")
