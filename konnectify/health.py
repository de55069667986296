"""GET /healthz: is the database answering, has a worker cluster reported, is the queue moving?"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import OrmQ
from django_q.status import Stat


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


def clusters_reporting() -> int:
    """How many django-q2 clusters published a heartbeat in the last few seconds."""
    try:
        return len(Stat.get_all())
    except DatabaseError:
        return 0


def oldest_waiting_task_seconds() -> float | None:
    """Age of the oldest task no worker has taken (ORM broker only; None when none waits).

    A cluster can keep publishing its heartbeat while its workers are stuck (a
    worker killed while holding django-q2's internal queue lock freezes them
    all); tasks that nobody takes are how that shows.
    """
    if "orm" not in settings.Q_CLUSTER:
        return None
    now = timezone.now()
    # A taken task's lock lies in the future (until it may be handed out again).
    oldest = OrmQ.objects.filter(lock__lte=now).order_by("lock").values_list("lock", flat=True)
    first = oldest.first()
    return None if first is None else (now - first).total_seconds()


@transaction.non_atomic_requests
@never_cache
@require_GET
def healthz(request):
    db = database_ok()
    clusters = clusters_reporting() if db else 0
    waiting = oldest_waiting_task_seconds() if db else None
    queue_ok = waiting is None or waiting < settings.HEALTH_QUEUE_STALL_SECONDS
    checks = (("database", db), ("worker", clusters > 0), ("queue", queue_ok))
    failing = [name for name, ok in checks if not ok]
    body = {
        "status": "ok" if not failing else "unhealthy",
        "database": "ok" if db else "unreachable",
        "worker": f"{clusters} cluster(s) reporting" if clusters else "no cluster reporting",
        "queue": "empty" if waiting is None else f"oldest waiting task {int(waiting)} s old",
        "failing": failing,
    }
    return JsonResponse(body, status=503 if failing else 200)
