"""A delivery without a usable Stripe-Signature header is refused before anything is written."""

import json

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from connections.models import InboxEvent

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_it_answers_400_without_touching_the_database_when_the_header_is_missing(
    connection, deliver
):
    with CaptureQueriesContext(db_connection) as queries:
        response = deliver(connection, make_event(), secret=None)
    assert response.status_code == 400
    assert len(queries) == 0
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", "t=1,t=2,v1=00", "t=,v1="],
)
def test_it_answers_400_to_a_malformed_header(connection, client, header):
    body = json.dumps(make_event()).encode()
    response = client.post(
        connection.webhook_path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()
