"""``manage.py worker``: the django-q2 task cluster (what ``qcluster`` runs), stopped
cleanly by SIGTERM or SIGINT sent to it alone or to its whole process group.

``qcluster`` stops cleanly only when its leader alone gets the signal. Its sentinel
process resets SIGTERM to the default action, so a SIGTERM to every process (systemd's
``KillMode=control-group``, ``kill -TERM -<pgid>``, a container runtime that signals
the group) kills the sentinel and the workers mid-task, and the leader then waits on
the dead sentinel until it is killed (systemd: 90 s, then SIGKILL).

Here the leader blocks SIGTERM and SIGINT before it starts the cluster. A blocked
signal stays blocked in every process forked afterwards, whatever handler they
install, so the sentinel, workers, pusher and monitor never act on them; the leader
takes them synchronously (no signal handler runs) and stops the cluster as django-q2
does: the pusher stops taking tasks, each worker finishes the task in hand, the
monitor saves the results. A task past its timeout is still stopped by django-q2's
own alarm inside the worker (SIGALRM, not blocked).
"""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django_q.cluster import Cluster

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# How often the leader checks that the cluster is still alive while it waits for a signal.
POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run the background task cluster; SIGTERM or SIGINT stops it after the tasks in hand."

    def handle(self, *args, **options) -> None:
        problem = unprepared_database()
        if problem:
            # Else django-q2 logs "no such table" ten times a second, forever.
            raise CommandError(f"{problem} Run `manage.py bootstrap` first.")
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        cluster = Cluster()
        cluster.start()
        received = wait_for_stop_signal(cluster)
        if received is None:
            raise SystemExit("The task cluster's sentinel exited on its own; stopping.")
        self.stderr.write(f"{signal.Signals(received).name}: finishing the tasks in hand.")
        cluster.stop()


def unprepared_database() -> str | None:
    """What ``bootstrap`` has yet to do to the default database (one sentence), or None.

    The cluster needs every migration applied (its task tables, ours) and the cache
    table of each database cache (``createcachetable``): its workers read the cache.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return f"The database lacks {len(pending)} migration(s)."
    tables = set(connection.introspection.table_names())
    missing = sorted(
        cache["LOCATION"]
        for cache in settings.CACHES.values()
        if cache["BACKEND"].endswith("DatabaseCache") and cache["LOCATION"] not in tables
    )
    if missing:
        return f"The cache table {', '.join(missing)} does not exist."
    return None


def wait_for_stop_signal(cluster: Cluster) -> int | None:
    """Wait for SIGTERM or SIGINT (returns it), or for the cluster to die (None)."""
    while cluster.sentinel.is_alive():
        info = signal.sigtimedwait(STOP_SIGNALS, POLL_SECONDS)
        if info is not None:
            return info.si_signo
    return None
