"""A duplicate delivery, sequential or concurrent, answers 200 and changes nothing."""

import json
import threading

import pytest
from django.db import connection as db_connection
from django.test import Client
from django_q.models import OrmQ

from connections.models import InboxEvent
from tests.support.tasks import STANDIN_DISPATCH_TASK

from .conftest import make_event, signed_headers

pytestmark = pytest.mark.django_db


def test_a_sequential_duplicate_answers_200_and_stores_nothing_new(connection, deliver, enqueued):
    event = make_event()
    first = deliver(connection, event)
    stored = InboxEvent.objects.get()
    stored.status = InboxEvent.Status.DISPATCHED
    stored.save()

    again = deliver(connection, event)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert InboxEvent.objects.count() == 1
    assert InboxEvent.objects.get().status == InboxEvent.Status.DISPATCHED
    assert enqueued == [(STANDIN_DISPATCH_TASK, str(connection.pk), stored.stripe_event_id)]


def test_the_same_event_id_is_stored_once_per_connection(connection, deliver, enqueued):
    from connections.models import Connection

    other = Connection.objects.create(
        name="Second connection, same account",
        mode=Connection.Mode.TEST,
        api_version=connection.api_version,
        webhook_secret=connection.webhook_secret,
    )
    event = make_event()
    assert deliver(connection, event).status_code == 200
    assert deliver(other, event).status_code == 200
    assert InboxEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_store_exactly_one_row(connection):
    if db_connection.vendor != "postgresql":
        pytest.skip("SQLite serializes all writers; concurrent inserts need PostgreSQL.")
    events = [make_event() for _ in range(5)]
    deliveries = [event for event in events for _ in range(6)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(deliveries))

    def deliver(event):
        body = json.dumps(event).encode()
        headers = signed_headers(body)
        try:
            barrier.wait()
            response = Client().post(
                connection.webhook_path, body, content_type="application/json", **headers
            )
            statuses.append(response.status_code)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=deliver, args=(event,)) for event in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * len(deliveries)
    assert InboxEvent.objects.count() == len(events)
    # One dispatch task per stored event, written with it; none for a duplicate.
    stored = InboxEvent.objects.values_list("connection_id", "stripe_event_id")
    queued = [task.task["args"] for task in OrmQ.objects.all()]
    assert sorted(queued) == sorted((str(pk), event_id) for pk, event_id in stored)
