"""For each: a step repeated for every item of a list, one Stripe call per item.

Item i is sent with the key ``<step run key>-item-<i>``; the outputs of the items done are
written after each answer, so a retry, a recovered crash or a resume goes on at the first
item not done and never sends an item twice under two keys.
"""

import json
from urllib.parse import parse_qs

import pytest
import responses
from django.conf import settings

from tests.support.factories import inbox_event
from workflows import engine, tasks, tryout
from workflows.models import Run, RunStatus, Step, StepRun, Workflow
from workflows.services import check_steps, resume_run

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

URL = f"{API}/v1/invoiceitems"
LINES = "trigger.data.object.lines.data"
CHARGE_LINE = {
    "customer": "{{ trigger.data.object.customer }}",
    "amount": "{{ item.amount }}",
    "currency": "usd",
    "description": "Line {{ item_index }}: {{ item.description }}",
    "metadata": {"line": "{{ item.id }}"},
}


def form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def keys(stripe) -> list[str]:
    return [call.request.headers["Idempotency-Key"] for call in stripe.calls]


def lines(count: int) -> list[dict]:
    return [
        {"id": f"il_{n}", "amount": 100 * (n + 1), "description": f"Seat {n}"} for n in range(count)
    ]


def invoice_event(count: int, **fields) -> dict:
    return sample_event(
        "invoice.created",
        customer="cus_Each",
        lines={"object": "list", "data": lines(count), "has_more": False},
        **fields,
    )


def each_workflow(connection, *, for_each=LINES, max_items=100, mapping=None, more=()) -> Workflow:
    """An invoice.created workflow whose step "charge" creates an invoice item per line."""
    workflow = make_workflow(
        connection,
        "invoice.created",
        [("charge", "create_invoice_item", mapping or CHARGE_LINE), *more],
    )
    Step.objects.filter(workflow=workflow, name="charge").update(
        for_each=for_each, max_items=max_items
    )
    return workflow


def answer_with_the_line(stripe, status: int = 200):
    """Stripe creates an invoice item named after the line it was sent (metadata[line])."""

    def created(request):
        line = parse_qs(request.body)["metadata[line]"][0]
        return (status, {}, json.dumps({"id": f"ii_{line}", "object": "invoiceitem"}))

    stripe.add_callback(responses.POST, URL, callback=created)


def test_one_call_per_item_each_with_its_own_key_and_the_outputs_in_order(
    connection, deliver, stripe
):
    each_workflow(connection)
    answer_with_the_line(stripe)

    deliver(connection, invoice_event(3))

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run = run.step_runs.get()
    key = step_run.idempotency_key
    assert keys(stripe) == [f"{key}-item-0", f"{key}-item-1", f"{key}-item-2"]
    assert [form(call) for call in stripe.calls] == [
        {
            "customer": "cus_Each",
            "amount": str(100 * (n + 1)),
            "currency": "usd",
            "description": f"Line {n}: Seat {n}",
            "metadata[line]": f"il_{n}",
        }
        for n in range(3)
    ]
    assert step_run.output == [{"id": f"ii_il_{n}", "object": "invoiceitem"} for n in range(3)]
    assert step_run.item_count == 3
    assert step_run.input[1] == {
        "customer": "cus_Each",
        "amount": 200,
        "currency": "usd",
        "description": "Line 1: Seat 1",
        "metadata": {"line": "il_1"},
    }
    assert len(step_run.input) == 3


def test_a_later_step_reads_the_list_of_outputs(connection, deliver, stripe):
    tag = (
        "tag",
        "update_customer",
        {"id": "{{ trigger.data.object.customer }}", "description": "{{ steps.charge[1].id }}"},
    )
    each_workflow(connection, more=[tag])
    answer_with_the_line(stripe)
    stripe.post(f"{API}/v1/customers/cus_Each", json={"id": "cus_Each", "object": "customer"})

    deliver(connection, invoice_event(2))

    assert Run.objects.get().status == RunStatus.SUCCEEDED
    assert form(stripe.calls[2]) == {"description": "ii_il_1"}


def test_an_empty_list_succeeds_with_an_empty_output_and_sends_nothing(connection, deliver, stripe):
    each_workflow(connection)

    deliver(connection, invoice_event(0))

    step_run = Run.objects.get().step_runs.get()
    assert (step_run.status, step_run.output, step_run.item_count) == (
        RunStatus.SUCCEEDED,
        [],
        0,
    )
    assert not stripe.calls


def test_a_list_longer_than_the_maximum_fails_before_any_call(connection, deliver, stripe):
    each_workflow(connection, max_items=2)

    deliver(connection, invoice_event(3))

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    step_run = run.step_runs.get()
    assert step_run.error["param"] == "for_each"
    assert step_run.error["message"] == (
        "for_each: 3 items, more than the step's maximum of 2; nothing was sent."
    )
    assert step_run.item_count == 3
    assert not stripe.calls


def test_a_path_that_is_not_a_list_fails_naming_what_it_is(connection, deliver, stripe):
    each_workflow(connection, for_each="trigger.data.object.lines")

    deliver(connection, invoice_event(2))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["message"] == (
        "for_each: trigger.data.object.lines is an object, not a list."
    )
    assert not stripe.calls


def test_a_bad_item_fails_the_step_before_any_call_naming_the_item(connection, deliver, stripe):
    each_workflow(connection)
    event = invoice_event(3)
    del event["data"]["object"]["lines"]["data"][2]["amount"]

    deliver(connection, event)

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["item"] == 2
    assert step_run.error["message"] == (
        "Item 3 of 3: amount: {{ item.amount }} does not exist in the data"
    )
    assert not stripe.calls


def test_the_items_inputs_together_are_bounded_like_one_input(connection, deliver, stripe):
    mapping = {**CHARGE_LINE, "description": "{{ 'x' * 400000 }}"}
    each_workflow(connection, mapping=mapping)

    deliver(connection, invoice_event(3))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["param"] == "for_each"
    assert step_run.error["message"].startswith("for_each: the inputs of the 3 items together: ")
    assert step_run.error["message"].endswith("at most 1,000,000. Nothing was sent.")
    assert step_run.input is None
    assert not stripe.calls


def test_item_outside_a_for_each_step_is_not_in_the_data_at_run_time(connection, deliver, stripe):
    make_workflow(connection, "invoice.created", [("charge", "create_invoice_item", CHARGE_LINE)])

    deliver(connection, invoice_event(1))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert "{{ item.amount }} does not exist in the data" in step_run.error["message"]
    assert not stripe.calls


def test_a_permanent_failure_at_an_item_keeps_the_items_done(connection, deliver, stripe):
    each_workflow(connection)
    stripe.post(URL, json={"id": "ii_0", "object": "invoiceitem"})
    stripe.post(
        URL,
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "No such customer"}},
    )

    deliver(connection, invoice_event(3))

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    step_run = run.step_runs.get()
    assert step_run.output == [{"id": "ii_0", "object": "invoiceitem"}]
    assert step_run.error["item"] == 1
    assert step_run.error["message"] == "Item 2 of 3: No such customer"
    assert step_run.error["http_status"] == 400
    assert "charge: Item 2 of 3: No such customer" in run.error
    assert len(stripe.calls) == 2  # item 3 was never sent


def test_resume_continues_from_the_failed_item_with_new_keys_and_keeps_earlier_outputs(
    connection, deliver, stripe, on_commit
):
    workflow = each_workflow(connection)
    stripe.post(URL, json={"id": "ii_first", "object": "invoiceitem"})
    stripe.post(
        URL,
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Bad currency"}},
    )
    deliver(connection, invoice_event(3))
    run = Run.objects.get()
    old_key = run.step_runs.get().idempotency_key
    assert run.status == RunStatus.FAILED

    # The mapping is fixed; the items not done are rendered again with it.
    Step.objects.filter(workflow=workflow, name="charge").update(
        input_mapping={**CHARGE_LINE, "currency": "eur"}
    )
    answer_with_the_line(stripe)
    with on_commit():
        resume_run(run)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run = run.step_runs.get()
    new_key = step_run.idempotency_key
    assert new_key != old_key
    assert keys(stripe) == [
        f"{old_key}-item-0",
        f"{old_key}-item-1",
        f"{new_key}-item-1",
        f"{new_key}-item-2",
    ]
    assert [form(call)["currency"] for call in stripe.calls[2:]] == ["eur", "eur"]
    assert step_run.output == [
        {"id": "ii_first", "object": "invoiceitem"},
        {"id": "ii_il_1", "object": "invoiceitem"},
        {"id": "ii_il_2", "object": "invoiceitem"},
    ]
    assert [item["currency"] for item in step_run.input] == ["usd", "eur", "eur"]


def test_resume_starts_afresh_when_the_for_each_path_changed(
    connection, deliver, stripe, on_commit
):
    workflow = each_workflow(connection)
    stripe.post(URL, json={"id": "ii_first", "object": "invoiceitem"})
    stripe.post(
        URL,
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Bad"}},
    )
    deliver(connection, invoice_event(2))
    run = Run.objects.get()

    Step.objects.filter(workflow=workflow, name="charge").update(
        for_each="trigger.data.object.discounts"
    )
    with on_commit():
        resume_run(run)

    step_run = run.step_runs.get()
    assert step_run.status == RunStatus.SUCCEEDED, step_run.error
    assert (step_run.output, step_run.item_count) == ([], 0)
    assert len(stripe.calls) == 2


def test_a_retryable_error_retries_from_that_item_with_the_same_key(
    connection, deliver, stripe, clock
):
    each_workflow(connection)
    stripe.post(URL, json={"id": "ii_0", "object": "invoiceitem"})
    stripe.post(URL, status=500, json={"error": {"type": "api_error", "message": "Boom"}})

    deliver(connection, invoice_event(3))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.RETRYING
    assert step_run.output == [{"id": "ii_0", "object": "invoiceitem"}]
    assert (step_run.error["item"], step_run.error["message"]) == (1, "Item 2 of 3: Boom")

    answer_with_the_line(stripe)
    clock.now = step_run.next_attempt_at
    tasks.sweep()

    step_run.refresh_from_db()
    # Attempts count per item: item 2, the last, went through at its first attempt.
    assert (step_run.status, step_run.attempts) == (RunStatus.SUCCEEDED, 1)
    key = step_run.idempotency_key
    assert keys(stripe) == [f"{key}-item-0", f"{key}-item-1", f"{key}-item-1", f"{key}-item-2"]
    assert [out["id"] for out in step_run.output] == ["ii_0", "ii_il_1", "ii_il_2"]


class WorkerDied(BaseException):
    """The worker's process ends: nothing after this runs, nothing catches it."""


def item_keys(step_run: StepRun, indexes) -> list[str]:
    return [f"{step_run.idempotency_key}-item-{index}" for index in indexes]


def fail_each_item_once(stripe, clock=None, advance: dict | None = None) -> list[str]:
    """Stripe answers each line's first call with a 503 and its second with the item; with
    ``advance``, the clock moves on that much during item 0's call. Returns the lines sent."""
    sent: list[str] = []

    def answer(request):
        line = parse_qs(request.body)["metadata[line]"][0]
        if advance and line == "il_0":
            clock.advance(**advance)
        first = line not in sent
        sent.append(line)
        if first and not (advance and line == "il_0"):
            return (503, {}, json.dumps({"error": {"type": "api_error", "message": "Blip"}}))
        return (200, {}, json.dumps({"id": f"ii_{line}", "object": "invoiceitem"}))

    stripe.add_callback(responses.POST, URL, callback=answer)
    return sent


def sweep_until_settled(step_run, clock) -> list[float]:
    """Wake the step's retries until it is no longer retrying; the backoffs, in seconds."""
    backoffs = []
    for _ in range(100):
        step_run.refresh_from_db()
        if step_run.status != RunStatus.RETRYING:
            break
        backoffs.append((step_run.next_attempt_at - clock.now).total_seconds())
        clock.now = step_run.next_attempt_at
        tasks.sweep()
    return backoffs


def test_one_off_errors_on_different_items_do_not_add_up_retries_count_per_item(
    connection, deliver, stripe, clock
):
    each_workflow(connection)
    sent = fail_each_item_once(stripe)

    deliver(connection, invoice_event(12))

    step_run = Run.objects.get().step_runs.get()
    backoffs = sweep_until_settled(step_run, clock)
    assert step_run.status == RunStatus.SUCCEEDED, step_run.error
    assert (step_run.attempts, step_run.error) == (2, None)  # the last item's attempts
    assert [out["id"] for out in step_run.output] == [f"ii_il_{n}" for n in range(12)]
    assert sent == [f"il_{n}" for n in range(12) for _ in (1, 2)]
    assert keys(stripe) == item_keys(step_run, [n for n in range(12) for _ in (1, 2)])
    # Each item's retry waits the first backoff (base 2 s, with jitter), not a longer one.
    assert len(backoffs) == 12
    assert all(1 <= seconds <= settings.WORKFLOW_RETRY_BASE_SECONDS for seconds in backoffs)
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_the_idempotency_window_starts_when_an_item_starts(connection, deliver, stripe, clock):
    each_workflow(connection)
    # Item 0 takes a day (a long list's late item): item 1's key is new when first sent.
    fail_each_item_once(stripe, clock, advance={"hours": 24})

    deliver(connection, invoice_event(3))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.RETRYING, step_run.error
    assert step_run.error["message"] == "Item 2 of 3: Blip"
    clock.now = step_run.next_attempt_at
    tasks.sweep()  # item 1 again, within its key's window; then item 2 fails once

    step_run.refresh_from_db()
    assert step_run.status == RunStatus.RETRYING, step_run.error
    assert step_run.error["message"] == "Item 3 of 3: Blip"
    clock.advance(hours=24)  # the worker was down a day: item 2's key may be forgotten
    tasks.sweep()

    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["type"] == "idempotency_window_passed"
    assert keys(stripe) == item_keys(step_run, [0, 1, 1, 2])


def test_a_worker_dying_after_an_items_call_sends_that_item_again_with_the_same_key_only(
    connection, stripe, clock, monkeypatch
):
    workflow = each_workflow(connection)
    run = engine.create_run(workflow, event=inbox_event(connection, invoice_event(3)))
    answer_with_the_line(stripe)
    record = engine.record_items_done

    def dies_after_the_second_item(step_run, done):
        if len(done) == 2:  # item 1 was sent and answered; its answer is not written
            raise WorkerDied()
        record(step_run, done)

    monkeypatch.setattr(engine, "record_items_done", dies_after_the_second_item)
    with pytest.raises(WorkerDied):
        engine.execute_run(run.pk)
    monkeypatch.setattr(engine, "record_items_done", record)

    step_run = StepRun.objects.get(run=run)
    assert step_run.status == RunStatus.RUNNING
    assert step_run.output == [{"id": "ii_il_0", "object": "invoiceitem"}]
    assert [item["metadata"]["line"] for item in step_run.input] == ["il_0", "il_1", "il_2"]

    clock.advance(seconds=settings.Q_TIMEOUT + 31)
    assert tasks.sweep()["recovered"] == 1

    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED
    key = step_run.idempotency_key
    # Item 0 is not sent again; item 1 is, with the key Stripe already answered: no duplicate.
    assert keys(stripe) == [f"{key}-item-0", f"{key}-item-1", f"{key}-item-1", f"{key}-item-2"]
    assert [out["id"] for out in step_run.output] == ["ii_il_0", "ii_il_1", "ii_il_2"]
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_the_presumed_dead_worker_cannot_record_items_after_recovery(connection, clock):
    workflow = each_workflow(connection)
    run = engine.create_run(workflow, event=inbox_event(connection, invoice_event(2)))
    step_run = run.step_runs.get()
    assert engine.claim(step_run, run)
    stale = StepRun.objects.get(pk=step_run.pk)
    clock.advance(seconds=settings.Q_TIMEOUT + 31)
    engine.recover_stale_claims(clock.now)

    with pytest.raises(engine.ClaimLost):
        engine.record_items_done(stale, [{"id": "ii_ghost"}])
    step_run.refresh_from_db()
    assert step_run.output is None


def test_for_each_over_an_earlier_steps_output(connection, deliver, stripe):
    workflow = make_workflow(
        connection,
        "invoice.created",
        [
            ("search", "search_invoice", {"customer": "{{ trigger.data.object.customer }}"}),
            (
                "charge",
                "create_invoice_item",
                {
                    "customer": "{{ trigger.data.object.customer }}",
                    "invoice": "{{ item.id }}",
                    "amount": 1,
                    "currency": "usd",
                    "metadata": {"line": "{{ item.id }}"},
                },
            ),
        ],
    )
    Step.objects.filter(workflow=workflow, name="charge").update(for_each="steps.search.data")
    stripe.get(
        f"{API}/v1/invoices/search",
        json={
            "object": "search_result",
            "data": [{"id": "in_A", "object": "invoice"}, {"id": "in_B", "object": "invoice"}],
            "has_more": False,
        },
    )
    answer_with_the_line(stripe)

    deliver(connection, invoice_event(1))

    assert Run.objects.get().status == RunStatus.SUCCEEDED
    assert [form(call)["invoice"] for call in stripe.calls[1:]] == ["in_A", "in_B"]


def test_for_each_over_a_skipped_steps_output_fails_clearly(connection, deliver, stripe):
    workflow = make_workflow(
        connection,
        "invoice.created",
        [
            ("search", "search_invoice", {"customer": "{{ trigger.data.object.customer }}"}),
            ("charge", "create_invoice_item", CHARGE_LINE),
        ],
    )
    Step.objects.filter(workflow=workflow, name="search").update(
        condition=[{"path": "trigger.data.object.amount_due", "op": "gt", "value": 10**9}]
    )
    Step.objects.filter(workflow=workflow, name="charge").update(for_each="steps.search.data")

    deliver(connection, invoice_event(1))

    search, charge = Run.objects.get().step_runs.order_by("order")
    assert search.status == RunStatus.SKIPPED
    assert charge.status == RunStatus.FAILED
    assert charge.error["message"] == (
        "for_each: steps.search.data: step search was skipped (Run only if: "
        "trigger.data.object.amount_due gt 1000000000: was 1000), so there is no list to "
        "repeat the step for (give this step the condition steps.search.data exists to skip "
        "it too)."
    )
    assert not stripe.calls


def test_test_a_step_runs_each_item_of_the_samples_list_with_test_keys(connection, stripe):
    workflow = each_workflow(connection)
    sample = invoice_event(2)
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=sample)
    answer_with_the_line(stripe)

    result = tryout.test_step(Step.objects.get(workflow=workflow))

    assert result["ok"] is True, result["error"]
    test_keys = keys(stripe)
    assert test_keys[0].startswith("konnectify-test-") and test_keys[0].endswith("-item-0")
    assert test_keys[1] == test_keys[0][: -len("0")] + "1"
    assert result["output"] == [
        {"id": "ii_il_0", "object": "invoiceitem"},
        {"id": "ii_il_1", "object": "invoiceitem"},
    ]
    assert [item["metadata"]["line"] for item in result["input"]] == ["il_0", "il_1"]
    assert workflow.steps.get().sample_output == result["output"]
    assert not Run.objects.exists()


def test_test_a_step_refuses_a_sample_list_over_the_maximum(connection, stripe):
    workflow = each_workflow(connection, max_items=1)
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=invoice_event(2))

    result = tryout.test_step(Step.objects.get(workflow=workflow))

    assert result["ok"] is False
    assert result["error"]["message"] == (
        "for_each: 2 items, more than the step's maximum of 1; nothing was sent."
    )
    assert not stripe.calls


# -- checks at save ---------------------------------------------------------------------


def check(connection, steps: list[dict], trigger: str = "invoice.created") -> list:
    return check_steps(make_workflow(connection, trigger, []), steps)


def charge(**fields) -> dict:
    return {
        "name": "charge",
        "action_key": "create_invoice_item",
        "input_mapping": CHARGE_LINE,
        **fields,
    }


def test_item_and_item_index_are_allowed_in_a_for_each_step(connection):
    (report,) = check(connection, [charge(for_each=LINES, max_items=50)])
    assert report.errors == []
    assert report.warnings == []


def test_item_outside_a_for_each_step_is_an_error(connection):
    (report,) = check(connection, [charge()])
    fields = sorted({error["field"] for error in report.errors})
    assert fields == ["amount", "description", "metadata.line"]
    assert (
        "{{ item.amount }}: only a for-each step has an item; set the step's for each "
        "(a list to repeat it for), or reference trigger or steps."
    ) in [error["message"] for error in report.errors]


def test_item_paths_are_checked_against_the_samples_first_item(connection):
    mapping = {**CHARGE_LINE, "description": "{{ item.nickname }}"}
    (report,) = check(connection, [charge(for_each=LINES, input_mapping=mapping)])
    assert report.errors == []
    assert report.warnings == [
        {
            "field": "description",
            "message": "{{ item.nickname }} is not in the first item of the sample's list.",
        }
    ]


@pytest.mark.parametrize(
    ("for_each", "message"),
    [
        (
            "data.object.lines.data",
            "data.object.lines.data must start with trigger. (the event) or "
            "steps.<an earlier step>.",
        ),
        (
            "{{ trigger.data.object.lines.data }}",
            "'{{ trigger.data.object.lines.data }}': a plain dotted path, without {{ }} or "
            "spaces (like trigger.data.object.lines.data).",
        ),
        (
            "steps.later.data",
            "steps.later.data: 'later' is not an earlier step (only the steps before this "
            "one have an output).",
        ),
        (
            "trigger..lines",
            "trigger..lines: a dotted path without empty parts (like trigger.data.object.id).",
        ),
    ],
)
def test_a_for_each_path_must_be_a_plain_path_rooted_at_the_run_data(connection, for_each, message):
    (report,) = check(connection, [charge(for_each=for_each)])
    assert {"field": "for_each", "message": message} in report.errors
    # The mapping is still checked as a for-each step's: item is no error then.
    assert [error["field"] for error in report.errors] == ["for_each"]


@pytest.mark.parametrize(
    ("max_items", "message"),
    [
        (0, "From 1 to 1000 items (it is 0)."),
        (1001, "From 1 to 1000 items (it is 1001)."),
        ("5", "A whole number from 1 to 1000."),
    ],
)
def test_max_items_is_bounded(connection, max_items, message):
    (report,) = check(connection, [charge(for_each=LINES, max_items=max_items)])
    assert report.errors == [{"field": "max_items", "message": message}]


def test_a_for_each_path_that_is_not_a_list_in_the_sample_is_a_warning(connection):
    (report,) = check(connection, [charge(for_each="trigger.data.object.lines")])
    assert report.errors == []
    assert {
        "field": "for_each",
        "message": "trigger.data.object.lines is an object in the sample event, not a list.",
    } in report.warnings
