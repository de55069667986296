"""InboxEvent.status loses "failed": no code ever set it (a failed run is recorded on the
run, and the event stays "dispatched"). A row that has it anyway becomes "ignored",
with why in status_detail, so every stored status is one the code knows."""

from django.db import migrations, models


def retire_failed(apps, schema_editor):
    InboxEvent = apps.get_model("connections", "InboxEvent")
    InboxEvent.objects.using(schema_editor.connection.alias).filter(status="failed").update(
        status="ignored", status_detail="Was 'failed', a status no longer used."
    )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0005_inbox_event_object_id"),
    ]

    operations = [
        migrations.RunPython(retire_failed, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="inboxevent",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("dispatched", "Dispatched"),
                    ("ignored", "Ignored"),
                    ("mode_mismatch", "Mode mismatch"),
                ],
                default="received",
                max_length=20,
            ),
        ),
    ]
