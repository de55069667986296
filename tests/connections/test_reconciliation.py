"""Scheduled reconciliation and backfill feed Stripe's event list through the inbox once."""

from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from django.core.management import CommandError, call_command
from django.utils import timezone

from connections.models import InboxEvent
from connections.reconcile import reconcile_connection
from connections.tasks import reconcile_events

from .conftest import API, make_event

pytestmark = pytest.mark.django_db

EVENTS_URL = f"{API}/v1/events"


def page(events, has_more=False):
    return {"object": "list", "data": events, "has_more": has_more, "url": "/v1/events"}


def query(call) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(call.request.url).query)


def test_reconciliation_stores_missed_events_and_skips_delivered_ones(
    connection, deliver, stripe_mock, enqueued
):
    delivered, missed = make_event(), make_event()
    deliver(connection, delivered)
    connection.events_cursor = timezone.now() - timedelta(hours=1)
    connection.save()
    stripe_mock.get(EVENTS_URL, json=page([missed, delivered]))

    summary = reconcile_connection(connection)

    assert (summary.new, summary.duplicates, summary.skipped) == (1, 1, 0)
    assert InboxEvent.objects.count() == 2
    recovered = InboxEvent.objects.get(stripe_event_id=missed["id"])
    assert recovered.source == InboxEvent.Source.RECONCILIATION
    assert ("types[0]", "customer.created") in query(stripe_mock.calls[0])
    gte = dict(query(stripe_mock.calls[0]))["created[gte]"]
    assert int(gte) <= int((timezone.now() - timedelta(hours=1)).timestamp())


def test_reconciliation_pages_through_the_list_and_moves_the_cursor(
    connection, stripe_mock, enqueued
):
    connection.events_cursor = timezone.now() - timedelta(minutes=5)
    connection.save()
    first, second = make_event(), make_event()
    stripe_mock.get(EVENTS_URL, json=page([first], has_more=True))
    stripe_mock.get(EVENTS_URL, json=page([second]))
    before = timezone.now()

    summary = reconcile_connection(connection)

    assert summary.new == 2
    assert ("starting_after", first["id"]) in query(stripe_mock.calls[1])
    connection.refresh_from_db()
    assert connection.events_cursor >= before


def test_running_reconciliation_twice_stores_nothing_twice(connection, stripe_mock, enqueued):
    connection.events_cursor = timezone.now() - timedelta(minutes=5)
    connection.save()
    events = [make_event(), make_event()]
    stripe_mock.get(EVENTS_URL, json=page(events))
    stripe_mock.get(EVENTS_URL, json=page(events))

    reconcile_connection(connection)
    second = reconcile_connection(connection)

    assert (second.new, second.duplicates) == (0, 2)
    assert InboxEvent.objects.count() == 2


def test_a_connection_without_a_cursor_starts_from_now(connection):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        summary = reconcile_connection(connection)
        assert len(mock.calls) == 0
    assert summary.new == 0
    connection.refresh_from_db()
    assert connection.events_cursor is not None


def test_the_scheduled_task_logs_a_failing_connection_and_goes_on(connection, stripe_mock, caplog):
    connection.events_cursor = timezone.now()
    connection.save()
    stripe_mock.get(EVENTS_URL, status=500, json={"error": {"type": "api_error", "message": "x"}})
    outcomes = reconcile_events()
    assert outcomes[connection.name].startswith("failed")
    assert "Reconciliation failed for connection" in caplog.text


def test_backfill_prints_progress_and_a_summary(connection, deliver, stripe_mock, enqueued):
    delivered = make_event()
    deliver(connection, delivered)
    other_type = make_event("invoice.paid")
    stripe_mock.get(EVENTS_URL, json=page([make_event(), delivered, other_type]))
    out, err = StringIO(), StringIO()

    call_command("backfill_events", connection=connection.name, since="3d", stdout=out, stderr=err)

    assert "1 new, 1 duplicates, 1 skipped" in out.getvalue()
    assert "[" in err.getvalue() and "listed" in err.getvalue()
    since = int(dict(query(stripe_mock.calls[0]))["created[gte]"])
    expected = (timezone.now() - timedelta(days=3)).timestamp()
    assert abs(since - expected) < 60
    assert InboxEvent.objects.filter(source=InboxEvent.Source.BACKFILL).count() == 1


def test_backfill_takes_explicit_types(connection, stripe_mock, enqueued):
    stripe_mock.get(EVENTS_URL, json=page([make_event("invoice.paid")]))
    out = StringIO()
    call_command(
        "backfill_events",
        "--connection",
        connection.name,
        "--since",
        "12h",
        "--types",
        "invoice.paid",
        "customer.deleted",
        stdout=out,
        stderr=StringIO(),
    )
    sent = query(stripe_mock.calls[0])
    assert ("types[0]", "customer.deleted") in sent and ("types[1]", "invoice.paid") in sent
    assert "1 new" in out.getvalue()


def test_backfill_names_an_unknown_connection_and_a_bad_duration(connection):
    with pytest.raises(CommandError, match="No connection named 'nope'"):
        call_command("backfill_events", connection="nope", since="3d")
    with pytest.raises(CommandError, match="--since"):
        call_command("backfill_events", connection=connection.name, since="three days")
