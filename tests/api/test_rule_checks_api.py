"""Saving rules through the API: a step's condition and the workflow's filters holding
text a database cannot store (U+0000: PostgreSQL refuses it), too many rules or keys a
rule does not have are 400s naming the field, on SQLite and PostgreSQL alike; nothing
is stored."""

import pytest

from tests.api.conftest import field_errors
from workflows.filters import MAX_RULES
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"
RULE = {"path": "trigger.data.object.id", "op": "exists"}


def body(connection, *, condition=None, filters=None) -> dict:
    step = {
        "name": "charge",
        "action_key": "create_invoice_item",
        "input": {
            "customer": "{{ trigger.data.object.customer }}",
            "amount": 100,
            "currency": "usd",
        },
    }
    if condition is not None:
        step["condition"] = condition
    return {
        "name": "Rules",
        "connection": str(connection.pk),
        "trigger_key": "invoice.created",
        "filters": filters or [],
        "steps": [step],
    }


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            [{"path": "trigger.a\x00b", "op": "exists"}],
            "Rule 1: 'path' holds U+0000 (a NUL character), which cannot be stored.",
        ),
        (
            [RULE, {"path": "trigger.id", "op": "equals", "value": "a\x00b"}],
            "Rule 2: 'value' holds U+0000 (a NUL character), which cannot be stored.",
        ),
        (
            [{"path": "trigger.id", "op": "in", "value": [{"a": ["\x00"]}]}],
            "Rule 1: 'value' holds U+0000 (a NUL character) at value[0].a[0], which cannot be "
            "stored.",
        ),
        (
            [{"path": "trigger.id", "op": "exists", "x\x00": 1}],
            'Rule 1: unknown key "x\\u0000"; a rule has only path, op and value.',
        ),
        (
            [{**RULE, "junk": {"x": 1}}],
            'Rule 1: unknown key "junk"; a rule has only path, op and value.',
        ),
        ([RULE] * (MAX_RULES + 1), f"At most {MAX_RULES} rules; there are {MAX_RULES + 1}."),
    ],
)
def test_a_condition_that_cannot_be_stored_is_a_400_on_the_steps_condition(
    superuser_api, connection, condition, message
):
    response = superuser_api.post(LIST, body(connection, condition=condition), format="json")

    assert response.status_code == 400, response.content[:300]
    assert field_errors(response)["steps[0].condition"] == message
    assert not Workflow.objects.exists()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            [{"path": "data.object.id", "op": "equals", "value": "a\x00"}],
            "Filter 1: 'value' holds U+0000 (a NUL character), which cannot be stored.",
        ),
        (
            [{"path": "data.object.\x00", "op": "exists"}],
            "Filter 1: 'path' holds U+0000 (a NUL character), which cannot be stored.",
        ),
        (
            [{"path": "data.object.id", "op": "exists", "match": "any"}],
            'Filter 1: unknown key "match"; a rule has only path, op and value.',
        ),
        (
            [{"path": "data.object.id", "op": "exists"}] * (MAX_RULES + 1),
            f"At most {MAX_RULES} filters; there are {MAX_RULES + 1}.",
        ),
    ],
)
def test_filters_that_cannot_be_stored_are_a_400_on_filters(
    superuser_api, connection, filters, message
):
    response = superuser_api.post(LIST, body(connection, filters=filters), format="json")

    assert response.status_code == 400, response.content[:300]
    assert field_errors(response)["filters"] == message
    assert not Workflow.objects.exists()
