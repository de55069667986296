"""Benchmark the event pipeline: signed webhook -> inbox -> dispatch -> run -> Stripe call.

A script, not a test. What it does, on PostgreSQL with the ORM broker:

1. migrates a scratch database, creates a connection with 10 workflows (one
   for ``customer.updated``, nine on other event types);
2. starts a Stripe stub on 127.0.0.1 that answers like Stripe (JSON, Request-Id)
   and records when each request arrived and its Idempotency-Key;
3. runs the app under gunicorn and ``manage.py worker`` with 2 workers;
4. posts signed ``customer.updated`` events at a steady rate (20/s) for a
   duration (60 s) and reports event-received -> first Stripe call latency
   (p50, p99; "received" is the inbox row's ``received_at``) and completed runs;
5. measures ``dispatch`` alone with those 10 workflows, then again after
   loading 10,000 workflows on other connections and event types, and reports
   the ratio (the target: within 20%); then repeats a shorter load to show the
   end-to-end latency with the 10,000 workflows present.

Usage:
    .venv/bin/python bench/pipeline.py [--duration 60] [--rate 20]
        [--database-url postgres://postgres@127.0.0.1:5432/konnectify_bench]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import gunicorn, recreate_postgres_database  # noqa: E402 (needs the path)
from konnectify.platform import processes  # noqa: E402

WEBHOOK_SECRET = "whsec_bench_" + "0" * 24
EVENT_TYPE = "customer.updated"
OTHER_TYPES = [
    "customer.created",
    "customer.deleted",
    "invoice.created",
    "invoice.paid",
    "product.updated",
    "price.created",
    "payment_intent.created",
    "coupon.created",
    "invoice.finalized",
]


# -- the Stripe stub --------------------------------------------------------------


class StripeStub:
    """A local HTTP server answering like Stripe; records (time, method, path, key)."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, str, str | None]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are two writes: without TCP_NODELAY, Nagle and the
            # client's delayed ACK add ~40 ms to every answer, which Stripe does not.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def do_DELETE(self) -> None:
                self.answer()

            def answer(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = urlsplit(self.path).path
                with stub.lock:
                    stub.requests.append(
                        (arrived, self.command, path, self.headers.get("Idempotency-Key"))
                    )
                body = json.dumps(stub.body_for(path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def body_for(path: str) -> dict:
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[1] == "customers":
            return {"id": parts[2], "object": "customer", "livemode": False}
        if parts[-1] == "events":
            return {"object": "list", "data": [], "has_more": False}
        return {"id": "obj_stub", "object": parts[-1].rstrip("s") if parts else "object"}

    def first_call_by_path(self) -> dict[str, float]:
        first: dict[str, float] = {}
        with self.lock:
            for arrived, _, path, _ in self.requests:
                first.setdefault(path, arrived)
        return first


# -- environment ------------------------------------------------------------------


def prepare_environment(args: argparse.Namespace, stub: StripeStub) -> dict[str, str]:
    from cryptography.fernet import Fernet

    recreate_postgres_database(args.database_url)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": args.database_url,
        "DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "konnectify.settings",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "STRIPE_API_BASE": stub.url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}",
        "Q_WORKERS": "2",
        "LOG_LEVEL": args.log_level,
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def manage(env: dict[str, str], *command: str) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, check=True)


def start(env: dict[str, str], command: list[str], log: Path) -> subprocess.Popen:
    log.unlink(missing_ok=True)
    return processes.start(command, cwd=BASE_DIR, env=env, log=log)


def stop(process: subprocess.Popen) -> None:
    processes.stop(process, timeout=20)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- data -------------------------------------------------------------------------


def create_bench_connection():
    from connections.models import Connection
    from tests.support.factories import make_connection, make_workflow

    connection = make_connection(
        name="Bench",
        secret_key="sk_test_" + "b" * 40,
        webhook_mode=Connection.WebhookMode.MANUAL,  # no endpoint calls during the bench
        webhook_secret=WEBHOOK_SECRET,
    )
    tag = {"id": "{{ trigger.data.object.id }}", "metadata": {"event": "{{ trigger.id }}"}}
    for event_type in [EVENT_TYPE, *OTHER_TYPES]:
        make_workflow(
            connection, event_type, [("tag", "update_customer", tag)], name=f"Bench {event_type}"
        )
    return connection


def other_connections(count: int, per_connection: int = 100) -> list:
    """The connections that will hold the other workflows (created once)."""
    from connections.models import Connection

    return Connection.objects.bulk_create(
        Connection(
            name=f"Other {n}",
            mode=Connection.Mode.TEST,
            webhook_mode=Connection.WebhookMode.MANUAL,
        )
        for n in range(max(count // per_connection, 1))
    )


def load_other_workflows(count: int, connections: list) -> None:
    """``count`` active workflows on other connections and other event types (bulk)."""
    from stripe_connector.catalog import TRIGGERS
    from workflows.models import Workflow

    types = [t.event_type for t in TRIGGERS.values() if t.event_type]
    rows = [
        Workflow(
            name=f"Other {n}",
            connection=connections[n % len(connections)],
            trigger_key=types[n % len(types)],
            event_type=types[n % len(types)],
            active=True,
        )
        for n in range(count)
    ]
    Workflow.objects.bulk_create(rows, batch_size=2000)


def unload_other_workflows(connections: list) -> None:
    """Remove them again, in SQL: no per-row signals (this is only the bench's reset)."""
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute(
            "DELETE FROM workflows_workflow WHERE connection_id = ANY(%s)",
            [[c.pk for c in connections]],
        )
    with db.cursor() as cursor:
        cursor.execute("ANALYZE workflows_workflow")


def compare_dispatch(connection, others: int, rounds: int, per_round: int) -> dict:
    """Dispatch timings with 10 workflows and with ``others`` more, in alternating rounds.

    Alternating spreads the noise of a shared machine over both conditions,
    instead of giving each condition its own stretch of time.
    """
    connections = other_connections(others)
    samples: dict[str, list[float]] = {"10": [], "others": [], "sql_10": [], "sql_others": []}
    for round_no in range(rounds):
        unload_other_workflows(connections)
        samples["10"] += time_dispatch(connection, per_round, f"d10_{round_no}_")
        samples["sql_10"] += query_times(connection, per_round)
        load_other_workflows(others, connections)
        samples["others"] += time_dispatch(connection, per_round, f"d10k_{round_no}_")
        samples["sql_others"] += query_times(connection, per_round)
    return samples


def query_times(connection, count: int) -> list[float]:
    """PostgreSQL's own execution time (ms) of the dispatch query: no Python noise."""
    from workflows.models import Workflow

    query = Workflow.objects.filter(connection_id=connection.pk, event_type=EVENT_TYPE, active=True)
    return [
        json.loads(query.explain(format="json", analyze=True))[0]["Execution Time"]
        for _ in range(count)
    ]


# -- load -------------------------------------------------------------------------


def sign(body: bytes) -> str:
    from stripe_connector.signature import sign_payload

    return sign_payload(body, WEBHOOK_SECRET, int(time.time()))


def post_events(url: str, rate: float, duration: float, prefix: str) -> list[str]:
    """POST signed events at a steady rate; returns the customer ids (one per event)."""
    total = int(rate * duration)
    session = requests.Session()
    ids = [f"cus_{prefix}{n:06d}" for n in range(total)]
    failures = []

    from tests.support.factories import event_envelope

    def post(n: int) -> None:
        event = event_envelope(EVENT_TYPE, id=f"evt_{prefix}{n:06d}", data_object={"id": ids[n]})
        body = json.dumps(event).encode()
        answer = session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(body)},
            timeout=10,
        )
        if answer.status_code != 200:
            failures.append(answer.status_code)

    start_at = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for n in range(total):
            delay = start_at + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, n)
    if failures:
        print(f"  {len(failures)} deliveries failed: {sorted(set(failures))}")
    return ids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report_latency(stub: StripeStub, ids: list[str], label: str) -> dict:
    from connections.models import InboxEvent
    from workflows.models import Run, RunStatus

    first_call = stub.first_call_by_path()
    received = dict(
        InboxEvent.objects.filter(data_object_id_in(ids), type=EVENT_TYPE).values_list(
            "payload__data__object__id", "received_at"
        )
    )
    latencies = [
        (first_call[f"/v1/customers/{cid}"] - received[cid].timestamp()) * 1000
        for cid in ids
        if cid in received and f"/v1/customers/{cid}" in first_call
    ]
    runs = Run.objects.filter(event__stripe_event_id__in=[f"evt_{cid[4:]}" for cid in ids])
    succeeded = runs.filter(status=RunStatus.SUCCEEDED).count()
    result = {
        "events_posted": len(ids),
        "events_stored": len(received),
        "runs_completed": succeeded,
        "runs_failed": runs.filter(status=RunStatus.FAILED).count(),
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }
    print(f"  {label}: {json.dumps(result)}")
    return result


def data_object_id_in(ids: list[str]):
    from django.db.models import Q

    return Q(stripe_event_id__in=[f"evt_{cid[4:]}" for cid in ids])


def time_dispatch(connection, samples: int, prefix: str) -> list[float]:
    """Milliseconds per ``engine.dispatch`` of a fresh event (worker stopped)."""
    from django.utils import timezone

    from connections.models import InboxEvent
    from workflows.engine import dispatch

    timings = []
    warm_up = 5  # connections, caches and plans settle first; not counted
    for n in range(samples + warm_up):
        event = InboxEvent.objects.create(
            connection=connection,
            stripe_event_id=f"evt_{prefix}{n:06d}",
            type=EVENT_TYPE,
            created=timezone.now(),
            livemode=False,
            payload={
                "id": f"evt_{prefix}{n:06d}",
                "type": EVENT_TYPE,
                "data": {"object": {"id": f"cus_{prefix}{n:06d}"}},
            },
        )
        started = time.perf_counter()
        dispatch(event.pk)
        if n >= warm_up:
            timings.append((time.perf_counter() - started) * 1000)
    discard_queued_runs()
    return timings


def discard_queued_runs() -> None:
    """The timed dispatches queued runs for payloads without data: drop them unexecuted."""
    from django_q.models import OrmQ

    from workflows.models import Run

    OrmQ.objects.all().delete()
    Run.objects.filter(event__stripe_event_id__startswith="evt_d10").delete()


def explain_dispatch_query(connection) -> str:
    from workflows.models import Workflow

    query = Workflow.objects.filter(connection_id=connection.pk, event_type=EVENT_TYPE, active=True)
    return query.explain()


# -- main -------------------------------------------------------------------------


def run_load(args, env, stub, url, label, duration, prefix) -> dict:
    logs = Path(args.data_dir)
    bind = f"127.0.0.1:{args.port}"
    with gunicorn(env, bind, logs / f"gunicorn-{prefix}.log", workers=2, threads=1):
        worker = start(env, [sys.executable, "manage.py", "worker"], logs / f"worker-{prefix}.log")
        try:
            wait_for_cluster()
            print(f"Posting {args.rate}/s for {duration}s ({label}) ...")
            ids = post_events(url, args.rate, duration, prefix)
            wait_for_runs_of(ids, timeout=60)
            result = report_latency(stub, ids, label)
            discard_queued_runs()  # a backlog must not spill into the next phase
            return result
        finally:
            stop(worker)


def wait_for_cluster(timeout: float = 120) -> None:
    """Until a task has gone through the cluster: measure a warm cluster, not its start-up.

    ``save=True``: the product keeps no successful task's result (``save_limit`` -1),
    so this one task asks for its result to be kept.
    """
    from django_q.tasks import async_task, result

    task_id = async_task("tests.support.tasks.echo", "ready", save=True)
    if result(task_id, wait=int(timeout * 1000)) != "ready":
        raise SystemExit("The cluster did not run a task in time; see its log.")


def wait_for_runs_of(ids: list[str], timeout: float) -> None:
    from workflows.models import Run, RunStatus

    events = [f"evt_{cid[4:]}" for cid in ids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = Run.objects.filter(
            event__stripe_event_id__in=events, status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]
        ).count()
        if done >= len(ids):
            return
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--rate", type=float, default=20, help="events per second (default 20)")
    parser.add_argument("--port", type=int, default=0, help="app port (default: a free one)")
    parser.add_argument("--others", type=int, default=10_000, help="workflows loaded for phase 2")
    parser.add_argument("--dispatch-samples", type=int, default=60, help="per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating dispatch rounds")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/konnectify_bench"
    )
    parser.add_argument("--data-dir", default="/tmp/konnectify-bench")
    parser.add_argument("--log-level", default="WARNING", help="of gunicorn and the task worker")
    args = parser.parse_args()

    stub = StripeStub()
    args.port = args.port or free_port()
    env = prepare_environment(args, stub)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "createcachetable")

    import django

    django.setup()
    connection = create_bench_connection()
    url = f"http://127.0.0.1:{args.port}{connection.webhook_path}"
    print(f"Stripe stub at {stub.url}; app at {url}")

    print(f"Load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    first = run_load(args, env, stub, url, "10 workflows", args.duration, "a")

    print(f"Timing dispatch: 10 workflows vs {args.others + 10}, alternating rounds ...")
    samples = compare_dispatch(connection, args.others, args.rounds, args.dispatch_samples)
    before, after = samples["10"], samples["others"]
    print("  dispatch query plan:", explain_dispatch_query(connection).replace("\n", " | "))
    sql_before, sql_after = (statistics.median(samples[k]) for k in ("sql_10", "sql_others"))
    print(f"  dispatch query in PostgreSQL: {sql_before:.3f} ms -> {sql_after:.3f} ms (median)")
    med_before, med_after = statistics.median(before), statistics.median(after)
    ratio = med_after / med_before
    print(
        f"  dispatch median: {med_before:.2f} ms with 10 workflows, {med_after:.2f} ms with "
        f"{args.others + 10} ({(ratio - 1) * 100:+.1f}%); p90 {percentile(before, 0.9):.2f} -> "
        f"{percentile(after, 0.9):.2f} ms ({len(before)} + {len(after)} dispatches)"
    )

    second = run_load(
        args, env, stub, url, f"{args.others + 10} workflows", max(args.duration / 3, 1), "b"
    )
    keys = [key for _, method, _, key in stub.requests if method == "POST"]
    summary = {
        "load_10_workflows": first,
        "load_with_others": second,
        "dispatch_ms_median_10": round(med_before, 2),
        "dispatch_ms_median_with_others": round(med_after, 2),
        "dispatch_change_percent": round((ratio - 1) * 100, 1),
        "dispatch_query_ms_10": round(sql_before, 3),
        "dispatch_query_ms_with_others": round(sql_after, 3),
        "idempotency_keys_unique": len(keys) == len(set(keys)),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "targets_met": {
            "p50_under_300ms": (first["p50_ms"] or 1e9) < 300,
            "p99_under_1s": (first["p99_ms"] or 1e9) < 1000,
            "dispatch_within_20_percent": ratio <= 1.2,
        },
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
