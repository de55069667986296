"""When the database fails, the receiver answers 503 so that Stripe retries; nothing is lost."""

import pytest
from django.db import OperationalError
from django.db import connection as db_connection

from connections.models import InboxEvent

from .conftest import make_event

pytestmark = pytest.mark.django_db


def failing_on(fragment: str):
    """A query wrapper that fails like a lost database on SQL containing ``fragment``."""

    def wrapper(execute, sql, params, many, context):
        if fragment in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


def test_it_answers_503_when_the_insert_fails_and_stores_the_event_on_redelivery(
    connection, deliver, enqueued
):
    event = make_event()
    with db_connection.execute_wrapper(failing_on("INSERT")):
        response = deliver(connection, event)
    assert response.status_code == 503
    assert not InboxEvent.objects.exists()
    assert enqueued == []

    retried = deliver(connection, event)
    assert retried.status_code == 200
    assert InboxEvent.objects.get().stripe_event_id == event["id"]


def test_it_answers_503_when_the_database_is_unreachable(connection, deliver, enqueued):
    with db_connection.execute_wrapper(failing_on("")):
        response = deliver(connection, make_event())
    assert response.status_code == 503
    assert enqueued == []


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_the_insert_still_leaves_the_event_stored(connection, deliver, enqueued):
    # The last_event_at UPDATE fails after the insert committed: 503, Stripe retries,
    # the retry is a duplicate and answers 200. Stored once, never lost.
    event = make_event()
    with db_connection.execute_wrapper(failing_on("UPDATE")):
        response = deliver(connection, event)
    assert response.status_code == 503
    assert deliver(connection, event).status_code == 200
    assert InboxEvent.objects.count() == 1


def test_the_receiver_is_excluded_from_atomic_requests(settings, connection):
    from django.urls import resolve

    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is True
    callback = resolve(connection.webhook_path).func
    assert "default" in callback._non_atomic_requests


def test_a_payload_the_database_refuses_is_a_400_not_a_retry_forever(connection, deliver, enqueued):
    from django.db import DataError

    def refuse(execute, sql, params, many, context):
        if "INSERT" in sql:
            raise DataError("invalid input syntax for type json")
        return execute(sql, params, many, context)

    with db_connection.execute_wrapper(refuse):
        response = deliver(connection, make_event())
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()
