import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0002_workflow_owner"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="rerun_of",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                help_text="The run this one re-runs. A run is re-run once (one click, one new "
                "run, however many requests arrive); its re-run can be re-run in turn.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="rerun",
                to="workflows.run",
            ),
        ),
    ]
