"""Stripe unreachable for a while: the step retries with backoff and succeeds when it returns."""

import pytest

from tests.e2e.stack import finished_run, make_workflow, unique, wait_for
from workflows.models import RunStatus, StepRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_step_retries_while_stripe_is_down_and_succeeds_after(stack, stripe_connection):
    workflow = make_workflow(
        stripe_connection,
        "customer.created",
        ("tag", "update_customer", {"id": "{{ trigger.data.object.id }}",
                                    "metadata": {"survived": "outage"}}),
    )  # fmt: skip
    customer = stack.localstripe.api(
        "POST", "/v1/customers", {"email": f"{unique('outage')}@example.com"}
    )
    path = f"/v1/customers/{customer['id']}"
    # Hold the step's call in localstripe, then take localstripe down under it.
    stack.localstripe.delay(path, 30)
    wait_for(lambda: stack.localstripe.posts_seen(path))
    stack.localstripe.service.kill()

    # Attempts fail (connection reset, then refused) and are retried with backoff.
    step_run = wait_for(
        lambda: StepRun.objects.filter(run__workflow=workflow, attempts__gte=3).first(),
        timeout=60,
        sweep=True,
    )
    assert step_run.status in (RunStatus.RETRYING, RunStatus.RUNNING)
    assert step_run.error["type"] == "api_connection_error"
    stack.localstripe.service.start()  # same port, same objects (its state file)

    run = finished_run(workflow, timeout=60, sweep=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run.refresh_from_db()
    assert step_run.attempts >= 4
    in_stripe = stack.localstripe.api("GET", path)
    assert in_stripe["metadata"] == {"survived": "outage"}
    calls = stack.localstripe.posts_seen(path)  # the restarted stand-in's journal
    assert [c["idempotency_key"] for c in calls] == [step_run.idempotency_key]
