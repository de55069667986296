"""Oversize, non-JSON and non-event bodies are refused with the documented statuses."""

import pytest

from connections.models import InboxEvent
from connections.views import MAX_BODY_BYTES

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_it_answers_413_to_a_body_over_one_mebibyte(connection, deliver):
    event = make_event()
    event["padding"] = "x" * MAX_BODY_BYTES
    response = deliver(connection, event)
    assert response.status_code == 413
    assert not InboxEvent.objects.exists()


def test_it_answers_413_before_checking_the_signature(connection, deliver):
    response = deliver(connection, b"x" * (MAX_BODY_BYTES + 1), secret=None)
    assert response.status_code == 413


def test_it_answers_400_to_a_signed_body_that_is_not_json(connection, deliver):
    response = deliver(connection, b"not json at all {")
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b'{"type": "customer.created"}',
        b'{"id": "cus_123", "type": "customer.created"}',
        b'{"id": "evt_123"}',
        b'{"id": "evt_123", "type": ""}',
    ],
)
def test_it_answers_400_to_json_that_is_not_an_event_envelope(connection, deliver, body):
    response = deliver(connection, body)
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b'"a\\u0000b"', b'"a\\ud800b"', b'{"k\\u0000": 1}'],
)
def test_it_answers_400_to_values_no_database_can_store(connection, deliver, value):
    # A 503 here would make Stripe deliver the same unstorable body again for days.
    body = b'{"id": "evt_unstorable", "type": "customer.created", "data": {"object": {"v": '
    response = deliver(connection, body + value + b"}}}")
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_it_stores_ordinary_unicode(connection, deliver, enqueued):
    event = make_event()
    event["data"]["object"]["name"] = "Zoë 😀 \\u0000 as text"
    assert deliver(connection, event).status_code == 200
    assert InboxEvent.objects.get().payload["data"]["object"]["name"] == "Zoë 😀 \\u0000 as text"
