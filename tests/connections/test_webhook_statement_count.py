"""What one delivery costs the database on the webhook path, statement by statement.

With the connection in the receiver's cache and the ORM broker (the default set-up):
- on PostgreSQL a new event is ONE statement, in autocommit: the inbox INSERT whose CTE
  also writes its dispatch task; a duplicate is that statement (which stores nothing)
  and one SELECT of the stored row (without its payload);
- on SQLite a new event is its inbox INSERT and its dispatch task's INSERT, in one
  transaction; a duplicate is the refused INSERT and the same SELECT.
A transactional test, so that the statements are those of production (no savepoints).
"""

import json

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ

from connections.inbox import queue_shares_database
from connections.models import InboxEvent

from .conftest import make_event, signed_headers

pytestmark = pytest.mark.django_db(transaction=True)

ONE_STATEMENT = "WITH new_event AS (INSERT INTO connections_inboxevent"
if db.vendor == "postgresql":
    NEW_EVENT = [ONE_STATEMENT]
    DUPLICATE = [ONE_STATEMENT, "SELECT ... FROM connections_inboxevent"]
else:
    NEW_EVENT = ["INSERT INTO connections_inboxevent", "INSERT INTO django_q_ormq"]
    DUPLICATE = ["INSERT INTO connections_inboxevent", "SELECT ... FROM connections_inboxevent"]


def post(client, connection, event):
    body = json.dumps(event).encode()
    return client.post(
        connection.webhook_path, body, content_type="application/json", **signed_headers(body)
    )


def statements(queries) -> list[str]:
    """Each statement's verb and table, with BEGIN/COMMIT/savepoints left out."""
    shapes = []
    for query in queries:
        sql = query["sql"].replace('"', "").replace("`", "")
        verb = sql.split(None, 1)[0].upper()
        if verb in {"SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"}:
            continue
        if sql.startswith(ONE_STATEMENT):
            shapes.append(ONE_STATEMENT)
            continue
        table = sql.split(" FROM " if verb in {"SELECT", "DELETE"} else " INTO ", 1)
        table = table[1].split(None, 1)[0] if len(table) > 1 else sql.split()[1]
        shapes.append(f"{verb} {'... FROM' if verb == 'SELECT' else 'INTO'} {table}")
    return shapes


def assert_statements(queries, expected: list[str]) -> None:
    found = statements(queries)
    listing = "\n".join(f"  {q['sql']}" for q in queries)
    assert found == expected, (
        f"{len(found)} statements instead of {len(expected)}:\n{listing}\nexpected: {expected}"
    )


@pytest.fixture
def warm(client, connection):
    """The connection cached and its last_event_at fresh, as on a busy endpoint."""
    assert queue_shares_database(), "this test pins the ORM broker's cost"
    assert post(client, connection, make_event()).status_code == 200
    return connection


def test_a_new_event_costs_its_inserts_only(client, warm):
    with CaptureQueriesContext(db) as queries:
        response = post(client, warm, make_event())

    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    assert_statements(queries, NEW_EVENT)
    assert OrmQ.objects.count() == 2


def test_a_duplicate_costs_the_refused_insert_and_one_select(client, warm):
    event = make_event()
    assert post(client, warm, event).status_code == 200

    with CaptureQueriesContext(db) as queries:
        response = post(client, warm, event)

    assert response.json() == {"received": event["id"], "duplicate": True}
    assert_statements(queries, DUPLICATE)
    selected = queries[-1]["sql"].split(" FROM ")[0].removeprefix("SELECT ").split(",")
    assert "payload" not in [column.split(".")[-1].strip(' "') for column in selected]
    assert InboxEvent.objects.count() == 2
