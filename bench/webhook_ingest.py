"""Benchmark the Stripe webhook receiver against a bare Django view (a script, not a test).

    .venv/bin/python -m bench.webhook_ingest [--clients 32] [--events 5000]
        [--database-url postgres://postgres@127.0.0.1:5432/konnectify_bench_ingest]

It recreates its own PostgreSQL database, migrates it, creates one connection,
starts gunicorn on 127.0.0.1 (DEBUG off, as in production), then measures on the
same server: a bare view answering 200, the receiver with correctly signed new
events, and 1,000 events each delivered 10 times concurrently (which must leave
exactly 1,000 inbox rows). Prints a markdown block with the figures.
Targets: ingest >= 50% of the bare view's throughput; p99 < 50 ms at 32 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from pathlib import Path

from cryptography.fernet import Fernet

from bench.common import (
    BASE_DIR,
    LoadResult,
    Request,
    gunicorn,
    recreate_postgres_database,
    run_load,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/konnectify_bench_ingest"
SECRET = "whsec_bench_" + "0123456789abcdef" * 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--events", type=int, default=5000, help="requests per measured phase")
    parser.add_argument("--duplicates", type=int, default=1000, help="distinct duplicated events")
    parser.add_argument("--copies", type=int, default=10, help="deliveries of each duplicate")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread)")
    parser.add_argument("--bind", default="127.0.0.1:8765")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the server")
    parser.add_argument("--warm", type=int, default=300, help="requests before measuring")
    return parser.parse_args()


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """Production-like settings for the server and this process: DEBUG off, own secrets."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": args.database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATA_DIR": "/tmp/konnectify-bench-data",
        "LOG_LEVEL": args.log_level,
        "PYTHONUNBUFFERED": "1",
    }


def prepare_database(args: argparse.Namespace) -> str:
    """Fresh database, migrated, with one connection; returns its webhook path."""
    import django
    from django.core.management import call_command

    recreate_postgres_database(args.database_url)
    django.setup()
    call_command("migrate", verbosity=0)
    from connections.models import Connection

    connection = Connection.objects.create(
        name="bench", mode="test", key_kind="secret", webhook_secret=SECRET
    )
    return connection.webhook_path


def events(count: int, prefix: str) -> list[dict]:
    from tests.support.factories import event_envelope

    return [
        event_envelope(
            "customer.created",
            id=f"evt_{prefix}{i:07d}",
            data_object={"id": f"cus_{prefix}{i:07d}", "metadata": {}},
            request={"id": f"req_{i}", "idempotency_key": None},
        )
        for i in range(count)
    ]


def signed(path: str, event: dict) -> Request:
    from stripe_connector.signature import sign_payload

    body = json.dumps(event).encode()
    header = sign_payload(body, SECRET, int(time.time()))
    return Request(path, body, {"Content-Type": "application/json", "Stripe-Signature": header})


def inbox_rows(prefix: str) -> int:
    from connections.models import InboxEvent

    return InboxEvent.objects.filter(stripe_event_id__startswith=f"evt_{prefix}").count()


def measure(args, webhook: str) -> dict[str, LoadResult | int]:
    host, port = args.bind.rsplit(":", 1)
    port_number = int(port)
    warm = [signed(webhook, e) for e in events(args.warm, "warm")]
    run_load(host, port_number, warm, args.clients)
    run_load(host, port_number, [Request("/bench/bare/", r.body, r.headers) for r in warm], 8)

    fresh = [signed(webhook, e) for e in events(args.events, "new")]
    bare = run_load(
        host, port_number, [Request("/bench/bare/", r.body, r.headers) for r in fresh], args.clients
    )
    ingest = run_load(host, port_number, fresh, args.clients)

    duplicated = [signed(webhook, e) for e in events(args.duplicates, "dup")] * args.copies
    random.Random(4).shuffle(duplicated)
    duplicates = run_load(host, port_number, duplicated, args.clients)
    return {
        "bare": bare,
        "ingest": ingest,
        "duplicates": duplicates,
        "ingest_rows": inbox_rows("new"),
        "duplicate_rows": inbox_rows("dup"),
    }


def row(name: str, result: LoadResult) -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.status_counts().items()))
    return (
        f"| {name} | {len(result.latencies)} | {result.rate:,.0f} | {result.percentile(50):.1f} "
        f"| {result.percentile(99):.1f} | {statuses} |"
    )


def report(args, figures: dict) -> str:
    bare, ingest, dups = figures["bare"], figures["ingest"], figures["duplicates"]
    ratio = ingest.rate / bare.rate
    checks = [
        ("ingest >= 50% of bare throughput", ratio >= 0.5, f"{ratio:.0%}"),
        (f"ingest p99 < 50 ms at {args.clients} clients", ingest.percentile(99) < 50,
         f"{ingest.percentile(99):.1f} ms"),
        (f"{args.events} new events -> {args.events} rows", figures["ingest_rows"] == args.events,
         str(figures["ingest_rows"])),
        (f"{args.duplicates} events x {args.copies} deliveries -> {args.duplicates} rows",
         figures["duplicate_rows"] == args.duplicates, str(figures["duplicate_rows"])),
    ]  # fmt: skip
    lines = [
        f"### Webhook ingest benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"gunicorn {args.workers} workers x {args.threads} threads (gthread), PostgreSQL on "
        f"127.0.0.1, {args.clients} concurrent keep-alive clients, {os.cpu_count()} CPUs, "
        f"LOG_LEVEL={args.log_level}, DEBUG off.",
        "",
        "| phase | requests | req/s | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
        row("bare Django view", bare),
        row("webhook ingest (new events)", ingest),
        row(f"duplicates ({args.copies}x each)", dups),
        "",
        "| check | result | value |",
        "|---|---|---|",
        *(f"| {name} | {'pass' if ok else 'FAIL'} | {value} |" for name, ok, value in checks),
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    env = server_env(args)
    os.environ.update(env)
    Path(env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    webhook = prepare_database(args)
    from django.db import connections

    connections.close_all()
    log_path = BASE_DIR / "test-artifacts" / "bench-webhook-ingest-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    with gunicorn(env, args.bind, log_path, workers=args.workers, threads=args.threads):
        figures = measure(args, webhook)
    print(report(args, figures))


if __name__ == "__main__":
    main()
