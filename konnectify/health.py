"""GET /healthz: is the database answering and has the worker cluster reported?"""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
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


@transaction.non_atomic_requests
@never_cache
@require_GET
def healthz(request):
    db = database_ok()
    clusters = clusters_reporting() if db else 0
    failing = [name for name, ok in (("database", db), ("worker", clusters > 0)) if not ok]
    body = {
        "status": "ok" if not failing else "unhealthy",
        "database": "ok" if db else "unreachable",
        "worker": f"{clusters} cluster(s) reporting" if clusters else "no cluster reporting",
        "failing": failing,
    }
    return JsonResponse(body, status=503 if failing else 200)
