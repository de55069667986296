"""The step editor's form comes from the catalog: one converter over every action's schema."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_jsonform.exceptions import JSONSchemaValidationError
from django_jsonform.validators import JSONSchemaValidator

from stripe_connector.catalog import ACTIONS, get_action
from tests.support.factories import make_workflow
from workflows import filters
from workflows.admin.editor import (
    CLEAR_GROUP_HINT,
    CLEAR_HINT,
    OPERATOR_MEANINGS,
    FiltersField,
    editor_schema,
    filters_schema,
    flatten,
)
from workflows.admin.steps import StepForm
from workflows.models import Run, RunStatus, Step, StepRun

LEAF_KEYS = {"type", "title", "help_text", "required", "x-type", "x-choices"}


def walk(editor, source, path="input"):
    """Yield (path, editor node, source node) pairs, checking the shapes match on the way."""
    yield path, editor, source
    kind = source.get("type")
    if kind == "object":
        assert editor["type"] == "object", path
        assert set(editor["properties"]) == set(source.get("properties", {})), path
        for key, item in source.get("properties", {}).items():
            yield from walk(editor["properties"][key], item, f"{path}.{key}")
        extra = source.get("additionalProperties")
        if isinstance(extra, dict):
            yield from walk(editor["additionalProperties"], extra, f"{path}.*")
        elif extra is False:
            assert "additionalProperties" not in editor, path
    elif kind == "array":
        assert editor["type"] == "array", path
        yield from walk(editor["items"], source["items"], f"{path}[]")
    else:
        assert editor["type"] == "string", path  # any field may hold a reference
        assert set(editor) <= LEAF_KEYS, path


@pytest.mark.parametrize("key", list(ACTIONS))
def test_every_action_yields_an_editor_schema_that_mirrors_its_input_schema(key):
    source = get_action(key).input_schema
    schema = editor_schema(source)
    json.dumps(schema)  # embedded in the page as JSON
    nodes = list(walk(schema, source))
    assert len(nodes) > 1 or not source.get("properties")
    for path, editor, original in nodes:
        if original.get("type") not in ("object", "array"):
            assert editor["x-type"] == original.get("type", "string"), path
            assert editor["title"] or path.endswith((".*", "[]")), path
            if original.get("description"):
                assert original["description"] in editor["help_text"], path
            assert editor.get("x-choices", []) == [str(v) for v in original.get("enum", [])], path


def filled(schema):
    """Data for every field of an editor schema: text in each input, one row, one free key."""
    if schema["type"] == "object":
        data = {key: filled(item) for key, item in schema["properties"].items()}
        if "additionalProperties" in schema:
            data["free_key"] = filled(schema["additionalProperties"])
        return data
    if schema["type"] == "array":
        return [filled(schema["items"])]
    return "{{ trigger.data.object.id }}"


@pytest.mark.parametrize("key", list(ACTIONS))
def test_django_jsonform_accepts_every_editor_schema_with_references_in_every_field(key):
    schema = editor_schema(get_action(key).input_schema)
    JSONSchemaValidator(schema)(filled(schema))  # raises on a schema or value it refuses
    with pytest.raises(JSONSchemaValidationError):
        JSONSchemaValidator(schema)({"not_a_field_of_the_action": "x"})


@pytest.mark.parametrize("key", list(ACTIONS))
def test_required_fields_are_marked_and_no_others(key):
    source = get_action(key).input_schema

    def check(editor, original):
        wanted = set(original.get("required", []))
        for name, item in original.get("properties", {}).items():
            node = editor["properties"][name]
            if item.get("type") in ("object", "array"):
                assert node["title"].endswith("(required)") == (name in wanted), name
                if item.get("type") == "object":
                    check(node, item)
            else:
                assert node.get("required", False) == (name in wanted), name

    check(editor_schema(source), source)


def test_enums_become_suggestions_named_in_the_help():
    schema = editor_schema(get_action("create_price").input_schema)
    interval = schema["properties"]["recurring"]["properties"]["interval"]
    assert interval["type"] == "string"
    assert interval["x-choices"] == ["day", "week", "month", "year"]
    assert "One of: day, week, month, year." in interval["help_text"]


def test_integer_and_boolean_fields_are_text_that_says_what_it_takes():
    schema = editor_schema(get_action("create_price").input_schema)
    amount = schema["properties"]["unit_amount"]
    assert (amount["type"], amount["x-type"]) == ("string", "integer")
    assert "whole number" in amount["help_text"]
    active = editor_schema(get_action("create_product").input_schema)["properties"]["active"]
    assert (active["type"], active["x-type"]) == ("string", "boolean")
    assert "true or false" in active["help_text"]


def test_nested_objects_and_lists_become_groups_and_rows():
    schema = editor_schema(get_action("create_subscription").input_schema)
    items = schema["properties"]["items"]
    assert items["type"] == "array"
    row = items["items"]
    assert row["type"] == "object"
    assert row["properties"]["price"]["type"] == "string"
    customer = editor_schema(get_action("create_customer").input_schema)
    address = customer["properties"]["address"]
    assert address["type"] == "object"
    assert address["properties"]["postal_code"]["title"] == "Postal code"
    assert address["properties"]["line1"]["title"] == "Line 1"


def test_metadata_takes_free_keys_of_text():
    schema = editor_schema(get_action("create_customer").input_schema)
    metadata = schema["properties"]["metadata"]
    assert metadata["type"] == "object"
    assert metadata["properties"] == {}
    assert metadata["additionalProperties"]["type"] == "string"


def test_fields_stripe_lets_you_unset_say_how_to_send_the_empty_value():
    schema = editor_schema(get_action("update_payment_intent").input_schema)
    usage = schema["properties"]["setup_future_usage"]  # x-stripe-clearable
    assert CLEAR_HINT in usage["help_text"]
    assert 'Type "" to clear it in Stripe' in usage["help_text"]
    metadata = schema["properties"]["metadata"]  # a clearable group of free keys
    assert CLEAR_GROUP_HINT in metadata["help_text"]
    assert CLEAR_HINT in metadata["additionalProperties"]["help_text"]
    assert CLEAR_HINT not in schema["properties"]["description"]["help_text"]
    created = editor_schema(get_action("create_customer").input_schema)["properties"]
    assert CLEAR_HINT not in created["metadata"]["additionalProperties"]["help_text"]


def test_the_json_view_shows_the_saved_value_indented():
    field = FiltersField()
    value = [{"path": "data.object.email", "op": "equals", "value": "é"}]
    assert field.prepare_value(value) == json.dumps(value, ensure_ascii=False, indent=2)
    assert field.prepare_value(field.bound_data("[1,", None)) == "[1,"  # kept as typed
    rendered = StepForm(instance=Step(input_mapping={"id": "x", "metadata": {"a": "b"}}))
    assert "{\n  &quot;id&quot;: &quot;x&quot;,\n  &quot;metadata&quot;: {\n    &quot;a&quot;" in (
        str(rendered["input_mapping"])
    )


def test_free_form_parameters_take_free_keys():
    params = editor_schema(get_action("stripe_api_request").input_schema)["properties"]["params"]
    assert params["additionalProperties"]["type"] == "string"


def test_every_filter_operator_is_offered_with_its_meaning():
    op = filters_schema()["items"]["properties"]["op"]
    assert [choice["value"] for choice in op["choices"]] == list(filters.OPERATORS)
    assert set(OPERATOR_MEANINGS) == set(filters.OPERATORS)
    for choice in op["choices"]:
        assert choice["title"] == f"{choice['value']}: {OPERATOR_MEANINGS[choice['value']]}"


def test_flatten_names_references_and_filter_paths():
    value = {"data": {"object": {"id": "cus_1", "lines": {"data": [{"id": "il_1"}]}}}}
    value["data"]["object"]["metadata"] = {"order-id": "42"}
    rows = flatten(value, "trigger")
    assert ("trigger.data.object.id", "data.object.id", '"cus_1"') in rows
    assert (
        "trigger.data.object.lines.data[0].id",
        "data.object.lines.data.0.id",
        '"il_1"',
    ) in rows
    assert (
        "trigger.data.object.metadata['order-id']",
        "data.object.metadata.order-id",
        '"42"',
    ) in (rows)


# -- the picker's paths view -----------------------------------------------------------

pytestmark = pytest.mark.django_db
PATHS = "admin:workflows_editor_paths"


def get_paths(client, **params):
    if "steps" in params:
        params["steps"] = json.dumps(params["steps"])
    return client.get(reverse(PATHS), params)


def test_an_unsaved_workflow_gets_the_chosen_triggers_sample(staff_client):
    response = get_paths(staff_client, trigger_key="invoice.created", custom_event_type="")
    assert response.status_code == 200
    trigger = response.json()["trigger"]
    paths = [row["path"] for row in trigger]
    assert "data.object.amount_due" in paths
    assert "type" in paths
    assert paths.index("data.object.amount_due") < paths.index("type")  # the object first
    row = next(r for r in trigger if r["path"] == "data.object.customer")
    assert row["reference"] == "trigger.data.object.customer"
    assert row["example"].startswith('"cus_')


def test_the_saved_workflows_loaded_sample_is_used_while_its_trigger_is_unchanged(
    staff_client, connection
):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    workflow.sample_event = {"data": {"object": {"id": "cus_Loaded", "email": "l@example.com"}}}
    workflow.save()
    same = get_paths(staff_client, workflow=workflow.pk, trigger_key="customer.created").json()
    assert {
        "reference": "trigger.data.object.id",
        "path": "data.object.id",
        "example": '"cus_Loaded"',
    } in (same["trigger"])
    other = get_paths(staff_client, workflow=workflow.pk, trigger_key="invoice.created").json()
    assert "data.object.amount_due" in [row["path"] for row in other["trigger"]]


def test_earlier_steps_give_their_test_a_step_output_else_nothing(staff_client, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    found = workflow.steps.create(
        order=1,
        name="find",
        action_key="find_customer",
        input_mapping={"id": "{{ trigger.data.object.id }}"},
        sample_output={"id": "cus_9", "address": {"city": "Paris"}},
    )
    steps = [{"id": str(found.pk), "name": "find"}, {"id": "", "name": "not_saved_yet"}]
    body = get_paths(
        staff_client, workflow=workflow.pk, trigger_key="customer.created", steps=steps
    ).json()
    first, second = body["steps"]
    assert first["name"] == "find" and first["source"] == "Test a step"
    assert {
        "reference": "steps.find.address.city",
        "path": "address.city",
        "example": '"Paris"',
    } in first["paths"]
    assert second == {"name": "not_saved_yet", "source": "", "paths": [], "lists": []}


def test_a_renamed_step_keeps_its_output_by_id(staff_client, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    step = workflow.steps.create(
        order=1, name="find", action_key="find_customer", sample_output={"id": "cus_9"}
    )
    steps = [{"id": str(step.pk), "name": "lookup"}]
    body = get_paths(
        staff_client, workflow=workflow.pk, trigger_key="customer.created", steps=steps
    ).json()
    assert body["steps"][0]["paths"] == [
        {"reference": "steps.lookup.id", "path": "id", "example": '"cus_9"'}
    ]


def test_paths_need_to_add_or_change_workflows(staff_as, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    viewer = staff_as("view_workflow")
    assert get_paths(viewer, trigger_key="customer.created").status_code == 403
    assert get_paths(viewer, workflow=workflow.pk, trigger_key="x").status_code == 403
    adder = staff_as("add_workflow")
    assert get_paths(adder, trigger_key="customer.created").status_code == 200
    changer = staff_as("change_workflow")
    assert get_paths(changer, workflow=workflow.pk, trigger_key="").status_code == 200


def test_paths_refuse_anonymous_and_bad_queries(staff_client):
    assert get_paths(Client(), trigger_key="customer.created").status_code == 302  # to login
    assert staff_client.get(reverse(PATHS), {"steps": "[oops"}).status_code == 400
    assert get_paths(staff_client, steps=[{"name": "s"}] * 51).status_code == 400
    assert get_paths(staff_client, workflow="abc").status_code == 404
    unknown = get_paths(staff_client, trigger_key="no.such.event").json()
    assert unknown["trigger"] == []


def succeeded_step_run(workflow, step, name, output):
    """A succeeded run of ``workflow`` whose step (None once deleted) gave ``output``."""
    run = Run.objects.create(workflow=workflow, status=RunStatus.SUCCEEDED)
    return StepRun.objects.create(
        run=run,
        step=step,
        order=0,
        step_name=name,
        action_key="find_customer",
        on_failure="stop",
        status=RunStatus.SUCCEEDED,
        output=output,
        created_at=timezone.now(),
        finished_at=timezone.now(),
    )


def test_run_outputs_are_offered_only_to_users_who_may_view_runs(staff_as, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    step = workflow.steps.create(order=1, name="find", action_key="find_customer")
    succeeded_step_run(workflow, step, "find", {"email": "private@customer.example"})
    steps = [{"id": str(step.pk), "name": "find"}]
    changer = staff_as("view_workflow", "change_workflow")
    body = get_paths(changer, workflow=workflow.pk, trigger_key="customer.created", steps=steps)
    assert body.json()["steps"] == [{"name": "find", "source": "", "paths": [], "lists": []}]
    assert "private@customer.example" not in body.content.decode()

    viewer_of_runs = staff_as("view_run")
    body = get_paths(
        viewer_of_runs, workflow=workflow.pk, trigger_key="customer.created", steps=steps
    ).json()
    assert body["steps"] == [
        {
            "name": "find",
            "source": "a run",
            "paths": [
                {
                    "reference": "steps.find.email",
                    "path": "email",
                    "example": '"private@customer.example"',
                }
            ],
            "lists": [],
        }
    ]


def test_run_outputs_are_found_by_the_saved_step_never_by_a_posted_name(staff_client, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    other = make_workflow(connection, "customer.created", [], active=False)
    theirs = other.steps.create(order=1, name="find", action_key="find_customer")
    succeeded_step_run(other, theirs, "find", {"email": "theirs@customer.example"})
    succeeded_step_run(workflow, None, "gone", {"email": "deleted@customer.example"})
    steps = [
        {"id": "", "name": "gone"},  # a deleted step's name
        {"id": str(theirs.pk), "name": "find"},  # another workflow's step
        {"id": "99999999999999999999", "name": "find"},
    ]
    body = get_paths(
        staff_client, workflow=workflow.pk, trigger_key="customer.created", steps=steps
    )
    assert body.status_code == 200
    assert [row["paths"] for row in body.json()["steps"]] == [[], [], []]
    assert "customer.example" not in body.content.decode()
