"""The product's one bound on JSON: depth, finite numbers, named fields, no recursion."""

import json

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


# A lone UTF-16 surrogate, written as JSON writes it: json.loads keeps it in a str that
# UTF-8 cannot encode (every answer showing it fails) and PostgreSQL's jsonb refuses.
LONE = "\\ud800"


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\udc00"])
def test_it_refuses_a_lone_surrogate_in_a_value_naming_the_field(escape):
    with pytest.raises(JSONProblem) as caught:
        loads('{"steps": [{"condition": {"value": "a' + escape + 'b"}}]}')
    assert caught.value.field == "steps[0].condition.value"
    assert "surrogate characters are not allowed" in caught.value.reason
    assert f"U+{escape[2:].upper()}" in caught.value.reason


def test_it_refuses_a_lone_surrogate_in_a_key_naming_the_object_holding_it():
    with pytest.raises(JSONProblem) as caught:
        loads('{"input": {"metadata": {"k' + LONE + '": "v"}}}')
    assert caught.value.field == "input.metadata"
    assert "key" in caught.value.reason
    assert "surrogate characters are not allowed" in caught.value.reason
    str(caught.value).encode()  # the message is text: it holds no surrogate


def test_it_refuses_a_lone_surrogate_at_the_top_and_in_a_bare_list():
    with pytest.raises(JSONProblem) as caught:
        check({"a\ud800": 1})
    assert caught.value.field == ""
    with pytest.raises(JSONProblem) as caught:
        loads('["' + LONE + '"]')
    assert caught.value.field == "[0]"


def test_a_field_named_under_a_key_holding_a_surrogate_is_text():
    # Too deep for json.loads: the path is found in the text, key and all.
    with pytest.raises(JSONProblem) as caught:
        loads('{"k' + LONE + '": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert caught.value.field == "k\\ud800[0][0][0]"
    str(caught.value).encode()


def test_it_refuses_a_lone_surrogate_in_python_values_but_not_a_pair_read_as_one_character():
    with pytest.raises(JSONProblem) as caught:
        check({"filters": [{"path": "data.object.id", "value": "\udbff"}]})
    assert caught.value.field == "filters[0].value"
    assert loads('{"name": "Zo\\u00eb \\ud83d\\ude00"}') == {"name": "Zoë 😀"}
    check({"name": "Zoë 😀", "emoji": ["😀"]})


def test_escape_surrogates_writes_json_that_reads_back_the_same_value():
    from stripe_connector.jsonbounds import escape_surrogates

    value = {"k": "a\ud800b", "pair": "😀", "back": "\\\udc00"}
    text = json.dumps(value, ensure_ascii=False)
    escaped = escape_surrogates(text)
    escaped.encode()
    assert json.loads(escaped) == value
    assert escape_surrogates("Zoë 😀") == "Zoë 😀"
