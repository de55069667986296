"""On PostgreSQL the receiver stores a new event and its dispatch task in one statement.

``connections.inbox._ingest_in_one_statement``: what the two-statement transaction
guaranteed must still hold. Transactional tests (the one-statement path runs outside
any transaction, as in production); PostgreSQL only.
"""

import json

import psycopg
import pytest
from django.db import connection as db
from django.db import connections
from django_q.models import OrmQ

from connections.inbox import ConnectionGone, ingest, one_statement_ingest
from connections.models import Connection, InboxEvent
from tests.support.tasks import STANDIN_DISPATCH_TASK, mark_dispatched

from .conftest import make_event, signed_headers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(db.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"),
]


def dispatch_tasks() -> list[dict]:
    return [task.task for task in OrmQ.objects.all() if task.func() == STANDIN_DISPATCH_TASK]


def test_a_new_event_is_stored_with_its_dispatch_task(connection):
    assert one_statement_ingest()
    payload = make_event()

    event, created = ingest(connection, payload)

    assert created
    stored = InboxEvent.objects.get()
    assert (event.pk, stored.payload, stored.status) == (stored.pk, payload, "received")
    [task] = dispatch_tasks()
    assert task["args"] == (str(connection.pk), payload["id"])
    assert task["name"] == f"dispatch-{payload['id']}"
    # The task the worker would run finds the row it names.
    assert mark_dispatched(*task["args"]) is True
    connection.refresh_from_db()
    assert connection.last_event_at == stored.received_at


def test_a_duplicate_writes_nothing_and_answers_the_stored_row(connection):
    payload = make_event()
    first, _ = ingest(connection, payload)

    again, created = ingest(connection, {**payload, "type": "invoice.paid"})

    assert created is False
    assert again.pk == first.pk and again.type == payload["type"]
    assert InboxEvent.objects.count() == 1
    assert len(dispatch_tasks()) == 1


def test_a_mode_mismatch_is_stored_without_a_task(connection):
    event, created = ingest(connection, make_event(livemode=True))

    assert created and event.status == InboxEvent.Status.MODE_MISMATCH
    assert InboxEvent.objects.get().status == InboxEvent.Status.MODE_MISMATCH
    assert dispatch_tasks() == []


def test_a_deleted_connection_is_told_apart_from_a_duplicate(connection):
    gone = Connection(pk=connection.pk, name=connection.name, mode=connection.mode)
    Connection.objects.filter(pk=connection.pk).delete()

    with pytest.raises(ConnectionGone):
        ingest(gone, make_event())
    assert not OrmQ.objects.exists()


def test_text_postgresql_cannot_store_is_refused_with_400_and_nothing_written(client, connection):
    event = make_event()
    event["data"]["object"]["name"] = "\u0000"
    body = json.dumps(event).encode()

    response = client.post(
        connection.webhook_path, body, content_type="application/json", **signed_headers(body)
    )

    assert response.status_code == 400
    assert not InboxEvent.objects.exists()
    assert not OrmQ.objects.exists()


def deliver(client, connection, event):
    body = json.dumps(event).encode()
    return client.post(
        connection.webhook_path, body, content_type="application/json", **signed_headers(body)
    )


def test_a_delivery_sends_no_health_check_first(client, connection, monkeypatch):
    assert deliver(client, connection, make_event()).status_code == 200  # connection kept
    checks = []
    wrapper = type(connections["default"])
    monkeypatch.setattr(wrapper, "is_usable", lambda self: checks.append(1) or True)

    assert deliver(client, connection, make_event()).status_code == 200

    assert checks == []
    assert InboxEvent.objects.count() == 2


def test_a_connection_cut_since_the_last_request_is_replaced_and_the_event_stored(
    client, connection
):
    assert deliver(client, connection, make_event()).status_code == 200
    db.ensure_connection()
    kept = db.connection.info.backend_pid
    with psycopg.connect(**db.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [kept])
    event = make_event()

    response = deliver(client, connection, event)

    assert response.status_code == 200, response.content
    stored = InboxEvent.objects.get(stripe_event_id=event["id"])
    assert [task["args"] for task in dispatch_tasks()][-1] == (str(connection.pk), event["id"])
    assert stored.payload == event
    assert db.connection.info.backend_pid != kept


def prepared_statements() -> list[str]:
    """The statements prepared on the test's database connection (PostgreSQL's view)."""
    with db.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_statement_is_prepared_once_per_database_connection(client, connection):
    for _ in range(3):
        assert deliver(client, connection, make_event()).status_code == 200

    prepared = [sql for sql in prepared_statements() if "WITH new_event AS" in sql]

    assert len(prepared) == 1
    assert InboxEvent.objects.count() == 3 and len(dispatch_tasks()) == 3


def test_without_prepared_statements_the_same_rows_are_stored(client, connection, settings):
    settings.WEBHOOK_PREPARED_STATEMENT = False
    event = make_event()

    assert deliver(client, connection, event).status_code == 200

    assert not [sql for sql in prepared_statements() if "WITH new_event AS" in sql]
    assert InboxEvent.objects.get().payload == event
    assert [task["args"] for task in dispatch_tasks()] == [(str(connection.pk), event["id"])]


def test_a_prepared_statement_lost_with_its_connection_is_prepared_again(client, connection):
    assert deliver(client, connection, make_event()).status_code == 200
    db.close()  # as CONN_MAX_AGE does: the next request opens a new connection

    assert deliver(client, connection, make_event()).status_code == 200

    assert len([sql for sql in prepared_statements() if "WITH new_event AS" in sql]) == 1
    assert InboxEvent.objects.count() == 2


def test_the_task_row_is_the_one_django_q2_async_task_writes(connection, settings):
    """The package built for the one statement reads back, in the worker, as the task
    ``async_task`` would have queued: same function, arguments, name and options."""
    from django_q.signing import SignedPackage
    from django_q.tasks import async_task

    event, _ = ingest(connection, make_event())
    [row] = OrmQ.objects.all()
    async_task(
        settings.EVENT_DISPATCH_TASK,
        str(connection.pk),
        event.stripe_event_id,
        task_name=f"dispatch-{event.stripe_event_id}",
    )
    [reference] = OrmQ.objects.exclude(pk=row.pk)

    ours, theirs = SignedPackage.loads(row.payload), SignedPackage.loads(reference.payload)
    assert ours.keys() == theirs.keys()
    assert {k: v for k, v in ours.items() if k not in ("id", "started")} == {
        k: v for k, v in theirs.items() if k not in ("id", "started")
    }
    assert len(ours["id"]) == 32 and ours["id"] != theirs["id"]
    assert row.key == reference.key and row.lock is not None


def test_failed_deliveries_leave_at_most_one_prepared_statement_behind(client, connection):
    """psycopg forgets a statement whose first prepared run failed, but PostgreSQL keeps
    it: preparing it again on every failed delivery would add one statement to the
    database connection's memory per failure (a read-only or full database, for as
    long as the connection lives)."""
    db.ensure_connection()
    with db.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        answers = [deliver(client, connection, make_event()).status_code for _ in range(5)]
        leaked = [sql for sql in prepared_statements() if "WITH new_event AS" in sql]
    finally:
        with db.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")

    assert answers == [503] * 5
    assert len(leaked) <= 1
    # Once the database takes writes again, deliveries are stored and prepared again.
    for _ in range(3):
        assert deliver(client, connection, make_event()).status_code == 200
    assert InboxEvent.objects.count() == 3 and len(dispatch_tasks()) == 3
    assert len([sql for sql in prepared_statements() if "WITH new_event AS" in sql]) <= 2
