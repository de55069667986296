"""Staff find a workflow's runs in admin by the id of the object their event is about."""

import pytest
from django.urls import reverse

from connections.inbox import ingest
from tests.support.factories import event_envelope
from workflows.engine import create_run
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def test_staff_find_runs_by_their_events_object_id_in_admin(staff_client, connection):
    workflow = Workflow.objects.create(
        name="Paid", connection=connection, trigger_key="invoice.paid", active=True
    )
    runs = {}
    for invoice in ("in_1Paid", "in_1Other"):
        event, _ = ingest(connection, event_envelope("invoice.paid", data_object={"id": invoice}))
        runs[invoice] = create_run(workflow, event=event, enqueue=False)
    response = staff_client.get(reverse("admin:workflows_run_changelist"), {"q": "in_1Paid"})
    assert response.status_code == 200
    assert [run.pk for run in response.context["cl"].result_list] == [runs["in_1Paid"].pk]
