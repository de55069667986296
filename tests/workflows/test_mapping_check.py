"""Checking a mapping when a workflow is saved: errors block, doubtful references warn."""

from workflows.mapping import check_mapping, references

SCHEMA = {
    "type": "object",
    "properties": {
        "customer": {"type": "string", "description": "Customer id"},
        "amount": {"type": "integer", "description": "Cents"},
        "metadata": {"type": "object", "description": "Key-value pairs"},
    },
    "required": ["customer"],
}
SAMPLE = {"type": "invoice.created", "data": {"object": {"customer": "cus_1", "total": 5}}}


def fields(items):
    return [item["field"] for item in items]


def test_a_good_mapping_has_no_errors_and_no_warnings():
    report = check_mapping(
        {"customer": "{{ trigger.data.object.customer }}", "amount": 100},
        SCHEMA,
        sample_trigger=SAMPLE,
    )
    assert report.ok and report.warnings == []


def test_unknown_fields_and_missing_required_fields_are_errors():
    report = check_mapping({"amount": 1, "colour": "red"}, SCHEMA, sample_trigger=SAMPLE)
    assert sorted(fields(report.errors)) == ["colour", "customer"]


def test_a_literal_of_the_wrong_type_is_an_error():
    report = check_mapping({"customer": "cus_1", "amount": "ten"}, SCHEMA)
    assert fields(report.errors) == ["amount"]
    assert "integer" in report.errors[0]["message"]


def test_a_reference_is_not_type_checked_at_save_time():
    report = check_mapping(
        {"customer": "cus_1", "amount": "{{ trigger.data.object.total }}"}, SCHEMA
    )
    assert report.ok


def test_a_path_missing_from_the_sample_is_a_warning_not_an_error():
    report = check_mapping(
        {"customer": "{{ trigger.data.object.client }}"}, SCHEMA, sample_trigger=SAMPLE
    )
    assert report.ok
    assert fields(report.warnings) == ["customer"]
    assert "trigger.data.object.client" in report.warnings[0]["message"]


def test_a_syntax_error_is_an_error():
    report = check_mapping({"customer": "{{ trigger.data.object.customer "}, SCHEMA)
    assert fields(report.errors) == ["customer"]
    assert "Syntax error" in report.errors[0]["message"]


def test_a_reference_to_a_step_that_is_not_earlier_is_an_error():
    mapping = {"customer": "{{ steps.find_customer.id }}", "metadata": {"x": "{{ steps.nope.id }}"}}
    report = check_mapping(mapping, SCHEMA, earlier_steps=["find_customer"])
    assert fields(report.errors) == ["metadata.x"]


def test_only_trigger_and_steps_can_be_referenced():
    report = check_mapping({"customer": "{{ settings.SECRET_KEY }}"}, SCHEMA)
    assert fields(report.errors) == ["customer"]


def test_a_mapping_that_is_not_an_object_is_an_error():
    assert not check_mapping(["customer"], SCHEMA).ok


def test_references_lists_each_full_path_once():
    # Loops are refused in mappings (workflows/sandbox.py): lists go through filters.
    text = (
        "{{ trigger.data.object.id }}{{ trigger.lines | map(attribute='id') | join(',') }}"
        "{{ trigger.data.object.id }}"
    )
    assert references(text) == ["trigger.data.object.id", "trigger.lines"]
