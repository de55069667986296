"""Fixtures for the fault tests: a Stripe stub with outages and 429s, a fixed clock, events."""

from __future__ import annotations

import json
import time

import pytest

from bench.fault_stub import FaultStub
from connections.models import Connection
from stripe_connector.signature import sign_payload
from tests.support.clock import FixedClock, fix_workflow_clock
from tests.support.factories import (
    CREATE_CUSTOMER_STEP,
    event_envelope,
    make_connection,
    make_workflow,
)

WEBHOOK_SECRET = "whsec_faults_0123456789abcdef0123456789"
SECRET_KEY = "sk_test_51FaultsTestKey0000000000000000000000000000000000faul"


@pytest.fixture(autouse=True)
def fast_passwords(fast_password_hashing):
    """No test here is about passwords."""


@pytest.fixture
def stub(settings):
    """A Stripe stub on 127.0.0.1 that dedups POSTs by Idempotency-Key, as Stripe does."""
    fault_stub = FaultStub()
    settings.STRIPE_API_BASE = fault_stub.url
    yield fault_stub
    fault_stub.close()


@pytest.fixture
def connection(db) -> Connection:
    """A test-mode connection whose webhooks are managed by hand."""
    return make_connection(
        name="Faults test account",
        secret_key=SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        account_id="acct_1Faults",
        webhook_mode=Connection.WebhookMode.MANUAL,
    )


def create_customer_workflow(connection: Connection, trigger_key: str = "customer.updated"):
    """An active one-step workflow that creates a customer: duplicates would be visible."""
    return make_workflow(
        connection, trigger_key, [CREATE_CUSTOMER_STEP], name=f"Copy {trigger_key}"
    )


def make_event(event_type: str = "customer.updated") -> dict:
    """A fresh event of the type the fault tests' workflows start on."""
    return event_envelope(event_type)


def signature_for(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return sign_payload(body, secret, int(time.time()) if timestamp is None else timestamp)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed event to the receiver; its commit callbacks (enqueues) then run."""

    def post(connection: Connection, event: dict):
        body = json.dumps(event).encode()
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                connection.webhook_path,
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature_for(body),
            )

    return post


@pytest.fixture
def clock(monkeypatch) -> FixedClock:
    """The engine reads the time only through workflows.clock.now: fix it there."""
    fixed = fix_workflow_clock(monkeypatch)
    # Time moves by hand here, so every retry goes through the sweeper.
    monkeypatch.setattr("django.conf.settings.WORKFLOW_RETRY_INLINE_SECONDS", 0)
    return fixed


@pytest.fixture
def sync_tasks(monkeypatch):
    """django-q2's sync mode: a queued task runs at once, in this process."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """Record every task the receiver and the engine would queue, instead of queueing it."""
    calls: list[tuple] = []

    def record(func, *args, **kwargs):
        calls.append((func, *args))

    monkeypatch.setattr("connections.inbox.async_task", record)
    monkeypatch.setattr("workflows.engine.async_task", record)
    return calls
