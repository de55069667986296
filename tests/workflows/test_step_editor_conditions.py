"""The step form's "Run only if / Repeat for each": saved from admin, errors on their
field, values kept when a save fails, and the data picker's lists and item fields."""

import json

import pytest
from django.urls import reverse

from workflows import services
from workflows.admin.steps import error_place
from workflows.mapping import MappingReport
from workflows.models import DEFAULT_MAX_ITEMS, Workflow

from .conftest import make_workflow
from .test_mapping_errors import workflow_form

pytestmark = pytest.mark.django_db

ADD = reverse("admin:workflows_workflow_add")
PATHS = reverse("admin:workflows_editor_paths")
RULES = [
    {"path": "trigger.data.object.email", "op": "exists"},
    {"path": "trigger.data.object.name", "op": "equals", "value": "Ada"},
]
FIND = ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})


def with_extras(data: dict, index: int = 0, **extras) -> dict:
    """``data`` with step ``index``'s condition, condition_match, for_each and max_items."""
    for name, value in extras.items():
        data[f"steps-{index}-{name}"] = json.dumps(value) if name == "condition" else str(value)
    return data


def step_errors(response, index: int = 0) -> dict:
    formset = response.context["inline_admin_formsets"][0].formset
    return {field: list(errors) for field, errors in formset.forms[index].errors.items()}


def refused(client, data) -> object:
    response = client.post(ADD, data)
    assert response.status_code == 200, "saved despite the error"
    assert not Workflow.objects.exists()
    return response


# -- saving ---------------------------------------------------------------------------


def test_a_condition_and_a_for_each_are_saved_from_the_form(staff_client, connection):
    data = with_extras(
        workflow_form(connection, [FIND]),
        condition=RULES,
        condition_match="any",
        for_each="trigger.data.object.preferred_locales",
        max_items=25,
    )
    response = staff_client.post(ADD, data)
    assert response.status_code == 302, step_errors(response)
    step = Workflow.objects.get().steps.get()
    assert step.condition == RULES
    assert (step.condition_match, step.for_each, step.max_items) == (
        "any",
        "trigger.data.object.preferred_locales",
        25,
    )


def test_left_out_or_empty_extras_save_the_steps_defaults(staff_client, connection):
    """A post without the section (a form made before it), and one with it left empty."""
    response = staff_client.post(ADD, workflow_form(connection, [FIND]))
    assert response.status_code == 302
    empty = with_extras(
        workflow_form(connection, [FIND], name="Empty section"),
        condition="",
        condition_match="",
        for_each="",
        max_items="",
    )
    empty["steps-0-condition"] = ""
    assert staff_client.post(ADD, empty).status_code == 302
    for workflow in Workflow.objects.all():
        step = workflow.steps.get()
        assert (step.condition, step.condition_match, step.for_each, step.max_items) == (
            [],
            "all",
            "",
            DEFAULT_MAX_ITEMS,
        )


def test_a_for_each_picked_as_a_reference_is_saved_as_its_path(staff_client, connection):
    data = with_extras(
        workflow_form(connection, [FIND]), for_each=" {{ trigger.data.object.preferred_locales }} "
    )
    assert staff_client.post(ADD, data).status_code == 302
    assert Workflow.objects.get().steps.get().for_each == "trigger.data.object.preferred_locales"


def test_the_checks_get_the_steps_condition_and_for_each(staff_client, connection, monkeypatch):
    seen = []

    def check_steps(workflow, steps):
        seen.extend(steps)
        return [MappingReport() for _ in steps]

    monkeypatch.setattr(services, "check_steps", check_steps)
    data = with_extras(
        workflow_form(connection, [FIND]),
        condition=RULES,
        condition_match="any",
        for_each="trigger.data.object.preferred_locales",
        max_items=7,
    )
    assert staff_client.post(ADD, data).status_code == 302
    [step] = seen
    assert (step["condition"], step["condition_match"]) == (RULES, "any")
    assert (step["for_each"], step["max_items"]) == ("trigger.data.object.preferred_locales", 7)


# -- errors on their field ------------------------------------------------------------


def reporting(monkeypatch, *errors: tuple[str, str]) -> None:
    """services.check_steps reports ``errors`` (field, message) for the first step."""

    def check_steps(workflow, steps):
        report = MappingReport()
        for field, message in errors:
            report.error(field, message)
        return [report] + [MappingReport() for _ in steps[1:]]

    monkeypatch.setattr(services, "check_steps", check_steps)


def test_step_level_errors_of_the_checks_land_on_their_field(staff_client, connection, monkeypatch):
    reporting(
        monkeypatch,
        ("for_each", "trigger.data.object.email is text, not a list."),
        ("condition[2].path", "must start at trigger. or steps.<an earlier step>."),
        ("condition_match", "must be all or any."),
        ("max_items", "must be at most 1000."),
        ("customer", "Unknown field."),
    )
    response = refused(staff_client, with_extras(workflow_form(connection, [FIND]), condition=[]))
    assert step_errors(response) == {
        "for_each": ["trigger.data.object.email is text, not a list."],
        "condition": ["condition[2].path: must start at trigger. or steps.<an earlier step>."],
        "condition_match": ["must be all or any."],
        "max_items": ["must be at most 1000."],
        "input_mapping": ["customer: Unknown field."],
    }


def test_a_path_not_rooted_at_the_runs_data_is_an_error_on_its_field(staff_client, connection):
    """The checks' own messages (services.check_steps), each on the field at fault."""
    data = with_extras(
        workflow_form(connection, [FIND, ("tag", "find_customer", {"id": "{{ item }}"})]),
        index=1,
        condition=[{"path": "data.object.email", "op": "exists"}],
        for_each="steps.tag.data",
    )
    errors = step_errors(refused(staff_client, data), 1)
    assert errors == {
        "condition": [
            "Rule 1: data.object.email must start with trigger. (the event) or "
            "steps.<an earlier step>."
        ],
        "for_each": [
            "steps.tag.data: 'tag' is not an earlier step (only the steps before this one "
            "have an output)."
        ],
    }


def test_error_place_keeps_input_paths_on_the_input_mapping():
    assert error_place({"field": "metadata.for_each", "message": "x"}) == (
        "input_mapping",
        "metadata.for_each: x",
    )
    assert error_place({"field": "", "message": "Bad."}) == ("input_mapping", "input: Bad.")
    assert error_place({"field": "for_each", "message": "Not a list."}) == (
        "for_each",
        "Not a list.",
    )


def test_the_forms_own_checks_name_their_field(staff_client, connection):
    data = with_extras(workflow_form(connection, [FIND]), max_items=5000, condition_match="some")
    data["steps-0-condition"] = '[{"path": "trigger.data.object.id", "op": }]'
    errors = step_errors(refused(staff_client, data))
    assert errors["condition"] == ["Invalid JSON: Expecting value (line 1, column 43)."]
    assert errors["max_items"] == ["Ensure this value is less than or equal to 1000."]
    assert errors["condition_match"] == [
        "Select a valid choice. some is not one of the available choices."
    ]
    assert "input_mapping" not in errors


def test_the_section_is_shown_open_with_its_error_and_keeps_every_value(
    staff_client, connection, monkeypatch
):
    """A failed save shows what was typed: the rules, the match, the list and the maximum."""
    reporting(monkeypatch, ("for_each", "Not a list in the sample."))
    data = with_extras(
        workflow_form(connection, [FIND]),
        condition=RULES,
        condition_match="any",
        for_each="trigger.data.object.email",
        max_items=12,
    )
    response = refused(staff_client, data)
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert json.loads(form["condition"].value()) == RULES
    assert form["condition_match"].value() == "any"
    assert form["for_each"].value() == "trigger.data.object.email"
    assert str(form["max_items"].value()) == "12"
    html = response.content.decode()
    # With an error inside, admin renders the section open (not collapsible).
    section = html[html.index('class="module aligned collapse kf-step-extras"') :]
    section = section[: section.index("</fieldset>")]
    assert "<details>" not in section
    assert "Not a list in the sample." in section
    assert 'value="trigger.data.object.email"' in section
    assert '<option value="any" selected>' in section
    assert "&quot;Ada&quot;" in section  # the rules, in the raw JSON the editor reads


def test_the_section_is_collapsible_while_it_has_no_error(staff_client):
    html = staff_client.get(ADD).content.decode()
    assert 'class="module aligned collapse kf-step-extras"' in html
    assert "Run only if / Repeat for each" in html
    assert 'data-kf-editor="condition"' in html
    assert "{{ item_index }}" in html  # the for-each help names the item's references


# -- the data picker: lists and the item's fields --------------------------------------


def get_paths(client, **params):
    params["steps"] = json.dumps(params.get("steps", []))
    response = client.get(PATHS, params)
    assert response.status_code == 200
    return response.json()


def test_the_picker_lists_the_triggers_and_the_steps_lists(staff_client, connection):
    workflow = make_workflow(connection, "invoice.created", [], active=False)
    search = workflow.steps.create(
        order=1,
        name="search",
        action_key="search_product",
        sample_output={"data": [{"id": "prod_1", "name": "Pen"}], "has_more": False},
    )
    body = get_paths(
        staff_client,
        workflow=workflow.pk,
        trigger_key="invoice.created",
        steps=[{"id": str(search.pk), "name": "search", "order": 1}],
    )
    assert {"path": "data.object.lines.data", "count": 1} in body["trigger_lists"]
    assert body["steps"][0]["lists"] == [{"path": "data", "count": 1}]
    assert {"reference": "steps.search.data[0].id", "path": "data.0.id", "example": '"prod_1"'} in (
        body["steps"][0]["paths"]
    )


def test_a_for_each_step_gets_its_items_fields_and_item_index(staff_client, connection):
    workflow = make_workflow(connection, "invoice.created", [], active=False)
    body = get_paths(
        staff_client,
        workflow=workflow.pk,
        trigger_key="invoice.created",
        steps=[
            {"id": "", "name": "bill", "order": 1, "for_each": "trigger.data.object.lines.data"}
        ],
    )
    item = body["steps"][0]["item"]
    assert (item["list"], item["count"], item["note"]) == ("trigger.data.object.lines.data", 1, "")
    line = workflow.sample()["data"]["object"]["lines"]["data"][0]
    references = [entry["reference"] for entry in item["paths"]]
    assert references[0] == "item_index"
    assert "item.price.id" in references or "item.pricing.price_details.price" in references
    assert {"reference": "item.id", "path": "id", "example": json.dumps(line["id"])} in (
        item["paths"]
    )


def test_item_fields_come_from_an_earlier_steps_output_only(staff_client, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    search = workflow.steps.create(
        order=1,
        name="search",
        action_key="search_product",
        sample_output={"data": [{"id": "prod_1", "name": "Pen"}]},
    )
    later = workflow.steps.create(
        order=5,
        name="later",
        action_key="search_product",
        sample_output={"data": [{"id": "prod_9"}]},
    )
    steps = [
        {"id": str(search.pk), "name": "search", "order": 1},
        {"id": "", "name": "each", "order": 2, "for_each": "steps.search.data"},
        {"id": "", "name": "too_soon", "order": 3, "for_each": "steps.later.data"},
        {"id": str(later.pk), "name": "later", "order": 5},
    ]
    body = get_paths(
        staff_client, workflow=workflow.pk, trigger_key="customer.created", steps=steps
    )
    each, too_soon = body["steps"][1]["item"], body["steps"][2]["item"]
    assert [entry["reference"] for entry in each["paths"]] == ["item_index", "item.id", "item.name"]
    assert too_soon["count"] is None
    assert too_soon["paths"] == [{"reference": "item_index", "path": "", "example": "0"}]
    assert too_soon["note"].startswith("steps.later.data is missing in the sample, not a list")


def test_a_for_each_that_is_no_list_or_empty_in_the_sample_says_so(staff_client, connection):
    workflow = make_workflow(connection, "customer.created", [], active=False)
    steps = [
        {"id": "", "name": "a", "for_each": "trigger.data.object.email"},
        {"id": "", "name": "b", "for_each": "trigger.data.object.preferred_locales"},
        {"id": "", "name": "c"},
    ]
    body = get_paths(
        staff_client, workflow=workflow.pk, trigger_key="customer.created", steps=steps
    )
    text, empty = body["steps"][0]["item"], body["steps"][1]["item"]
    assert text["note"].startswith("trigger.data.object.email is text in the sample, not a list")
    assert (empty["count"], empty["paths"][1:]) == (0, [])
    assert empty["note"] == (
        "trigger.data.object.preferred_locales is empty in the sample: no item fields to show."
    )
    assert "item" not in body["steps"][2]
