"""The demo's staging (connection, templates, events) gives runs that succeed."""

import pytest

from konnectify.management.commands import demo
from tests.e2e.stack import queue_is_empty, wait_for
from workflows.models import Run, RunStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def standin(stack):
    stripe = demo.LocalStripeApi(stack.localstripe.url)
    yield stripe
    stack.localstripe.forget_webhook(demo.WEBHOOK_NAME)


def test_the_demo_events_run_the_active_templates_and_the_tag_workflow(standin):
    connection = demo.prepare_connection(standin)
    workflows = demo.prepare_workflows(connection)

    customers = demo.fire_events(standin)

    assert {w.name for w in workflows if w.active} == {
        "Customer Updated -> Find Customer",
        demo.TAG_WORKFLOW,
    }
    assert len(workflows) == len(demo.AUTOMATIONS) + 1
    # Two tag runs, their two updates' Find Customer runs, and one for fire_events' update.
    wait_for(lambda: Run.objects.filter(status__in=Run.FINAL).count() == 5)
    wait_for(queue_is_empty)
    assert [run.status for run in Run.objects.all()] == [RunStatus.SUCCEEDED] * 5
    tagged = standin.call("GET", f"/v1/customers/{customers[1]}")
    assert tagged["metadata"]["konnectify"] == "demo"
    # Staging again (the next `make demo`) reuses what is there.
    assert demo.prepare_connection(standin).pk == connection.pk
    assert len(demo.prepare_workflows(connection)) == len(workflows)
