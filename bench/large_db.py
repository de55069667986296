"""Admin and API pages on a large database: 1,000,000 runs and 1,000,000 inbox events.

    .venv/bin/python -m bench.large_db [--rows 1000000] [--repeat 2] [--explain] [--keep]

Builds a scratch PostgreSQL database (``bench_large`` by default, dropped and created
here, dropped again at the end unless ``--keep``; ``--reuse`` measures a kept one):
3 connections, 20 workflows, ``--rows`` inbox events received over ``--days`` days
(one an event, ids ``evt_...``, objects ``cus_...``), one run per event (90% succeeded,
6% failed, 2% skipped, 1% canceled, 1% retrying) with one step run each, all written by
``INSERT ... SELECT generate_series`` in a few statements, then ``VACUUM ANALYZE``.

Then times each page in this process with Django's test client, signed in as a
superuser, DEBUG off: the admin index (the runs chart), the runs and inbox lists with and
without searches and filters, a chart bar's list, one workflow's page, a run's and an
event's page, and the API lists. Each page is requested once to warm up, then
``--repeat`` times; the best time is reported with the page's statement count and
the time of its statements (one more request, timed by Django's debug cursor).
``--explain`` adds each page's slowest statement and its EXPLAIN ANALYZE plan.
``--prune`` then runs the retention task until it has nothing left (the older half of
the rows goes) and reports each call's counts, seconds and the peak RSS.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import recreate_postgres_database  # noqa: E402 (needs the path)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_large"
EVENT_TYPES = ["customer.updated", "customer.created", "invoice.paid", "invoice.created"]
TARGET_MS = 300


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="inbox events, and runs")
    parser.add_argument("--days", type=int, default=60, help="the events' span, up to now")
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2, help="timed requests per page (best)")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--explain", action="store_true", help="slowest statement per page")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database as is")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--prune", action="store_true", help="then prune (RETENTION_DAYS 30) and time it"
    )
    return parser.parse_args()


def configure(args: argparse.Namespace) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "konnectify.settings",
            "DATABASE_URL": args.database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + secrets.token_hex(16),
            # Fixed, so that --reuse can read the secrets of a kept database (scratch data).
            "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(
                b"bench-large".ljust(32, b"0")
            ).decode(),
            "DATA_DIR": "/tmp/konnectify-bench-data",
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
        }
    )
    Path(os.environ["DATA_DIR"]).mkdir(parents=True, exist_ok=True)


# -- building the database ----------------------------------------------------------


def build(args: argparse.Namespace) -> dict[str, float]:
    """Migrate, create the small tables with the ORM and the big ones in SQL; seconds taken."""
    from django.core.management import call_command
    from django.db import connection

    from connections.models import Connection, InboxEvent
    from tests.support.factories import make_connection, make_workflow
    from workflows.models import Run, StepRun

    seconds: dict[str, float] = {}
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    seconds["migrate"] = time.monotonic() - started

    connections = [
        make_connection(
            name=f"Bench large {n}",
            secret_key="sk_test_" + f"{n}" * 40,
            webhook_mode=Connection.WebhookMode.MANUAL,
            webhook_secret=f"whsec_bench_large_{n}_0123456789abcdef",
        )
        for n in range(3)
    ]
    step = ("tag", "update_customer", {"id": "{{ trigger.data.object.id }}"})
    workflows = [
        make_workflow(
            connections[n % len(connections)],
            EVENT_TYPES[n % len(EVENT_TYPES)],
            [step],
            name=f"Bench workflow {n}",
        )
        for n in range(args.workflows)
    ]
    connection_ids = [str(c.pk) for c in connections]
    workflow_ids = [w.pk for w in workflows]
    span = args.days * 86400 / args.rows  # seconds between two events

    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute(
            *with_defaults(
                InboxEvent,
                """
            INSERT INTO connections_inboxevent (connection_id, stripe_event_id, type, object_id,
                created, livemode, api_version, payload, received_at, source, status,
                status_detail, payload_pruned_at /*more columns*/)
            SELECT c.connection_id, c.event_id, c.type, c.object_id, c.at, false,
                '2026-04-22.dahlia',
                jsonb_build_object('id', c.event_id, 'object', 'event', 'type', c.type,
                    'created', extract(epoch FROM c.at)::bigint, 'livemode', false,
                    'api_version', '2026-04-22.dahlia', 'pending_webhooks', 1,
                    'request', jsonb_build_object('id', 'req_' || c.i, 'idempotency_key', null),
                    'data', jsonb_build_object('object', jsonb_build_object(
                        'id', c.object_id, 'object', 'customer',
                        'email', 'customer' || c.i || '@example.com', 'name', 'Customer ' || c.i,
                        'metadata', jsonb_build_object('order', c.i::text),
                        'created', extract(epoch FROM c.at)::bigint, 'livemode', false)),
                    'previous_attributes', jsonb_build_object('name', null)),
                c.at, 'webhook', 'dispatched', '', NULL /*more values*/
            FROM (
                SELECT i,
                    (%(connections)s::uuid[])[1 + i %% %(n_connections)s] AS connection_id,
                    'evt_1Bench' || lpad(i::text, 10, '0') AS event_id,
                    (%(types)s::text[])[1 + i %% %(n_types)s] AS type,
                    'cus_Bench' || lpad((i %% 200000)::text, 8, '0') AS object_id,
                    now() - make_interval(secs => (%(rows)s - i) * %(span)s) AS at
                FROM generate_series(1, %(rows)s) AS i
            ) AS c
            """,
                {
                    "connections": connection_ids,
                    "n_connections": len(connection_ids),
                    "types": EVENT_TYPES,
                    "n_types": len(EVENT_TYPES),
                    "rows": args.rows,
                    "span": span,
                },
            )
        )
        seconds["inbox events"] = time.monotonic() - started
        started = time.monotonic()
        cursor.execute(
            *with_defaults(
                Run,
                """
            INSERT INTO workflows_run (workflow_id, event_id, scheduled_for, replay, status,
                error, created_at, started_at, finished_at, updated_at /*more columns*/)
            SELECT (%(workflows)s::bigint[])[1 + e.id %% %(n_workflows)s], e.id, NULL, 0, s.status,
                CASE WHEN s.status = 'failed'
                    THEN 'Step tag: Your card was declined. (card_declined, 402)' ELSE '' END,
                e.received_at + interval '40 ms', e.received_at + interval '60 ms',
                e.received_at + interval '400 ms', e.received_at + interval '400 ms'
                /*more values*/
            FROM connections_inboxevent e
            CROSS JOIN LATERAL (SELECT CASE
                WHEN e.id %% 100 < 90 THEN 'succeeded' WHEN e.id %% 100 < 96 THEN 'failed'
                WHEN e.id %% 100 < 98 THEN 'skipped' WHEN e.id %% 100 < 99 THEN 'canceled'
                ELSE 'retrying' END AS status) AS s
            """,
                {"workflows": workflow_ids, "n_workflows": len(workflow_ids)},
            )
        )
        seconds["runs"] = time.monotonic() - started
        started = time.monotonic()
        cursor.execute(
            *with_defaults(
                StepRun,
                """
            INSERT INTO workflows_steprun (run_id, step_id, "order", step_name, action_key,
                input_mapping, on_failure, status, attempts, next_attempt_at, claimed_at,
                idempotency_key, input, left_out_fields, output, error, request_id, duration_ms,
                created_at, started_at, finished_at /*more columns*/)
            SELECT r.id, NULL, 0, 'tag', 'update_customer',
                '{"id": "{{ trigger.data.object.id }}"}'::jsonb, 'stop', r.status, 1, NULL, NULL,
                'bench-large-' || r.id, jsonb_build_object('id', 'cus_Bench' || r.event_id),
                '[]'::jsonb,
                CASE WHEN r.status = 'succeeded'
                    THEN jsonb_build_object('id', 'cus_Bench' || r.event_id, 'object', 'customer')
                END,
                CASE WHEN r.status = 'failed' THEN jsonb_build_object('type', 'card_error',
                    'code', 'card_declined', 'message', 'Your card was declined.', 'status', 402)
                END,
                'req_bench' || r.id, 340, r.created_at, r.started_at, r.finished_at
                /*more values*/
            FROM workflows_run r
            """,
                {},
            )
        )
        seconds["step runs"] = time.monotonic() - started
    started = time.monotonic()
    vacuum_analyze()
    seconds["vacuum analyze"] = time.monotonic() - started
    return seconds


def with_defaults(model, sql: str, params: dict) -> tuple[str, dict]:
    """``sql`` with the model's columns it does not name added, each with its default.

    The INSERTs above name the columns they fill; a column added to the model later
    (NOT NULL, with a default in Python only) gets that default here, so the script
    keeps working as the models grow. Returns (sql, params) for ``cursor.execute``.
    """
    from django.db import connection

    head = sql.split("/*more columns*/")[0]
    named = set(head[head.index("(") + 1 :].replace('"', "").replace(",", " ").split())
    columns, values, extra = [], [], {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in named:
            continue
        # What Django itself would write for an unset field ("" for text, None if null).
        extra[f"default_{field.column}"] = field.get_db_prep_save(field.get_default(), connection)
        columns.append(f", {connection.ops.quote_name(field.column)}")
        values.append(f", %(default_{field.column})s")
    sql = sql.replace("/*more columns*/", "".join(columns))
    return sql.replace("/*more values*/", "".join(values)), {**params, **extra}


def vacuum_analyze() -> None:
    from django.db import connection

    connection.ensure_connection()
    autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.set_autocommit(autocommit)


# -- the pages ----------------------------------------------------------------------


def pages(rows: int) -> list[tuple[str, str]]:
    """(label, path) of every page timed, with ids of rows that exist."""
    from django.utils import timezone

    from connections.models import InboxEvent
    from workflows import charts
    from workflows.models import Run, Workflow

    run = Run.objects.order_by("-id").only("id", "event_id").first()
    event = InboxEvent.objects.only("id", "stripe_event_id", "object_id").get(pk=run.event_id)
    workflow = Workflow.objects.order_by("id").first()
    yesterday = timezone.localdate() - timedelta(days=1)
    deep = max(1, min(50, rows // 100))  # a page far into the list (100 runs a page)
    return [
        ("admin index (runs chart)", "/admin/"),
        ("runs list", "/admin/workflows/run/"),
        (f"runs list, page {deep}", f"/admin/workflows/run/?p={deep}"),
        ("runs list ?q=cus_ (object id)", f"/admin/workflows/run/?q={event.object_id}"),
        ("runs list ?q=evt_ (event id)", f"/admin/workflows/run/?q={event.stripe_event_id}"),
        ("runs list ?q=workflow name", "/admin/workflows/run/?q=Bench+workflow+7"),
        ("runs list, failed", "/admin/workflows/run/?status__exact=failed"),
        ("runs list, one workflow", f"/admin/workflows/run/?workflow__id__exact={workflow.pk}"),
        ("runs list, a chart bar (a day, failed)", charts.runs_list_url(yesterday, "failed")),
        ("inbox list", "/admin/connections/inboxevent/"),
        ("inbox list ?q=evt_", f"/admin/connections/inboxevent/?q={event.stripe_event_id}"),
        ("inbox list ?q=cus_", f"/admin/connections/inboxevent/?q={event.object_id}"),
        ("inbox list, one type", "/admin/connections/inboxevent/?type__exact=invoice.paid"),
        ("one workflow's page", f"/admin/workflows/workflow/{workflow.pk}/change/"),
        ("run detail", f"/admin/workflows/run/{run.pk}/change/"),
        ("event detail", f"/admin/connections/inboxevent/{event.pk}/change/"),
        ("/api/v1/runs/", "/api/v1/runs/"),
        ("/api/v1/events/", "/api/v1/events/"),
        ("/api/v1/runs/?status=failed", "/api/v1/runs/?status=failed"),
    ]


def measure(args: argparse.Namespace) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user, _ = get_user_model().objects.get_or_create(
        username="bench-large", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    results = []
    for label, path in pages(args.rows):
        answer = client.get(path)  # warm: templates, plans, caches
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            answer = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        row = {
            "page": label,
            "path": path,
            "status": answer.status_code,
            "ms": round(min(timings), 1),
            "statements": len(queries),
            "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
        }
        if args.explain and queries:
            slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
            row["slowest_sql"] = slowest["sql"]
            row["slowest_ms"] = round(float(slowest["time"]) * 1000, 1)
            row["plan"] = explain(slowest["sql"])
        results.append(row)
        print(f"  {label}: {row['ms']} ms, {row['statements']} statements", file=sys.stderr)
    return results


def explain(sql: str) -> str:
    from django.db import connection

    if not sql.lstrip().upper().startswith("SELECT"):
        return ""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def table_sizes() -> dict[str, int]:
    """Rows in the three big tables, counted (once, after the pages are timed)."""
    from connections.models import InboxEvent
    from workflows.models import Run, StepRun

    return {model._meta.db_table: model.objects.count() for model in (InboxEvent, Run, StepRun)}


def report(args, built: dict[str, float], sizes: dict[str, int], rows: list[dict]) -> str:
    load = os.getloadavg()
    lines = [
        f"### Pages at {args.rows:,} runs and inbox events "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"`{' '.join(['.venv/bin/python -m bench.large_db', *sys.argv[1:]])}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end; rows "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(sizes.items()))
        + ("; built in " + ", ".join(f"{k} {v:.0f} s" for k, v in built.items()) if built else ""),
        "",
        f"| page | best of {args.repeat}, ms | of which SQL, ms | statements | status "
        f"| under {TARGET_MS} ms |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ok = "yes" if row["ms"] < TARGET_MS and row["status"] == 200 else "**no**"
        lines.append(
            f"| {row['page']} | {row['ms']:,.1f} | {row['sql_ms']:,.1f} | {row['statements']} "
            f"| {row['status']} | {ok} |"
        )
    if args.explain:
        for row in rows:
            if row.get("plan"):
                lines += ["", f"#### {row['page']}: slowest statement {row['slowest_ms']} ms", ""]
                lines += ["```", row["slowest_sql"], "", row["plan"], "```"]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    configure(args)
    if not args.reuse:
        recreate_postgres_database(args.database_url)
    import django

    django.setup()
    from django.db import connections

    built = {} if args.reuse else build(args)
    try:
        rows = measure(args)
        sizes = table_sizes()
        pruned = prune(args) if args.prune else []
    finally:
        connections.close_all()
        if not args.keep:
            drop_database(args.database_url)
    if args.json:
        figures = {"built_seconds": built, "rows": sizes, "pages": rows, "prune": pruned}
        print(json.dumps(figures, indent=2))
    else:
        print(report(args, built, sizes, rows))
        if pruned:
            print(prune_report(args, pruned))


def prune(args: argparse.Namespace) -> list[dict]:
    """Run ``workflows.tasks.prune`` until it has nothing left; each call's figures.

    With RETENTION_DAYS 30 the older half of the events and runs go. Each call stops
    after half of Q_TIMEOUT and enqueues the next (the queue row is written, no worker
    runs it here: this loop plays the worker). Peak RSS is this process's (ru_maxrss).
    """
    import resource

    from django.conf import settings

    from workflows import tasks

    settings.RETENTION_DAYS = 30
    calls = []
    while True:
        started = time.monotonic()
        counts = tasks.prune()
        calls.append(
            {
                **counts,
                "seconds": round(time.monotonic() - started, 1),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
        print(f"  prune: {calls[-1]}", file=sys.stderr)
        if not any(counts.values()):
            return calls


def prune_report(args: argparse.Namespace, calls: list[dict]) -> str:
    from django.conf import settings

    from workflows.tasks import PRUNE_BATCH_SIZE

    lines = [
        "",
        f"#### Pruning (RETENTION_DAYS 30, batches of {PRUNE_BATCH_SIZE}, Q_TIMEOUT "
        f"{settings.Q_TIMEOUT} s: each call stops after {settings.Q_TIMEOUT / 2:.0f} s)",
        "",
        "| call | runs deleted | inbox events deleted | payloads pruned | seconds | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for number, call in enumerate(calls, start=1):
        lines.append(
            f"| {number} | {call['runs']:,} | {call['inbox_events']:,} | "
            f"{call['inbox_payloads']:,} | {call['seconds']} | {call['peak_rss_mib']} |"
        )
    return "\n".join(lines)


def drop_database(url: str) -> None:
    import psycopg

    from bench.common import database_url_for

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(database_url_for(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
