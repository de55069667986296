"""An inbox event is received, dispatched, ignored or a mode mismatch: no "failed", which
no code ever set (a failure belongs to the run); stored rows that have it are migrated."""

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from connections.models import InboxEvent

BEFORE = [("connections", "0005_inbox_event_object_id")]
AFTER = [("connections", "0006_inbox_event_status_without_failed")]


def test_an_inbox_event_has_no_failed_status():
    assert "failed" not in InboxEvent.Status.values


def migrate(targets):
    """Migrate to ``targets``; the historical apps at that point."""
    executor = MigrationExecutor(db)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_a_stored_failed_status_into_ignored():
    apps = migrate(BEFORE)
    try:
        connection = apps.get_model("connections", "Connection").objects.create(name="Old")
        event = apps.get_model("connections", "InboxEvent").objects.create(
            connection=connection,
            stripe_event_id="evt_old",
            type="customer.created",
            created=timezone.now(),
            livemode=False,
            payload={},
            status="failed",
        )

        apps = migrate(AFTER)

        event = apps.get_model("connections", "InboxEvent").objects.get(pk=event.pk)
        assert (event.status, event.status_detail) == (
            "ignored",
            "Was 'failed', a status no longer used.",
        )
    finally:
        migrate(MigrationExecutor(db).loader.graph.leaf_nodes())
