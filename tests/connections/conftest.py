"""Fixtures for the connections tests: connections, signed deliveries, Stripe fakes."""

from __future__ import annotations

import json
import time

import pytest

from connections import webhooks
from connections.models import Connection
from stripe_connector.signature import sign_payload
from tests.support.factories import event_envelope, make_connection
from tests.support.tasks import STANDIN_DISPATCH_TASK

WEBHOOK_SECRET = "whsec_test_current_0123456789abcdef"
OLD_WEBHOOK_SECRET = "whsec_test_previous_0123456789abcdef"
SECRET_KEY = "sk_test_51AbCdEfGhIjKlMnOpQrStUvWxYz0123456789secretkey"


@pytest.fixture(autouse=True)
def connections_on_their_own(settings, monkeypatch):
    """Test this app without the workflows app's hooks (connections never imports workflows)."""
    settings.EVENT_DISPATCH_TASK = STANDIN_DISPATCH_TASK
    monkeypatch.setattr(webhooks, "event_types_source", None)
    # The staff user's password hash is not under test; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


make_event = event_envelope


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """Django test client kwargs carrying a real Stripe-Signature header."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {"HTTP_STRIPE_SIGNATURE": sign_payload(body, secret, stamp)}


@pytest.fixture
def connection(db) -> Connection:
    """A test-mode connection with a stored key and webhook secret."""
    return make_connection(
        name="Main test account",
        secret_key=SECRET_KEY,
        key_hint="sk_test_...ykey",
        account_name="Test Shop",
        api_version="2026-04-22.dahlia",
        webhook_secret=WEBHOOK_SECRET,
        webhook_endpoint_id="we_1Existing",
        webhook_enabled_events=["customer.created"],
        webhook_status=Connection.WebhookStatus.ENABLED,
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST an event (dict or raw bytes) to a connection's webhook URL, signed by default.

    Commit callbacks run as they would outside the test's transaction.
    """

    def post(connection: Connection, event, *, secret=WEBHOOK_SECRET, timestamp=None, **extra):
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = signed_headers(body, secret, timestamp) if secret else {}
        headers.update(extra)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                connection.webhook_path, body, content_type="application/json", **headers
            )

    return post


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """Capture dispatch tasks instead of putting them on the queue."""
    calls: list[tuple] = []
    monkeypatch.setattr(
        "connections.inbox.async_task", lambda func, *args, **kw: calls.append((func, *args))
    )
    return calls


API = "https://api.stripe.com"
ENDPOINTS_URL = f"{API}/v1/webhook_endpoints"


@pytest.fixture
def stripe_mock(settings):
    """``responses`` in strict mode on api.stripe.com: every registered answer must be used."""
    import responses

    settings.STRIPE_API_BASE = API
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def endpoint_json(endpoint_id="we_1New", *, connection=None, events=("customer.created",), **kw):
    """A webhook endpoint object in Stripe's shape."""
    data = {
        "id": endpoint_id,
        "object": "webhook_endpoint",
        "api_version": "2026-04-22.dahlia",
        "enabled_events": list(events),
        "livemode": False,
        "metadata": {"product": "konnectify", "connection_id": str(connection.id)}
        if connection
        else {},
        "status": "enabled",
        "url": connection.webhook_url if connection else "https://example.com/hook",
    }
    data.update(kw)
    return data


def stripe_error(status: int, message: str, error_type: str = "invalid_request_error") -> dict:
    return {"error": {"type": error_type, "message": message}}
