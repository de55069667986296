"""kill -9 of the worker during a Stripe call: after a restart the step completes, once."""

import time

import pytest

from tests.e2e.stack import finished_run, make_workflow, unique, wait_for
from workflows.models import RunStatus, StepRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_step_is_recovered_with_the_same_key_and_creates_one_object(stack, stripe_connection):
    name = unique("Welcome kit")
    workflow = make_workflow(
        stripe_connection,
        "customer.created",
        ("create_kit", "create_product", {"name": name,
                                          "metadata": {"for": "{{ trigger.data.object.id }}"}}),
    )  # fmt: skip
    # The step's POST /v1/products hangs in localstripe long enough to kill the worker.
    stack.localstripe.delay("/v1/products", 5)
    stack.localstripe.api("POST", "/v1/customers", {"email": f"{unique('kit')}@example.com"})
    step_run = wait_for(
        lambda: StepRun.objects.filter(run__workflow=workflow, status=RunStatus.RUNNING).first()
    )
    wait_for(lambda: stack.localstripe.posts_seen("/v1/products"))

    stack.worker.kill()  # SIGKILL to the cluster and its worker processes, mid-request
    killed_at = time.time()
    stack.localstripe.delay("/v1/products", 0)
    stack.worker.start()

    # The sweeper hands the step back once its claim's lease (Q_TIMEOUT + 30 s) is over.
    run = finished_run(workflow, timeout=90, sweep=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run.refresh_from_db()
    assert step_run.attempts == 2
    calls = stack.localstripe.posts_seen("/v1/products")
    assert [c["idempotency_key"] for c in calls] == [step_run.idempotency_key] * 2
    products = stack.localstripe.api("GET", "/v1/products", {"limit": 100})["data"]
    ours = [p for p in products if p["name"] == name]
    assert [p["id"] for p in ours] == [step_run.output["id"]]
    # Made by the killed attempt (its request completed in localstripe); the retry,
    # half a minute later, got Stripe's stored answer for the same key.
    assert ours[0]["created"] <= killed_at + 6
