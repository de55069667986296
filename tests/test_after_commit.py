"""Work queued for after a commit: its failure is logged and the committed rows stand."""

import logging
import uuid

import pytest
from django.db import transaction

from connections import inbox, webhooks
from connections.models import InboxEvent
from konnectify.platform.commit import after_commit
from workflows import engine

pytestmark = pytest.mark.django_db(transaction=True)


def broker_down(*args, **kwargs):
    raise ConnectionError("the broker does not answer")


def test_a_failing_callback_is_logged_by_name_and_goes_no_further(caplog):
    calls = []
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        after_commit(calls.append, "done")
        after_commit(broker_down, 1, task_name="x")
    assert calls == ["done"]
    assert "Error calling broker_down in on_commit()" in caplog.text


@pytest.mark.parametrize(
    ("module", "name", "enqueue"),
    [
        (engine, "async_task", lambda: engine.enqueue_run_on_commit(41)),
        (webhooks, "async_task", lambda: webhooks.request_endpoint_sync(["0"])),
    ],
)
def test_a_broker_failure_after_commit_does_not_reach_the_caller(
    monkeypatch, caplog, module, name, enqueue
):
    monkeypatch.setattr(module, name, broker_down)
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        enqueue()
    assert "in on_commit()" in caplog.text
    assert "the broker does not answer" in caplog.text


def test_an_event_dispatch_on_another_broker_fails_after_the_commit_without_raising(
    monkeypatch, caplog
):
    monkeypatch.setattr(inbox, "queue_shares_database", lambda: False)
    monkeypatch.setattr(inbox, "enqueue_dispatch", broker_down)
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        inbox.schedule_dispatch(InboxEvent(connection_id=uuid.uuid4(), stripe_event_id="evt_1"))
    assert "Error calling broker_down in on_commit()" in caplog.text
