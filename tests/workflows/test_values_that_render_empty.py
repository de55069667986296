"""One rule for a reference that renders null or empty: it is left out, and the step says so.

A literal "" is sent (it clears the field in Stripe); a default comes from the
mapping (``| default('x', true)``); a write whose every mapped field was left
out fails instead of sending an empty request that Stripe answers with 200.
"""

from urllib.parse import parse_qs

import pytest

from stripe_connector.catalog import get_action
from workflows.mapping import MappingError, build_context, refuse_empty_write, render_input
from workflows.models import Run, RunStatus

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

CONTEXT = build_context(
    {"id": "evt_1", "data": {"object": {"id": "cus_1", "name": "", "phone": None}}},
    {"find": {"id": "cus_1", "email": None, "name": "Ann"}},
)


def form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def two_steps(connection, update_mapping):
    """Find the customer, then update it from what was found."""
    return make_workflow(
        connection,
        "customer.created",
        [
            ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
            ("update", "update_customer", update_mapping),
        ],
    )


def found_without_email(stripe):
    stripe.get(
        f"{API}/v1/customers/cus_NoMail",
        json={"id": "cus_NoMail", "object": "customer", "email": None, "name": "Ann"},
    )


def test_a_write_whose_every_mapped_field_rendered_null_fails_and_sends_nothing(
    connection, deliver, stripe
):
    two_steps(
        connection,
        {"id": "{{ steps.find.id }}", "metadata": {"source": "{{ steps.find.email }}"}},
    )
    found_without_email(stripe)

    deliver(connection, sample_event("customer.created", id="cus_NoMail"))

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    update = run.step_runs.get(step_name="update")
    assert update.error["type"] == "mapping_error"
    assert update.error["message"].startswith("Nothing to write: every mapped field")
    assert "metadata.source" in update.error["message"]
    assert update.left_out_fields == ["metadata.source"]
    assert [call.request.method for call in stripe.calls] == ["GET"]  # no POST at all


def test_a_partly_null_mapping_sends_the_rest_and_records_what_was_left_out(
    connection, deliver, stripe
):
    two_steps(
        connection,
        {
            "id": "{{ steps.find.id }}",
            "name": "{{ steps.find.name }}",
            "email": "{{ steps.find.email }}",
            "metadata": {"source": "{{ steps.find.email }}", "event": "{{ trigger.id }}"},
        },
    )
    found_without_email(stripe)
    stripe.post(f"{API}/v1/customers/cus_NoMail", json={"id": "cus_NoMail", "object": "customer"})
    event = sample_event("customer.created", id="cus_NoMail")

    deliver(connection, event)

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert form(stripe.calls[1]) == {"name": "Ann", "metadata[event]": event["id"]}
    update = run.step_runs.get(step_name="update")
    assert update.left_out_fields == ["email", "metadata.source"]
    assert update.input == {"id": "cus_NoMail", "name": "Ann", "metadata": {"event": event["id"]}}


def test_a_default_in_the_mapping_is_sent_instead(connection, deliver, stripe):
    two_steps(
        connection,
        {
            "id": "{{ steps.find.id }}",
            "metadata": {"source": "{{ steps.find.email | default('unknown', true) }}"},
        },
    )
    found_without_email(stripe)
    stripe.post(f"{API}/v1/customers/cus_NoMail", json={"id": "cus_NoMail", "object": "customer"})

    deliver(connection, sample_event("customer.created", id="cus_NoMail"))

    assert Run.objects.get().status == RunStatus.SUCCEEDED
    assert form(stripe.calls[1]) == {"metadata[source]": "unknown"}
    assert Run.objects.get().step_runs.get(step_name="update").left_out_fields == []


@pytest.mark.parametrize(
    ("mapping", "values", "left_out"),
    [
        # A lone reference to null, and text that renders to nothing but whitespace.
        ({"email": "{{ steps.find.email }}"}, {}, ["email"]),
        ({"name": "{{ trigger.data.object.name }}"}, {}, ["name"]),
        ({"name": " {{ steps.find.email }} "}, {}, ["name"]),
        # Null inside text prints as nothing, never as "None".
        ({"description": "Hi {{ steps.find.email }}!"}, {"description": "Hi !"}, []),
        # A literal "" is sent: it clears the field in Stripe.
        ({"description": "", "metadata": {"source": ""}}, None, []),
        # Nested keys go one by one; an object left empty goes too.
        (
            {"metadata": {"a": "{{ steps.find.email }}", "b": "{{ steps.find.name }}"}},
            {"metadata": {"b": "Ann"}},
            ["metadata.a"],
        ),
        ({"metadata": {"a": "{{ steps.find.email }}"}}, {}, ["metadata.a"]),
        # List items too.
        (
            {"expand": ["{{ steps.find.email }}", "default_source"]},
            {"expand": ["default_source"]},
            ["expand[0]"],
        ),
        # A literal null is not a reference: the action's validation drops it.
        ({"phone": None}, None, []),
    ],
)
def test_the_rule_for_values_that_render_empty(mapping, values, left_out):
    rendered = render_input(mapping, CONTEXT)
    assert rendered.values == (mapping if values is None else values)
    assert rendered.left_out == left_out


@pytest.mark.parametrize(
    ("action_key", "mapping"),
    [
        ("update_customer", {"id": "cus_1", "email": "{{ steps.find.email }}"}),
        ("update_customer", {"id": "cus_1", "expand": ["x"], "email": "{{ steps.find.email }}"}),
        ("create_customer", {"email": "{{ steps.find.email }}"}),
        ("update_product", {"id": "prod_1", "metadata": {"k": "{{ steps.find.email }}"}}),
    ],
)
def test_every_write_left_with_only_its_ids_is_refused(action_key, mapping):
    rendered = render_input(mapping, CONTEXT)
    with pytest.raises(MappingError, match="Nothing to write"):
        refuse_empty_write(get_action(action_key), rendered)


@pytest.mark.parametrize(
    ("action_key", "mapping"),
    [
        # Something mapped is still written.
        ("update_customer", {"id": "cus_1", "name": "x", "email": "{{ steps.find.email }}"}),
        # Nothing was left out: an id alone is what the action takes.
        ("finalize_invoice", {"id": "in_1"}),
        # A read writes nothing anyway.
        ("find_customer", {"id": "cus_1", "expand": ["{{ steps.find.email }}"]}),
    ],
)
def test_writes_with_data_left_and_reads_are_not_refused(action_key, mapping):
    refuse_empty_write(get_action(action_key), render_input(mapping, CONTEXT))
