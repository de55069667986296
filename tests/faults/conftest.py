"""Fixtures for the fault tests: a Stripe stub with outages and 429s, a fixed clock, events."""

from __future__ import annotations

import json
import time
from itertools import count

import pytest

from bench.fault_stub import FaultStub
from connections.models import Connection
from konnectify.testing import FixedClock, fix_workflow_clock
from stripe_connector.signature import sign_payload
from workflows.models import Step, Workflow

WEBHOOK_SECRET = "whsec_faults_0123456789abcdef0123456789"
SECRET_KEY = "sk_test_51FaultsTestKey0000000000000000000000000000000000faul"
_ids = count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """No test here is about passwords; the default hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def stub(settings):
    """A Stripe stub on 127.0.0.1 that dedups POSTs by Idempotency-Key, as Stripe does."""
    fault_stub = FaultStub()
    settings.STRIPE_API_BASE = fault_stub.url
    yield fault_stub
    fault_stub.close()


def make_connection(name: str = "Faults test account", **fields) -> Connection:
    """A test-mode connection with a key and a webhook secret, webhooks managed by hand."""
    values = {
        "name": name,
        "secret_key": SECRET_KEY,
        "key_hint": "sk_test_...faul",
        "mode": Connection.Mode.TEST,
        "key_kind": Connection.KeyKind.SECRET,
        "account_id": "acct_1Faults",
        "webhook_mode": Connection.WebhookMode.MANUAL,
        "webhook_secret": WEBHOOK_SECRET,
    }
    values.update(fields)
    return Connection.objects.create(**values)


@pytest.fixture
def connection(db) -> Connection:
    return make_connection()


def create_customer_workflow(connection: Connection, trigger_key: str = "customer.updated"):
    """An active one-step workflow that creates a customer: duplicates would be visible."""
    workflow = Workflow.objects.create(
        name=f"Copy {trigger_key}", connection=connection, trigger_key=trigger_key, active=True
    )
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="create",
        action_key="create_customer",
        input_mapping={"email": "{{ trigger.data.object.email }}"},
    )
    return workflow


def make_event(event_type: str = "customer.updated", prefix: str = "faults") -> dict:
    """A Stripe event envelope with a fresh evt_ id."""
    number = next(_ids)
    return {
        "id": f"evt_{prefix}_{number:07d}_{int(time.time())}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2026-04-22.dahlia",
        "data": {"object": {"id": f"cus_{number:07d}", "object": "customer",
                            "email": f"person{number}@example.com"}},
    }  # fmt: skip


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
