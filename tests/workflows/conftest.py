"""Fixtures for the workflow tests: a connection, signed deliveries, a fixed clock, sync tasks."""

from __future__ import annotations

import json
import time
from itertools import count

import pytest
import responses
from django_q.conf import Conf

from connections.models import Connection
from stripe_connector.catalog import get_trigger
from stripe_connector.signature import sign_payload
from tests.support.clock import FixedClock, fix_workflow_clock
from tests.support.factories import make_connection, make_workflow  # noqa: F401 (for the tests here)

API = "https://api.stripe.com"
WEBHOOK_SECRET = "whsec_workflows_test_0123456789abcdef"
SECRET_KEY = "sk_test_51WorkflowsTestKey000000000000000000000000000000wxyz"
_ids = count(1)


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch):
    """django-q2's sync mode: async_task runs the task at once, in this process."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def stripe_base(settings):
    settings.STRIPE_API_BASE = API
    # Retries go through the sweeper here; waiting in the worker has its own test.
    settings.WORKFLOW_RETRY_INLINE_SECONDS = 0


@pytest.fixture
def connection(db) -> Connection:
    return make_connection(
        name="Workflows test account",
        secret_key=SECRET_KEY,
        account_id="acct_1Workflows",
        webhook_secret=WEBHOOK_SECRET,
        webhook_endpoint_id="we_1Workflows",
        webhook_status=Connection.WebhookStatus.ENABLED,
    )


@pytest.fixture
def stripe():
    """``responses``: every registered answer must be used, nothing else reaches the network."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def clock(monkeypatch) -> FixedClock:
    """Workflows read the time only through workflows.clock.now: fix it there."""
    fixed = fix_workflow_clock(monkeypatch)
    return fixed


def sample_event(trigger_key: str, **object_fields) -> dict:
    """The catalog's sample for a trigger, with a fresh evt_ id and test mode."""
    event = get_trigger(trigger_key).sample_event()
    event["id"] = f"evt_wf_{next(_ids):08d}_{int(time.time())}"
    event["livemode"] = False
    event["data"]["object"].update(object_fields)
    return event


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed event to the real receiver; commit callbacks (dispatch, runs) then run."""

    def post(connection: Connection, event: dict):
        body = json.dumps(event).encode()
        header = sign_payload(body, WEBHOOK_SECRET, int(time.time()))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                connection.webhook_path,
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )
        assert response.status_code == 200, response.content
        return response

    return post


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run a block's commit callbacks (enqueues) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
