"""Events each delivered 10 times by 32 concurrent clients, then dispatched twice each.

The receiver runs under gunicorn (2 processes) on the test database, as in production;
the load comes from 32 keep-alive clients (bench.common.run_load). Afterwards the
dispatch tasks the receiver queued (django-q2's ORM broker) are run here from 8
threads, each event twice, as if every task had been delivered again.

CI delivers 100 events (1,000 requests) to stay fast on a small machine;
``FAULT_EVENTS=1000`` is the issue's 1,000 x 10 (``bench/faults.py duplicates``
runs it and reports the figures).
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.db.models import Count
from django_q.models import OrmQ

from bench.common import Request, run_load
from connections.models import InboxEvent
from tests.support.processes import running, wait_until
from workflows import engine
from workflows.models import Run

from .conftest import create_customer_workflow, make_event, signature_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EVENTS = int(os.environ.get("FAULT_EVENTS", "100"))
COPIES, CLIENTS = 10, 32


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def deliveries(path: str) -> list[Request]:
    """Every event COPIES times, each copy signed on its own, shuffled."""
    requests = []
    for event in (make_event() for _ in range(EVENTS)):
        body = json.dumps(event).encode()
        for _ in range(COPIES):
            headers = {"Content-Type": "application/json", "Stripe-Signature": signature_for(body)}
            requests.append(Request(path, body, headers))
    random.Random(10).shuffle(requests)
    return requests


def dispatch_twice_concurrently(event_ids: list[int]) -> None:
    def dispatch(event_id: int) -> None:
        try:
            engine.dispatch(event_id)
        finally:
            db_connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(dispatch, event_ids * 2))


def test_each_event_is_stored_once_and_runs_once_per_workflow(connection, enqueued, artifacts):
    if db_connection.vendor != "postgresql":
        pytest.skip("Concurrent writers from several processes need PostgreSQL.")
    workflows = [create_customer_workflow(connection) for _ in range(2)]
    create_customer_workflow(connection, "invoice.paid")  # matches nothing: no runs
    requests = deliveries(connection.webhook_path)
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "konnectify.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", "2", "--worker-class", "gthread", "--threads", "4"]  # fmt: skip

    log = artifacts / "faults-duplicates-gunicorn.log"
    with running(command, log, REDIS_URL="", DEBUG="false", LOG_LEVEL="WARNING") as server:
        wait_until(lambda: server.poll() is not None or port_open(port), timeout=30)
        assert server.poll() is None, "gunicorn did not start; see its log"
        started = time.monotonic()
        result = run_load("127.0.0.1", port, requests, CLIENTS)
        elapsed = time.monotonic() - started

    assert Counter(result.statuses) == {200: EVENTS * COPIES}, (result.status_counts(), elapsed)
    stored = sorted(InboxEvent.objects.values_list("pk", flat=True))
    assert len(stored) == EVENTS
    tasks = [task.task for task in OrmQ.objects.all()]
    queued = [task["args"] for task in tasks if task["func"] == settings.EVENT_DISPATCH_TASK]
    keys = InboxEvent.objects.values_list("connection_id", "stripe_event_id")
    # One dispatch task per stored event, none per duplicate.
    assert sorted(queued) == sorted((str(pk), event_id) for pk, event_id in keys)

    dispatch_twice_concurrently(stored)

    per_pair = Run.objects.values("workflow", "event").annotate(runs=Count("id"))
    assert {row["runs"] for row in per_pair} == {1}
    assert per_pair.count() == EVENTS * len(workflows)
    assert {row["workflow"] for row in per_pair} == {w.pk for w in workflows}
    started_runs = [args[0] for func, *args in enqueued if func == engine.RUN_TASK]
    assert sorted(started_runs) == sorted(Run.objects.values_list("pk", flat=True))
