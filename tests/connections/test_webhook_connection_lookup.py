"""Unknown and disabled connections answer 404."""

import uuid

import pytest

from connections.models import Connection, InboxEvent

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_it_answers_404_for_an_unknown_connection(connection, deliver):
    stranger = Connection(id=uuid.uuid4(), name="not saved", api_version="x")
    response = deliver(stranger, make_event())
    assert response.status_code == 404
    assert not InboxEvent.objects.exists()


def test_it_answers_404_for_a_disabled_connection(connection, deliver):
    connection.status = Connection.Status.DISABLED
    connection.save()
    response = deliver(connection, make_event())
    assert response.status_code == 404
    assert not InboxEvent.objects.exists()


def test_it_answers_404_for_a_path_that_is_not_a_uuid(client):
    response = client.post("/webhooks/stripe/not-a-uuid/", b"{}", content_type="application/json")
    assert response.status_code == 404


def test_it_still_accepts_events_for_a_connection_whose_key_became_invalid(
    connection, deliver, enqueued
):
    connection.status = Connection.Status.INVALID
    connection.save()
    assert deliver(connection, make_event()).status_code == 200
