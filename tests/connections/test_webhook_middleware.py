"""Stripe's deliveries reach the receiver before the middleware meant for people.

``connections.middleware.WebhookFirstMiddleware`` is first in MIDDLEWARE: a connection's
webhook URL is answered by the receiver at once; any other path goes down the whole stack.
"""

import json
import uuid

from connections.models import InboxEvent

from .conftest import make_event, signed_headers

# Set by SecurityMiddleware and XFrameOptionsMiddleware on every response they see.
STACK_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


def post(client, path, event, **extra):
    body = json.dumps(event).encode()
    return client.post(path, body, content_type="application/json", **signed_headers(body), **extra)


def test_a_delivery_skips_the_rest_of_the_stack_and_is_stored(client, connection, enqueued):
    event = make_event()

    response = post(client, connection.webhook_path, event)

    assert response.status_code == 200
    assert response.json() == {"received": event["id"], "duplicate": False}
    assert [name for name in STACK_HEADERS if name in response.headers] == []
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
    assert response["Content-Length"] == str(len(response.content))
    assert InboxEvent.objects.get().stripe_event_id == event["id"]


def test_a_refusal_has_its_length_too(client, connection):
    response = client.post(connection.webhook_path, b"{}", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "Missing Stripe-Signature header."}
    assert response["Content-Length"] == str(len(response.content))


def test_a_host_outside_allowed_hosts_is_refused_as_on_any_path(client, connection):
    response = post(client, connection.webhook_path, make_event(), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_other_methods_are_answered_405_naming_post(client, connection):
    response = client.get(connection.webhook_path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {"error": "Method GET not allowed."}


def test_paths_that_are_not_a_webhook_url_go_through_every_middleware(client, connection):
    for path in (
        "/webhooks/stripe/not-a-uuid/",
        f"/webhooks/stripe/{connection.pk}/more/",
        f"/webhooks/stripe/{connection.pk}",
    ):
        response = client.post(path, b"{}", content_type="application/json")

        assert response.status_code in (404, 301), path  # 301: CommonMiddleware's APPEND_SLASH
        assert response["X-Content-Type-Options"] == "nosniff", path  # SecurityMiddleware's
    assert client.get("/admin/login/")["X-Frame-Options"] == "DENY"


def test_an_unknown_connection_id_is_a_404_from_the_receiver(client, db):
    response = post(client, f"/webhooks/stripe/{uuid.uuid4()}/", make_event())

    assert response.status_code == 404
    assert response.json() == {"error": "Unknown connection."}
