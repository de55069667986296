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


def test_a_disabled_connection_answers_as_an_unknown_one_without_its_name(connection, deliver):
    connection.status = Connection.Status.DISABLED
    connection.save()
    stranger = Connection(id=uuid.uuid4(), name="not saved", api_version="x")

    disabled, unknown = deliver(connection, make_event()), deliver(stranger, make_event())

    assert disabled.json() == unknown.json() == {"error": "Unknown connection."}
    assert connection.name not in disabled.content.decode()


def test_a_bad_signature_answers_the_reason_without_the_connections_name(connection, deliver):
    response = deliver(connection, make_event(), secret="whsec_wrong_wrong_wrong")

    assert response.status_code == 400
    assert response.json()["error"].startswith("No signature matches")
    assert connection.name not in response.content.decode()
