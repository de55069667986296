"""Deleting a workflow (one or a queryset) resyncs its connection's endpoint."""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_q.models import Schedule

from workflows.models import Workflow


@receiver(post_delete, sender=Workflow, dispatch_uid="workflows.workflow_deleted")
def workflow_deleted(sender, instance: Workflow, **kwargs) -> None:
    from workflows.services import request_endpoint_sync, schedule_name

    Schedule.objects.filter(name=schedule_name(instance)).delete()
    if instance.active and instance.event_type:
        request_endpoint_sync([instance.connection_id])
