"""Run only if: a step's condition decides at run time whether it runs or is skipped.

Conditions are rules over {"trigger": event, "steps": outputs} (the filters' operators),
all or any of them; a skipped step records why, the run goes on, and a later reference
to the skipped step's output fails naming it unless it gives a default.
"""

from urllib.parse import parse_qs

import pytest

from tests.support.factories import inbox_event
from workflows import engine, tryout
from workflows.models import Run, RunStatus, Step, Workflow
from workflows.services import cancel_run, check_steps, resume_run

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

FIND = ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})
ITEM = (
    "item",
    "create_invoice_item",
    {"customer": "{{ trigger.data.object.id }}", "amount": 500, "currency": "usd"},
)

# A positive balance is what the customer owes (Stripe's customer.balance).
BALANCE_ABOVE_ZERO = {"path": "trigger.data.object.balance", "op": "gt", "value": 0}
FIND_IF_IN_DEBT = {"find": ([BALANCE_ABOVE_ZERO], "all")}


def form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def with_conditions(connection, steps, conditions: dict) -> Workflow:
    """A customer.created workflow whose steps get {name: (condition, match)}."""
    workflow = make_workflow(connection, "customer.created", steps)
    for name, (condition, match) in conditions.items():
        Step.objects.filter(workflow=workflow, name=name).update(
            condition=condition, condition_match=match
        )
    return workflow


def customer(cid: str, **fields) -> dict:
    return {"id": cid, "object": "customer", **fields}


def test_a_step_whose_condition_holds_runs(connection, deliver, stripe):
    with_conditions(
        connection,
        [FIND],
        FIND_IF_IN_DEBT,
    )
    stripe.get(f"{API}/v1/customers/cus_Rich", json=customer("cus_Rich"))

    deliver(connection, sample_event("customer.created", id="cus_Rich", balance=700))

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run = run.step_runs.get()
    assert (step_run.status, step_run.skip_reason) == (RunStatus.SUCCEEDED, "")
    assert step_run.condition == [{"path": "trigger.data.object.balance", "op": "gt", "value": 0}]
    assert len(stripe.calls) == 1


def test_a_step_whose_condition_fails_is_skipped_with_its_reason_and_the_run_goes_on(
    connection, deliver, stripe
):
    with_conditions(
        connection,
        [FIND, ITEM],
        FIND_IF_IN_DEBT,
    )
    stripe.post(f"{API}/v1/invoiceitems", json={"id": "ii_1", "object": "invoiceitem"})

    deliver(connection, sample_event("customer.created", id="cus_Poor", balance=0))

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    find, item = run.step_runs.order_by("order")
    assert find.status == RunStatus.SKIPPED
    assert find.skip_reason == "Run only if: trigger.data.object.balance gt 0: was 0."
    assert find.finished_at is not None and find.attempts == 0 and find.input is None
    assert item.status == RunStatus.SUCCEEDED
    # Only the invoice item was sent: the skipped step made no request.
    assert [call.request.url for call in stripe.calls] == [f"{API}/v1/invoiceitems"]


def test_all_rules_must_hold_the_first_that_does_not_is_named(connection, deliver, stripe):
    rules = [
        BALANCE_ABOVE_ZERO,
        {"path": "trigger.data.object.email", "op": "contains", "value": "@vip."},
    ]
    with_conditions(connection, [FIND], {"find": (rules, "all")})

    deliver(
        connection,
        sample_event("customer.created", id="cus_A", balance=5, email="ann@example.com"),
    )

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.SKIPPED
    assert step_run.skip_reason == (
        'Run only if: trigger.data.object.email contains "@vip.": was "ann@example.com".'
    )
    assert not stripe.calls


def test_any_rule_holding_is_enough(connection, deliver, stripe):
    rules = [
        BALANCE_ABOVE_ZERO,
        {"path": "trigger.data.object.email", "op": "contains", "value": "@vip."},
    ]
    with_conditions(connection, [FIND], {"find": (rules, "any")})
    stripe.get(f"{API}/v1/customers/cus_Vip", json=customer("cus_Vip"))

    deliver(
        connection,
        sample_event("customer.created", id="cus_Vip", balance=0, email="bo@vip.example"),
    )

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.SUCCEEDED
    assert step_run.condition_match == "any"


def test_with_any_and_no_rule_holding_the_reason_names_every_rule(connection, deliver, stripe):
    rules = [
        BALANCE_ABOVE_ZERO,
        {"path": "trigger.data.object.metadata.plan", "op": "exists"},
    ]
    with_conditions(connection, [FIND], {"find": (rules, "any")})

    deliver(connection, sample_event("customer.created", id="cus_N", balance=0, metadata={}))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.SKIPPED
    assert step_run.skip_reason == (
        "Run only if: none of the rules held: trigger.data.object.balance gt 0: was 0; "
        "trigger.data.object.metadata.plan exists: was missing."
    )
    assert not stripe.calls


def test_a_condition_reads_an_earlier_steps_output(connection, deliver, stripe):
    tag = ("tag", "update_customer", {"id": "{{ steps.find.id }}", "description": "VIP"})
    with_conditions(
        connection,
        [FIND, tag],
        {"tag": ([{"path": "steps.find.email", "op": "contains", "value": "@vip."}], "all")},
    )
    stripe.get(f"{API}/v1/customers/cus_E", json=customer("cus_E", email="someone@example.com"))

    deliver(connection, sample_event("customer.created", id="cus_E"))

    find, tag_run = Run.objects.get().step_runs.order_by("order")
    assert find.status == RunStatus.SUCCEEDED
    assert tag_run.status == RunStatus.SKIPPED
    assert tag_run.skip_reason == (
        'Run only if: steps.find.email contains "@vip.": was "someone@example.com".'
    )


def test_a_later_reference_to_a_skipped_step_fails_naming_it_and_its_reason(
    connection, deliver, stripe
):
    item = (
        "item",
        "create_invoice_item",
        {"customer": "{{ steps.find.id }}", "amount": 500, "currency": "usd"},
    )
    with_conditions(
        connection,
        [FIND, item],
        FIND_IF_IN_DEBT,
    )

    deliver(connection, sample_event("customer.created", id="cus_S", balance=0))

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    find, item_run = run.step_runs.order_by("order")
    assert find.status == RunStatus.SKIPPED
    assert item_run.status == RunStatus.FAILED
    assert item_run.error["type"] == "mapping_error"
    assert item_run.error["param"] == "customer"
    assert item_run.error["message"] == (
        "customer: {{ steps.find.id }}: step find was skipped (Run only if: "
        "trigger.data.object.balance gt 0: was 0): its output does not exist; give a "
        'default: {{ steps.find.id | default("...") }}'
    )
    assert not stripe.calls


def test_a_reference_to_a_skipped_step_inside_text_fails_the_same_way(connection, deliver, stripe):
    item = (
        "item",
        "create_invoice_item",
        {
            "customer": "{{ trigger.data.object.id }}",
            "description": "For {{ steps.find.email }}",
            "amount": 500,
            "currency": "usd",
        },
    )
    with_conditions(
        connection,
        [FIND, item],
        FIND_IF_IN_DEBT,
    )

    deliver(connection, sample_event("customer.created", id="cus_T", balance=0))

    item_run = Run.objects.get().step_runs.get(step_name="item")
    assert item_run.status == RunStatus.FAILED
    assert "{{ steps.find.email }}: step find was skipped" in item_run.error["message"]
    assert item_run.error["reference"] == "steps.find.email"


@pytest.mark.parametrize(
    ("description", "shown"),
    [
        ("{{ steps | tojson }}", "{{ steps | tojson }}"),
        ("{{ steps }}", "{{ steps }}"),
        ("All: {{ steps }}", "All: {{ steps }}"),
        ("{{ steps | dictsort | list }}", "{{ steps | dictsort | list }}"),
    ],
)
def test_writing_all_the_steps_outputs_names_the_skipped_step(
    connection, deliver, stripe, description, shown
):
    item = (
        "item",
        "update_customer",
        {"id": "{{ trigger.data.object.id }}", "description": description},
    )
    with_conditions(
        connection,
        [FIND, item],
        FIND_IF_IN_DEBT,
    )

    deliver(connection, sample_event("customer.created", id="cus_J", balance=0))

    item_run = Run.objects.get().step_runs.get(step_name="item")
    assert item_run.status == RunStatus.FAILED
    assert (item_run.error["type"], item_run.error["param"]) == ("mapping_error", "description")
    assert item_run.error["message"] == (
        f"description: {shown} uses the output of step find, which was skipped (Run only "
        "if: trigger.data.object.balance gt 0: was 0): it has no output to write; refer to "
        'the steps that ran, or give a default: {{ steps.find | default("...") }}'
    )
    assert item_run.error["reference"] == "steps.find"
    assert not stripe.calls


def test_a_default_stands_in_for_a_skipped_steps_output(connection, deliver, stripe):
    item = (
        "item",
        "create_invoice_item",
        {
            "customer": "{{ steps.find.id | default(trigger.data.object.id) }}",
            "description": "For {{ steps.find.email | default('nobody') }}",
            "amount": 500,
            "currency": "usd",
        },
    )
    with_conditions(
        connection,
        [FIND, item],
        FIND_IF_IN_DEBT,
    )
    stripe.post(f"{API}/v1/invoiceitems", json={"id": "ii_D", "object": "invoiceitem"})

    deliver(connection, sample_event("customer.created", id="cus_D", balance=0))

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert form(stripe.calls[0]) == {
        "customer": "cus_D",
        "description": "For nobody",
        "amount": "500",
        "currency": "usd",
    }


def test_in_a_condition_a_skipped_steps_output_is_absent(connection, deliver, stripe):
    tag = ("tag", "update_customer", {"id": "{{ trigger.data.object.id }}", "description": "x"})
    rules_find = [BALANCE_ABOVE_ZERO]
    with_conditions(
        connection,
        [FIND, tag],
        {
            "find": (rules_find, "all"),
            "tag": ([{"path": "steps.find", "op": "not_exists"}], "all"),
        },
    )
    stripe.post(f"{API}/v1/customers/cus_Abs", json=customer("cus_Abs"))

    deliver(connection, sample_event("customer.created", id="cus_Abs", balance=0))

    find, tag_run = Run.objects.get().step_runs.order_by("order")
    assert find.status == RunStatus.SKIPPED
    assert tag_run.status == RunStatus.SUCCEEDED


def test_a_condition_stored_malformed_fails_the_step_rather_than_skipping_it(
    connection, deliver, stripe
):
    with_conditions(connection, [FIND], {"find": ([{"path": "trigger.id", "op": "like"}], "all")})

    deliver(connection, sample_event("customer.created", id="cus_M"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["param"] == "condition"
    assert step_run.error["message"].startswith("condition: Rule 1: 'op' must be one of")
    assert not stripe.calls


def test_a_step_is_not_skipped_once_its_run_was_canceled(connection, clock):
    workflow = with_conditions(
        connection,
        [FIND],
        FIND_IF_IN_DEBT,
    )
    event = inbox_event(connection, sample_event("customer.created", balance=0))
    run = engine.create_run(workflow, event=event, enqueue=False)
    step_run = run.step_runs.get()
    cancel_run(run)

    assert engine.skip(step_run, run, "Run only if: ...") is False
    step_run.refresh_from_db()
    assert (step_run.status, step_run.skip_reason) == (RunStatus.CANCELED, "")


def test_resuming_evaluates_a_skipped_steps_current_condition_again(
    connection, deliver, stripe, on_commit
):
    bad_item = (
        "item",
        "create_invoice_item",
        {"customer": "{{ steps.find.id }}", "amount": 500, "currency": "usd"},
    )
    workflow = with_conditions(
        connection,
        [FIND, bad_item],
        FIND_IF_IN_DEBT,
    )
    deliver(connection, sample_event("customer.created", id="cus_Re", balance=0))
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED

    Step.objects.filter(workflow=workflow, name="find").update(condition=[])
    stripe.get(f"{API}/v1/customers/cus_Re", json=customer("cus_Re"))
    stripe.post(f"{API}/v1/invoiceitems", json={"id": "ii_Re", "object": "invoiceitem"})
    with on_commit():
        resume_run(run)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    find = run.step_runs.get(step_name="find")
    assert (find.status, find.skip_reason, find.condition) == (RunStatus.SUCCEEDED, "", [])
    assert form(stripe.calls[1])["customer"] == "cus_Re"


def test_test_a_step_reports_a_condition_not_met_and_sends_nothing(connection, stripe):
    workflow = with_conditions(
        connection,
        [FIND],
        {"find": ([{"path": "trigger.data.object.balance", "op": "gt", "value": 10**9}], "all")},
    )
    balance = workflow.sample()["data"]["object"]["balance"]

    result = tryout.test_step(workflow.steps.get())

    assert result["ok"] is False
    reason = f"Run only if: trigger.data.object.balance gt 1000000000: was {balance!r}."
    assert result["skipped"] == reason
    assert result["error"] == {
        "type": "condition_not_met",
        "message": f"Skipped: {reason} Nothing was sent.",
    }
    assert not stripe.calls
    assert workflow.steps.get().sample_output_at is None


def test_test_a_step_asks_for_the_steps_its_condition_reads_to_be_tested_first(connection):
    workflow = with_conditions(
        connection,
        [FIND, ITEM],
        {"item": ([{"path": "steps.find.email", "op": "exists"}], "all")},
    )

    result = tryout.test_step(workflow.steps.get(name="item"))

    assert result["ok"] is False
    assert result["error"]["type"] == "untested_step"
    assert result["error"]["steps"] == ["find"]


# -- checks at save ---------------------------------------------------------------------


def check(connection, steps: list[dict]) -> list:
    workflow = make_workflow(connection, "customer.created", [])
    return check_steps(workflow, steps)


def step(name: str, **fields) -> dict:
    base = {"name": name, "action_key": "find_customer", "input_mapping": {"id": "cus_1"}}
    return {**base, **fields}


def test_a_valid_condition_passes_the_save_checks(connection):
    reports = check(
        connection,
        [
            step("find"),
            step(
                "again",
                condition=[
                    {"path": "trigger.data.object.id", "op": "exists"},
                    {"path": "steps.find", "op": "exists"},
                    {"path": "steps.find.email", "op": "contains", "value": "@"},
                ],
                condition_match="any",
            ),
        ],
    )
    assert [report.errors for report in reports] == [[], []]


def test_a_condition_path_must_start_at_trigger_or_an_earlier_step(connection):
    (report,) = check(
        connection,
        [step("find", condition=[{"path": "data.object.status", "op": "equals", "value": "x"}])],
    )
    assert report.errors == [
        {
            "field": "condition",
            "message": "Rule 1: data.object.status must start with trigger. (the event) or "
            "steps.<an earlier step>.",
        }
    ]


def test_a_condition_may_not_read_a_later_step_or_itself(connection):
    reports = check(
        connection,
        [
            step("first", condition=[{"path": "steps.second.id", "op": "exists"}]),
            step("second", condition=[{"path": "steps.second", "op": "exists"}]),
        ],
    )
    assert [e["field"] for r in reports for e in r.errors] == ["condition", "condition"]
    assert reports[0].errors[0]["message"] == (
        "Rule 1: steps.second.id: 'second' is not an earlier step (only the steps before "
        "this one have an output)."
    )
    assert reports[1].errors[0]["message"].startswith("Rule 1: steps.second: 'second' is not")


def test_a_conditions_rules_have_the_filters_shape_and_match_is_all_or_any(connection):
    (report,) = check(
        connection,
        [
            step(
                "find",
                condition=[{"path": "trigger.id", "op": "like", "value": 1}, "trigger.id"],
                condition_match="most",
            )
        ],
    )
    assert report.errors == [
        {
            "field": "condition",
            "message": "Rule 1: 'op' must be one of equals, not_equals, in, not_in, exists, "
            "not_exists, is_null, is_not_null, contains, gt, gte, lt, lte.",
        },
        {"field": "condition", "message": "Rule 2: must be an object with 'path', 'op', 'value'."},
        {
            "field": "condition_match",
            "message": "'match' must be all (every rule holds) or any (one rule holds).",
        },
    ]


def test_a_condition_on_a_trigger_path_the_sample_lacks_is_a_warning(connection):
    (report,) = check(
        connection, [step("find", condition=[{"path": "trigger.data.object.nope", "op": "exists"}])]
    )
    assert report.errors == []
    assert report.warnings == [
        {
            "field": "condition",
            "message": "Rule 1: trigger.data.object.nope is not in the sample event.",
        }
    ]
