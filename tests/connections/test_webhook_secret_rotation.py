"""A replaced signing secret stays valid for the grace period, then expires."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import InboxEvent

from .conftest import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET, make_event

pytestmark = pytest.mark.django_db


def rotate(connection):
    connection.webhook_secret = OLD_WEBHOOK_SECRET
    connection.save()
    connection.replace_webhook_secret(WEBHOOK_SECRET)
    connection.save()


def test_replacing_the_secret_keeps_the_old_one_for_the_grace_period(connection, settings):
    settings.WEBHOOK_SECRET_GRACE_HOURS = 24
    rotate(connection)
    connection.refresh_from_db()
    assert connection.valid_webhook_secrets() == [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET]
    expected = timezone.now() + timedelta(hours=24)
    assert abs((connection.previous_secret_expires_at - expected).total_seconds()) < 60


def test_it_accepts_the_previous_secret_inside_the_grace_period(connection, deliver, enqueued):
    rotate(connection)
    response = deliver(connection, make_event(), secret=OLD_WEBHOOK_SECRET)
    assert response.status_code == 200
    assert InboxEvent.objects.count() == 1


def test_it_rejects_the_previous_secret_after_the_grace_period(connection, deliver, enqueued):
    rotate(connection)
    connection.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    connection.save()
    response = deliver(connection, make_event(), secret=OLD_WEBHOOK_SECRET)
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()
    assert deliver(connection, make_event()).status_code == 200


def test_storing_the_same_secret_again_does_not_start_a_grace_period(connection):
    connection.replace_webhook_secret(WEBHOOK_SECRET)
    assert connection.previous_webhook_secret == ""
    assert connection.valid_webhook_secrets() == [WEBHOOK_SECRET]
