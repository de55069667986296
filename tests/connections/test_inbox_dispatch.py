"""New inbox events are handed to the dispatch task by (connection id, Stripe event id),
with the event's own commit or after it; mismatches are not."""

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ

from connections.inbox import ingest, queue_shares_database, undispatchable
from connections.models import Connection, InboxEvent
from tests.support.tasks import STANDIN_DISPATCH_TASK, mark_dispatched

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_a_new_event_is_enqueued_by_dotted_path_and_its_key(
    connection, deliver, enqueued, settings
):
    settings.EVENT_DISPATCH_TASK = "somewhere.tasks.handle"
    event = make_event()
    deliver(connection, event)
    assert enqueued == [("somewhere.tasks.handle", str(connection.pk), event["id"])]


def test_with_another_broker_the_dispatch_is_enqueued_only_after_commit(
    connection, enqueued, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("connections.inbox.queue_shares_database", lambda: False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        event, created = ingest(connection, make_event())
        assert enqueued == []
    assert created
    assert len(callbacks) == 1
    assert enqueued == [(STANDIN_DISPATCH_TASK, str(connection.pk), event.stripe_event_id)]


def test_with_the_orm_broker_the_task_row_commits_and_rolls_back_with_the_event(connection):
    assert queue_shares_database()
    with transaction.atomic():
        event, _ = ingest(connection, make_event())
        key = (str(connection.pk), event.stripe_event_id)
        queued = [task for task in OrmQ.objects.all() if task.task["args"] == key]
        assert queued[0].task["func"] == STANDIN_DISPATCH_TASK
        transaction.set_rollback(True)
    assert not InboxEvent.objects.exists()
    assert not OrmQ.objects.exists()


def test_a_live_event_at_a_test_connection_is_stored_as_a_mismatch_and_not_dispatched(
    connection, deliver, enqueued
):
    response = deliver(connection, make_event(livemode=True))
    assert response.status_code == 200
    stored = InboxEvent.objects.get()
    assert stored.status == InboxEvent.Status.MODE_MISMATCH
    assert "live-mode event" in stored.status_detail
    assert enqueued == []


def test_a_test_event_at_a_live_connection_is_a_mismatch(connection, enqueued):
    connection.mode = Connection.Mode.LIVE
    event, _ = ingest(connection, make_event(livemode=False))
    assert event.status == InboxEvent.Status.MODE_MISMATCH
    assert enqueued == []


def test_the_standin_dispatch_task_marks_an_event_dispatched_once(connection, enqueued):
    event, _ = ingest(connection, make_event())
    assert mark_dispatched(str(connection.pk), event.stripe_event_id) is True
    assert mark_dispatched(str(connection.pk), event.stripe_event_id) is False
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED


def test_one_rule_says_which_events_cannot_be_dispatched_again(connection, enqueued):
    normal, _ = ingest(connection, make_event())
    mismatch, _ = ingest(connection, make_event(livemode=True))
    pruned, _ = ingest(connection, make_event())
    InboxEvent.objects.filter(pk=pruned.pk).update(payload_pruned_at=timezone.now())
    pruned.refresh_from_db()

    assert undispatchable(normal) is None
    assert "mode differs" in undispatchable(mismatch)
    assert "pruned" in undispatchable(pruned)
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISABLED)
    normal.refresh_from_db()
    assert "is disabled" in undispatchable(normal)


def test_last_event_at_is_recorded_without_rewriting_it_for_every_event(connection, enqueued):
    ingest(connection, make_event())
    connection.refresh_from_db()
    first = connection.last_event_at
    assert first is not None
    ingest(connection, make_event())
    connection.refresh_from_db()
    assert connection.last_event_at == first


def test_events_left_received_for_long_are_enqueued_again(connection, enqueued):
    from datetime import timedelta

    from django.utils import timezone

    from connections.tasks import redispatch_stale_events

    stuck, _ = ingest(connection, make_event())
    ingest(connection, make_event())  # a recent one stays alone
    InboxEvent.objects.filter(pk=stuck.pk).update(received_at=timezone.now() - timedelta(hours=1))
    enqueued.clear()

    assert redispatch_stale_events() == 1
    assert enqueued == [(STANDIN_DISPATCH_TASK, str(connection.pk), stuck.stripe_event_id)]
