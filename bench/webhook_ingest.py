"""Benchmark the Stripe webhook receiver against a bare Django view (a script, not a test).

    .venv/bin/python -m bench.webhook_ingest [--clients 32] [--events 5000] [--rounds 3]
        [--workers 5] [--threads 1]
        [--database-url postgres://postgres@127.0.0.1:5432/konnectify_bench_ingest]

It recreates its own database (PostgreSQL, or SQLite with ``sqlite:///path``),
migrates it, creates one connection, starts gunicorn on 127.0.0.1 (DEBUG off, as in
production; sync workers with ``--threads 1``, gthread otherwise), then measures on the
same server, ``--rounds`` times: a bare view answering 200, the receiver with correctly
signed new events (which must leave one inbox row each), and ``--duplicates`` events
each delivered ``--copies`` times concurrently (which must leave one row each). Prints
a markdown block with every round and the medians.
Targets: ingest >= 50% of the bare view's throughput; p99 < 50 ms at 32 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
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
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (medians)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (1: sync, more: gthread)"
    )
    parser.add_argument("--bind", default="127.0.0.1:8765")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the server")
    parser.add_argument(
        "--warm",
        type=int,
        default=2000,
        help="new events before measuring (fewer left the first round's p99 twice the others')",
    )
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

    if args.database_url.startswith("sqlite:///"):
        database = Path(args.database_url.removeprefix("sqlite:///"))
        for leftover in database.parent.glob(f"{database.name}*"):  # with -wal, -shm
            leftover.unlink()
    else:
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


def measure(args, webhook: str, label: str) -> dict[str, LoadResult | int]:
    """One round: the bare view, new events, duplicates; events named after ``label``."""
    host, port = args.bind.rsplit(":", 1)
    port_number = int(port)
    fresh = [signed(webhook, e) for e in events(args.events, f"new{label}")]
    bare = run_load(
        host, port_number, [Request("/bench/bare/", r.body, r.headers) for r in fresh], args.clients
    )
    ingest = run_load(host, port_number, fresh, args.clients)

    duplicated = [signed(webhook, e) for e in events(args.duplicates, f"dup{label}")] * args.copies
    random.Random(4).shuffle(duplicated)
    duplicates = run_load(host, port_number, duplicated, args.clients)
    return {
        "bare": bare,
        "ingest": ingest,
        "duplicates": duplicates,
        "ingest_rows": inbox_rows(f"new{label}"),
        "duplicate_rows": inbox_rows(f"dup{label}"),
    }


def warm_up(args, webhook: str) -> None:
    host, port = args.bind.rsplit(":", 1)
    warm = [signed(webhook, e) for e in events(args.warm, "warm")]
    run_load(host, int(port), warm, args.clients)
    run_load(host, int(port), [Request("/bench/bare/", r.body, r.headers) for r in warm], 8)


def statuses(result: LoadResult) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(result.status_counts().items()))


def round_row(number: int, figures: dict) -> str:
    bare, ingest, dups = figures["bare"], figures["ingest"], figures["duplicates"]
    return (
        f"| {number} | {bare.rate:,.0f} | {bare.percentile(50):.1f} | {bare.percentile(99):.1f} "
        f"| {ingest.rate:,.0f} | {ingest.percentile(50):.1f} | {ingest.percentile(99):.1f} "
        f"| {ingest.rate / bare.rate:.2f} | {statuses(ingest)}; rows {figures['ingest_rows']} "
        f"| {dups.rate:,.0f} | {dups.percentile(99):.1f} | {statuses(dups)}; rows "
        f"{figures['duplicate_rows']} |"
    )


def median(rounds: list[dict], phase: str, measure) -> float:
    return statistics.median(measure(figures[phase]) for figures in rounds)


def report(args, rounds: list[dict]) -> str:
    ratio = statistics.median(f["ingest"].rate / f["bare"].rate for f in rounds)
    p99 = median(rounds, "ingest", lambda r: r.percentile(99))
    checks = [
        ("ingest >= 50% of bare throughput (median)", ratio >= 0.5, f"{ratio:.2f}"),
        (f"ingest p99 < 50 ms at {args.clients} clients (median)", p99 < 50, f"{p99:.1f} ms"),
        (f"{args.events} new events -> {args.events} rows, every round",
         all(f["ingest_rows"] == args.events for f in rounds),
         ", ".join(str(f["ingest_rows"]) for f in rounds)),
        (f"{args.duplicates} events x {args.copies} deliveries -> {args.duplicates} rows, "
         "every round", all(f["duplicate_rows"] == args.duplicates for f in rounds),
         ", ".join(str(f["duplicate_rows"]) for f in rounds)),
    ]  # fmt: skip
    server = (
        f"{args.workers} sync workers"
        if args.threads == 1
        else f"{args.workers} workers x {args.threads} threads (gthread)"
    )
    database = "SQLite" if args.database_url.startswith("sqlite") else "PostgreSQL on 127.0.0.1"
    medians = {
        "bare": (
            median(rounds, "bare", lambda r: r.rate),
            median(rounds, "bare", lambda r: r.percentile(50)),
            median(rounds, "bare", lambda r: r.percentile(99)),
        ),
        "ingest": (
            median(rounds, "ingest", lambda r: r.rate),
            median(rounds, "ingest", lambda r: r.percentile(50)),
            p99,
        ),
        "duplicates": (
            median(rounds, "duplicates", lambda r: r.rate),
            median(rounds, "duplicates", lambda r: r.percentile(50)),
            median(rounds, "duplicates", lambda r: r.percentile(99)),
        ),
    }
    lines = [
        f"### Webhook ingest benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"gunicorn {server}, {database}, {args.clients} concurrent keep-alive clients, "
        f"{args.events} new events and {args.duplicates} x {args.copies} duplicate deliveries "
        f"per round, {os.cpu_count()} CPUs, load average before "
        f"{'/'.join(f'{x:.2f}' for x in args.load_before)}, LOG_LEVEL={args.log_level}, "
        "DEBUG off.",
        "",
        "| round | bare req/s | bare p50 | bare p99 | ingest req/s | ingest p50 | ingest p99 "
        "| ratio | ingest statuses | duplicates req/s | duplicates p99 | duplicate statuses |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(round_row(number, figures) for number, figures in enumerate(rounds, start=1)),
        "",
        f"Medians of {len(rounds)} rounds (ms for p50 and p99):",
        "",
        "| phase | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *(
            f"| {name} | {rate:,.0f} | {p50:.1f} | {p99_:.1f} |"
            for name, (rate, p50, p99_) in medians.items()
        ),
        f"| ratio ingest / bare | {ratio:.2f} | | |",
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
    args.load_before = os.getloadavg()
    with gunicorn(env, args.bind, log_path, workers=args.workers, threads=args.threads):
        warm_up(args, webhook)
        rounds = [measure(args, webhook, str(number)) for number in range(args.rounds)]
    print(report(args, rounds))


if __name__ == "__main__":
    main()
