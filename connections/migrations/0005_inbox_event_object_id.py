"""InboxEvent.object_id: the event's data.object.id, indexed, filled for existing rows."""

from django.db import migrations, models

# Rows read (payloads included) and written per transaction-sized step: bounded memory,
# short locks, whatever the size of the inbox.
BATCH = 500


def object_id_of(payload) -> str:
    """As connections.inbox.event_object_id at the time of this migration."""
    data = payload.get("data") if isinstance(payload, dict) else None
    found = data.get("object") if isinstance(data, dict) else None
    value = found.get("id") if isinstance(found, dict) else None
    return value if isinstance(value, str) and len(value) <= 255 else ""


def backfill(apps, schema_editor):
    """Fill object_id from each stored payload, BATCH rows at a time in primary-key order."""
    InboxEvent = apps.get_model("connections", "InboxEvent")
    rows = InboxEvent.objects.using(schema_editor.connection.alias).order_by("pk")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last).only("pk", "payload")[:BATCH])
        if not batch:
            return
        for event in batch:
            event.object_id = object_id_of(event.payload)
        changed = [event for event in batch if event.object_id]
        InboxEvent.objects.using(schema_editor.connection.alias).bulk_update(changed, ["object_id"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    # Each batch commits on its own (PostgreSQL), so a large inbox is not one long transaction.
    atomic = False

    dependencies = [
        ("connections", "0004_inbox_event_payload_pruned_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboxevent",
            name="object_id",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The id of the object the event is about (data.object.id, e.g. "
                "cus_...); empty when it has none.",
                max_length=255,
            ),
        ),
        migrations.AddIndex(
            model_name="inboxevent",
            index=models.Index(fields=["object_id"], name="inbox_object_id_idx"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
