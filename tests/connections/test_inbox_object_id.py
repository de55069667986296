"""Every inbox event records the id of the object it is about (data.object.id), indexed."""

import importlib

import pytest
from django.db import connection as db_connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from connections.inbox import ingest
from connections.models import InboxEvent

from .conftest import make_event

BACKFILL = importlib.import_module("connections.migrations.0005_inbox_event_object_id")
BEFORE = [("connections", "0004_inbox_event_payload_pruned_at")]
AFTER = [("connections", "0005_inbox_event_object_id")]


@pytest.mark.django_db
def test_ingest_records_the_object_the_event_is_about(connection):
    event, _ = ingest(connection, make_event("invoice.paid", data_object={"id": "in_1Paid"}))
    assert InboxEvent.objects.get(pk=event.pk).object_id == "in_1Paid"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [{"object": {"object": "balance"}}, {"object": {"id": 42}}, {"object": {"id": "x" * 256}}],
    ids=["no id", "not a string", "too long"],
)
def test_an_object_without_a_usable_id_is_recorded_as_none(connection, data):
    event, _ = ingest(connection, make_event(data=data))
    assert InboxEvent.objects.get(pk=event.pk).object_id == ""


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_existing_events_in_batches(connection, monkeypatch):
    monkeypatch.setattr(BACKFILL, "BATCH", 2)  # five rows: three batches
    executor = MigrationExecutor(db_connection)
    executor.migrate(BEFORE)
    old = MigrationExecutor(db_connection).loader.project_state(BEFORE).apps
    OldEvent = old.get_model("connections", "InboxEvent")
    payloads = [make_event(data_object={"id": f"cus_{n}"}) for n in range(4)]
    payloads.append(make_event(data={"object": {"object": "balance"}}))
    for payload in payloads:
        OldEvent.objects.create(
            connection_id=connection.pk,
            stripe_event_id=payload["id"],
            type=payload["type"],
            created="2026-01-01T00:00:00Z",
            livemode=False,
            payload=payload,
        )

    executor = MigrationExecutor(db_connection)
    executor.migrate(AFTER)
    found = dict(InboxEvent.objects.values_list("stripe_event_id", "object_id"))
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest schema

    assert found == {
        **{payloads[n]["id"]: f"cus_{n}" for n in range(4)},
        payloads[4]["id"]: "",
    }


@pytest.mark.django_db
def test_staff_find_an_inbox_event_by_its_object_id_in_admin(staff_client, connection):
    paid, _ = ingest(connection, make_event("invoice.paid", data_object={"id": "in_1Paid"}))
    ingest(connection, make_event("invoice.paid", data_object={"id": "in_1Other"}))
    url = reverse("admin:connections_inboxevent_changelist")
    response = staff_client.get(url, {"q": "in_1Paid"})
    assert response.status_code == 200
    assert [event.pk for event in response.context["cl"].result_list] == [paid.pk]
