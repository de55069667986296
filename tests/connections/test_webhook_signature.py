"""The receiver accepts only deliveries with a fresh, valid v1 signature for a current secret."""

import json
import time

import pytest
import stripe

from connections.models import InboxEvent
from stripe_connector.signature import sign_payload

from .conftest import WEBHOOK_SECRET, make_event

pytestmark = pytest.mark.django_db


def test_it_stores_a_correctly_signed_event(connection, deliver, enqueued):
    event = make_event()
    response = deliver(connection, event)
    assert response.status_code == 200
    stored = InboxEvent.objects.get()
    assert stored.stripe_event_id == event["id"]
    assert stored.type == "customer.created"
    assert stored.payload == event
    assert stored.status == InboxEvent.Status.RECEIVED


def test_it_rejects_a_tampered_body(connection, client, enqueued):
    body = json.dumps(make_event()).encode()
    header = sign_payload(body, WEBHOOK_SECRET, int(time.time()))
    tampered = body.replace(b"customer.created", b"customer.deleted")
    response = client.post(
        connection.webhook_path,
        tampered,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_it_rejects_a_signature_made_with_another_secret(connection, deliver, enqueued):
    response = deliver(connection, make_event(), secret="whsec_someone_else_entirely")
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_it_rejects_a_stale_timestamp(connection, deliver, settings, enqueued):
    stale = int(time.time()) - settings.WEBHOOK_TOLERANCE_SECONDS - 60
    response = deliver(connection, make_event(), timestamp=stale)
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_it_rejects_a_far_future_timestamp(connection, deliver, settings, enqueued):
    future = int(time.time()) + settings.WEBHOOK_TOLERANCE_SECONDS + 60
    response = deliver(connection, make_event(), timestamp=future)
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_it_accepts_a_header_with_several_v1_values_when_one_matches(connection, client, enqueued):
    body = json.dumps(make_event()).encode()
    stamp = int(time.time())
    good = sign_payload(body, WEBHOOK_SECRET, stamp).split(",")[1]
    header = f"t={stamp},v1={'0' * 64},{good},v0={'1' * 64}"
    response = client.post(
        connection.webhook_path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 200
    assert InboxEvent.objects.count() == 1


def test_its_signatures_verify_with_the_official_stripe_library(connection):
    body = json.dumps(make_event()).encode()
    header = sign_payload(body, WEBHOOK_SECRET, int(time.time()))
    event = stripe.Webhook.construct_event(body.decode(), header, WEBHOOK_SECRET)
    assert event["type"] == "customer.created"


def test_it_accepts_a_signature_computed_by_the_official_stripe_library(
    connection, client, enqueued
):
    body = json.dumps(make_event()).encode()
    stamp = int(time.time())
    signed = f"{stamp}.{body.decode()}"
    signature = stripe.WebhookSignature._compute_signature(signed, WEBHOOK_SECRET)
    response = client.post(
        connection.webhook_path,
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={stamp},v1={signature}",
    )
    assert response.status_code == 200
    assert InboxEvent.objects.count() == 1
