"""Step inputs mean what they mean in Stripe, in a run, in Test a step and at save."""

from urllib.parse import parse_qsl

import pytest

from workflows.models import Run, RunStatus
from workflows.services import check_steps
from workflows.tryout import test_step as try_step

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

EXPANDED = {"id": "cus_Exp1", "object": "customer", "email": "ada@example.com"}
FIND = ("find", "find_customer", {"id": "{{ trigger.data.object.customer }}"})


def sent(stripe, index: int = 0) -> list[tuple[str, str]]:
    return parse_qsl(stripe.calls[index].request.body or "", keep_blank_values=True)


def only_step_run():
    return Run.objects.get().step_runs.get()


# -- a workflow run -------------------------------------------------------------------


def test_a_run_finds_the_customer_of_an_expanded_customer_field(connection, deliver, stripe):
    make_workflow(connection, "invoice.paid", [FIND])
    stripe.get(f"{API}/v1/customers/cus_Exp1", json=EXPANDED)

    deliver(connection, sample_event("invoice.paid", customer=EXPANDED))

    assert only_step_run().status == RunStatus.SUCCEEDED
    assert stripe.calls[0].request.url == f"{API}/v1/customers/cus_Exp1"


def test_a_run_sends_an_amount_into_metadata_as_text(connection, deliver, stripe):
    mapping = {
        "id": "{{ trigger.data.object.customer }}",
        "metadata": {"amount": "{{ trigger.data.object.amount_paid }}"},
    }
    make_workflow(connection, "invoice.paid", [("tag", "update_customer", mapping)])
    stripe.post(f"{API}/v1/customers/cus_1", json={"id": "cus_1", "object": "customer"})

    deliver(connection, sample_event("invoice.paid", customer="cus_1", amount_paid=1099))

    assert only_step_run().status == RunStatus.SUCCEEDED
    assert sent(stripe) == [("metadata[amount]", "1099")]


def test_a_run_clears_metadata_with_an_empty_value(connection, deliver, stripe):
    mapping = {"id": "{{ trigger.data.object.id }}", "metadata": ""}
    make_workflow(connection, "customer.updated", [("clear", "update_customer", mapping)])
    stripe.post(f"{API}/v1/customers/cus_Clear1", json={"id": "cus_Clear1"})

    deliver(connection, sample_event("customer.updated", id="cus_Clear1"))

    assert only_step_run().status == RunStatus.SUCCEEDED
    assert stripe.calls[0].request.body == "metadata="


def test_a_bracketed_key_in_the_data_fails_the_step_as_invalid_input_not_internal(
    connection, deliver, stripe
):
    mapping = {"metadata": "{{ trigger.data.object.metadata }}"}
    make_workflow(connection, "customer.created", [("copy", "create_customer", mapping)])

    deliver(connection, sample_event("customer.created", metadata={"order[1]": "x"}))

    step_run = only_step_run()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["error"] == "ActionInputError"
    assert step_run.error["errors"] == [
        {"field": "metadata", "message": "key 'order[1]' must not contain [ or ]"}
    ]
    assert len(stripe.calls) == 0


def test_a_run_refuses_exclusive_fields_before_any_call(connection, deliver, stripe):
    mapping = {
        "id": "{{ trigger.data.object.id }}",
        "cancel_at": "{{ trigger.data.object.created }}",
        "cancel_at_period_end": True,
    }
    make_workflow(
        connection,
        "customer.subscription.updated",
        [("cancel", "update_subscription", mapping)],
    )

    deliver(connection, sample_event("customer.subscription.updated"))

    step_run = only_step_run()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["errors"][0]["field"] == "cancel_at_period_end"
    assert "cancel_at, cancel_at_period_end" in step_run.error["errors"][0]["message"]


# -- Test a step ---------------------------------------------------------------------


def test_test_a_step_uses_the_id_of_an_expanded_object(connection, stripe):
    workflow = make_workflow(connection, "invoice.paid", [FIND])
    workflow.sample_event = sample_event("invoice.paid", customer=EXPANDED)
    workflow.save()
    stripe.get(f"{API}/v1/customers/cus_Exp1", json=EXPANDED)

    result = try_step(workflow.steps.get())

    assert result["ok"] is True, result
    assert stripe.calls[0].request.url == f"{API}/v1/customers/cus_Exp1"


def test_test_a_step_reports_a_bracketed_key_as_an_input_error(connection, stripe):
    mapping = {"metadata": "{{ trigger.data.object.metadata }}"}
    workflow = make_workflow(connection, "customer.created", [("copy", "create_customer", mapping)])
    workflow.sample_event = sample_event("customer.created", metadata={"a[b]": "x"})
    workflow.save()

    result = try_step(workflow.steps.get())

    assert result["ok"] is False
    assert result["error"]["errors"][0]["field"] == "metadata"
    assert len(stripe.calls) == 0


# -- saving ---------------------------------------------------------------------------


def check(connection, trigger_key: str, action_key: str, mapping: dict):
    workflow = make_workflow(connection, trigger_key, [])
    steps = [{"name": "s", "action_key": action_key, "input_mapping": mapping}]
    return check_steps(workflow, steps)[0]


@pytest.mark.parametrize(
    ("action_key", "mapping", "field", "message"),
    [
        (
            "create_customer",
            {"metadata": {"order[1]": "x"}},
            "metadata",
            "key 'order[1]' must not contain [ or ]",
        ),
        (
            "create_customer",
            {"metadata": {"order": {"id": "o_1"}}},
            "metadata.order",
            "must be of type string, got dict",
        ),
        (
            "update_subscription",
            {"id": "sub_1", "cancel_at": 1769904000, "cancel_at_period_end": True},
            "cancel_at_period_end",
            "give only one of: cancel_at, cancel_at_period_end",
        ),
        (
            "create_price",
            {
                "currency": "usd",
                "product": "prod_1",
                "unit_amount": 5,
                "recurring": {"interval": "month", "usage_type": "metered"},
            },
            "recurring.meter",
            "is required when usage_type is metered",
        ),
        (
            "create_payment_intent",
            {"amount": 10.5, "currency": "usd"},
            "amount",
            "must be a whole number, got 10.5",
        ),
    ],
)
def test_saving_refuses_literals_stripe_would_refuse(
    connection, action_key, mapping, field, message
):
    report = check(connection, "customer.created", action_key, mapping)
    assert report.errors == [{"field": field, "message": message}]


@pytest.mark.parametrize(
    ("action_key", "mapping"),
    [
        ("update_customer", {"id": "cus_1", "metadata": ""}),
        ("create_customer", {"metadata": {"amount": 1099, "vip": True}}),
        ("find_customer", {"id": {"id": "cus_1", "object": "customer"}}),
        # The companion is only known at run time: left to the run.
        ("create_coupon", {"amount_off": 500, "currency": "{{ trigger.data.object.currency }}"}),
    ],
)
def test_saving_accepts_what_stripe_accepts_after_conversion(connection, action_key, mapping):
    report = check(connection, "invoice.paid", action_key, mapping)
    assert report.errors == [] and report.warnings == []


def test_saving_warns_when_a_sample_value_has_a_type_the_field_cannot_take(connection):
    mapping = {
        "email": "{{ trigger.data.object.lines }}",
        "name": "{{ trigger.data.object.total }}",
    }
    report = check(connection, "invoice.paid", "create_customer", mapping)
    assert report.errors == []
    assert [warning["field"] for warning in report.warnings] == ["email"]
    assert "trigger.data.object.lines" in report.warnings[0]["message"]
    assert "must be of type string, got dict" in report.warnings[0]["message"]


def test_saving_does_not_warn_about_references_the_conversions_fix(connection):
    mapping = {
        "customer": "{{ trigger.data.object.customer }}",
        "amount": "{{ trigger.data.object.total }}",
        "currency": "{{ trigger.data.object.currency }}",
        "metadata": {"paid": "{{ trigger.data.object.attempted }}"},
    }
    report = check(connection, "invoice.paid", "create_invoice_item", mapping)
    assert report.errors == [] and report.warnings == []
