"""Each web process remembers a connection briefly, and forgets it when it is saved."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from connections import receiver_cache
from connections.models import Connection, InboxEvent

from .conftest import make_event

pytestmark = pytest.mark.django_db

NEW_SECRET = "whsec_test_pasted_later_0123456789abcdef"


def connection_lookups(queries) -> int:
    table = Connection._meta.db_table
    return sum(1 for q in queries if q["sql"].startswith("SELECT") and table in q["sql"])


def test_a_burst_of_events_loads_the_connection_once(connection, deliver, enqueued, settings):
    settings.WEBHOOK_CONNECTION_CACHE_SECONDS = 60

    with CaptureQueriesContext(db) as captured:
        for _ in range(3):
            assert deliver(connection, make_event()).status_code == 200
    assert connection_lookups(captured.captured_queries) == 1


def test_without_a_cache_every_event_loads_the_connection(connection, deliver, enqueued, settings):
    settings.WEBHOOK_CONNECTION_CACHE_SECONDS = 0

    with CaptureQueriesContext(db) as captured:
        for _ in range(2):
            assert deliver(connection, make_event()).status_code == 200
    assert connection_lookups(captured.captured_queries) == 2


def test_saving_a_connection_takes_effect_at_once_in_this_process(
    connection, deliver, enqueued, settings
):
    settings.WEBHOOK_CONNECTION_CACHE_SECONDS = 60
    assert deliver(connection, make_event()).status_code == 200

    connection.replace_webhook_secret(NEW_SECRET)
    connection.save()
    assert deliver(connection, make_event(), secret=NEW_SECRET).status_code == 200

    connection.status = Connection.Status.DISABLED
    connection.save()
    assert deliver(connection, make_event(), secret=NEW_SECRET).status_code == 404


@pytest.mark.django_db(transaction=True)  # the missing row is found when the insert commits
def test_a_connection_deleted_by_another_process_answers_404_at_once(
    connection, deliver, enqueued, settings
):
    settings.WEBHOOK_CONNECTION_CACHE_SECONDS = 60
    assert deliver(connection, make_event()).status_code == 200
    deleted = Connection.objects.get(pk=connection.pk)
    deleted.delete()
    # Another web process deleted it: this one still remembers the connection.
    receiver_cache.get(connection.pk, lambda _: connection)

    response = deliver(connection, make_event())
    assert response.status_code == 404
    assert response.json() == {"error": "Unknown connection."}
    assert not InboxEvent.objects.exists()
    # Forgotten: the next delivery is refused without trying the insert again.
    with CaptureQueriesContext(db) as captured:
        assert deliver(connection, make_event()).status_code == 404
    assert not any(q["sql"].startswith("INSERT") for q in captured.captured_queries)


def test_a_connection_deleted_in_this_process_answers_404(connection, deliver, enqueued, settings):
    settings.WEBHOOK_CONNECTION_CACHE_SECONDS = 60
    assert deliver(connection, make_event()).status_code == 200
    Connection.objects.get(pk=connection.pk).delete()
    assert deliver(connection, make_event()).status_code == 404
