"""A filter whose path is not text is named by its row with what is wrong, in the model's
check, admin's form and the API alike."""

import json

import pytest
from django.urls import reverse

from tests.api.conftest import token_client
from workflows.filters import check_filters

LIST = "/api/v1/workflows/"
NUMERIC_PATH = [
    {"path": "data.object.status", "op": "equals", "value": "draft"},
    {"path": 1, "op": "equals", "value": "x"},
]
MESSAGE = "Filter 2: 'path' must be text, like data.object.status, not a number."


@pytest.mark.parametrize(
    ("path", "kind"),
    [(1, "a number"), (2.5, "a number"), (True, "true or false"), (["a"], "a list"),
     ({"a": 1}, "an object")],
)  # fmt: skip
def test_a_path_that_is_not_text_is_named_with_its_row_and_kind(path, kind):
    problems = check_filters([{"path": "a", "op": "exists"}, {"path": path, "op": "exists"}])

    assert problems == [f"Filter 2: 'path' must be text, like data.object.status, not {kind}."]


def test_a_missing_or_empty_path_still_asks_for_one_and_a_non_object_row_is_named():
    assert check_filters([{"op": "exists"}, {"path": "", "op": "exists"}, "data.object"]) == [
        "Filter 1: needs a 'path'.",
        "Filter 2: needs a 'path'.",
        "Filter 3: must be an object with 'path', 'op', 'value'.",
    ]


@pytest.mark.django_db
def test_admin_shows_it_on_the_filters_field(staff_client, connection):
    response = staff_client.post(
        reverse("admin:workflows_workflow_add"),
        {
            "name": "Numeric path",
            "connection": str(connection.pk),
            "trigger_key": "customer.created",
            "filters": json.dumps(NUMERIC_PATH),
            "alert_chat": "on",
            "steps-TOTAL_FORMS": "0",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["filters"] == [MESSAGE]


@pytest.mark.django_db
def test_the_api_answers_it_on_the_filters_field(connection, django_user_model):
    user = django_user_model.objects.create_superuser("api", "api@example.com", "pw-1234567!")
    body = {
        "name": "Numeric path",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "filters": NUMERIC_PATH,
        "steps": [],
    }

    response = token_client(user).post(LIST, body, format="json")

    assert response.status_code == 400
    assert MESSAGE in json.dumps(response.json())
