"""Replay: resume a failed run from its failed step, or re-run from the start as a new run."""

import pytest
from django.urls import reverse

from workflows.models import Run, RunStatus, Step
from workflows.services import ReplayError, rerun, resume_run

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

NOT_FOUND = {
    "error": {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": "No such invoice",
    }
}


@pytest.fixture
def failed_run(connection, deliver, stripe) -> Run:
    """find_customer succeeds, create_invoice_item fails with a 400."""
    make_workflow(
        connection,
        "customer.created",
        [
            ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
            (
                "item",
                "create_invoice_item",
                {
                    "customer": "{{ steps.find.id }}",
                    "invoice": "in_wrong",
                    "amount": 5,
                    "currency": "usd",
                },
            ),
        ],
    )
    stripe.get(f"{API}/v1/customers/cus_R", json={"id": "cus_R", "object": "customer"})
    stripe.post(f"{API}/v1/invoiceitems", status=400, json=NOT_FOUND)
    deliver(connection, sample_event("customer.created", id="cus_R"))
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.step_runs.get(step_name="item").error["http_status"] == 400
    return run


def test_resume_retries_only_the_failed_step_with_the_fixed_mapping_and_a_new_key(
    failed_run, stripe, on_commit
):
    failed = failed_run.step_runs.get(step_name="item")
    old_key = failed.idempotency_key
    Step.objects.filter(name="item").update(
        input_mapping={"customer": "{{ steps.find.id }}", "amount": 5, "currency": "usd"}
    )
    stripe.replace("POST", f"{API}/v1/invoiceitems", json={"id": "ii_ok", "object": "invoiceitem"})

    with on_commit():
        resume_run(failed_run)

    failed_run.refresh_from_db()
    assert failed_run.status == RunStatus.SUCCEEDED
    assert Run.objects.count() == 1
    failed.refresh_from_db()
    assert failed.idempotency_key != old_key
    assert stripe.calls[-1].request.headers["Idempotency-Key"] == failed.idempotency_key
    assert failed.input == {"customer": "cus_R", "amount": 5, "currency": "usd"}
    # The succeeded step was not called again: one GET in all.
    assert [c.request.method for c in stripe.calls] == ["GET", "POST", "POST"]


def test_rerun_starts_a_new_run_with_the_next_replay_number_and_new_keys(
    failed_run, stripe, on_commit
):
    old_keys = set(failed_run.step_runs.values_list("idempotency_key", flat=True))

    with on_commit():
        new = rerun(failed_run)

    assert (new.replay, new.event_id) == (1, failed_run.event_id)
    new.refresh_from_db()
    assert new.status == RunStatus.FAILED
    assert old_keys.isdisjoint(new.step_runs.values_list("idempotency_key", flat=True))
    # Re-running the original again answers its re-run; the re-run is re-run in turn.
    assert rerun(failed_run).pk == new.pk
    with on_commit():
        assert rerun(new).replay == 2


def test_only_failed_runs_resume(failed_run, on_commit):
    Run.objects.filter(pk=failed_run.pk).update(status=RunStatus.SUCCEEDED)
    failed_run.refresh_from_db()
    with pytest.raises(ReplayError):
        resume_run(failed_run)


def test_admin_asks_for_confirmation_before_replaying(
    failed_run, staff_client, stripe, django_capture_on_commit_callbacks
):
    url = reverse("admin:workflows_run_changelist")
    form = {"action": "rerun_selected", "_selected_action": [failed_run.pk]}
    page = staff_client.post(url, form)
    assert page.status_code == 200
    assert b"Re-run from the start?" in page.content
    assert Run.objects.count() == 1

    stripe.replace("POST", f"{API}/v1/invoiceitems", json={"id": "ii_ok", "object": "invoiceitem"})
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(url, {**form, "confirm": "yes"})
    assert done.status_code == 302
    assert Run.objects.get(replay=1).status == RunStatus.SUCCEEDED
