"""A connection stored with an API base the environment no longer allows: the step fails
for good with a clear error, and its key is sent nowhere."""

import pytest

from connections.models import Connection
from tests.listener import recording_server
from workflows.models import Run, RunStatus

from .conftest import make_workflow, sample_event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("suffix", "message"),
    [("", "is not one the environment allows"), ("/healthz#", "must be an origin only")],
)
def test_a_step_on_a_base_no_longer_allowed_fails_once_and_sends_nothing(
    connection, deliver, stripe, suffix, message
):
    with recording_server({"id": "cus_1", "object": "customer"}) as listener:
        Connection.objects.filter(pk=connection.pk).update(api_base=listener.url + suffix)
        connection.refresh_from_db()
        make_workflow(
            connection, "customer.created", [("create", "create_customer", {"name": "A"})]
        )

        deliver(connection, sample_event("customer.created"))

    run = Run.objects.get()
    step_run = run.step_runs.get()
    assert run.status == RunStatus.FAILED
    assert (step_run.status, step_run.attempts) == (RunStatus.FAILED, 1)
    assert step_run.error["type"] == "api_base_not_allowed"
    assert step_run.error["retryable"] is False
    assert message in run.error
    assert listener.requests == [] and len(stripe.calls) == 0
