"""Scale: dispatch time with 10, 1,000 and 10,000 workflows; ingest with 1 and 100 connections.

    .venv/bin/python -m bench.scale [--samples 300] [--rounds 3] [--requests 3000]

Dispatch (in this process, no worker running): bench/pipeline.py's pieces create the
bench connection (10 workflows: one for ``customer.updated``, nine on other types) and
load workflows on 100 other connections and other event types; ``engine.dispatch`` of a fresh
``customer.updated`` event is timed ``--samples`` times per size, in ``--rounds`` rounds,
and the median of the round medians is reported. A last size adds 10,000 inactive or
non-matching workflows on the *same* connection. Target: within 20% from 10 to 10,000.

Ingest: gunicorn (2 processes x 4 threads), 32 clients, ``--requests`` signed new events
sent to one connection, then spread over 100 connections; rounds alternate, medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench import harness, pipeline
from bench.common import gunicorn, run_load

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/konnectify_bench_scale"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="dispatches timed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="requests per ingest phase")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--bind", default="127.0.0.1:8873")
    parser.add_argument("--skip-dispatch", action="store_true", help="only the ingest part")
    parser.add_argument("--workflows", type=int, default=10_000, help="the largest size")
    parser.add_argument("--connections", type=int, default=100, help="of the ingest spread")
    parser.add_argument("--warm", type=int, default=300, help="requests before measuring")
    return parser.parse_args()


def load_same_connection(connection, count: int) -> None:
    """Workflows on the bench connection that must not match: other types or inactive."""
    from stripe_connector.catalog import TRIGGERS
    from workflows.models import Workflow

    types = [t.event_type for t in TRIGGERS.values() if t.event_type]
    rows = []
    for n in range(count):
        event_type = types[n % len(types)]
        inactive = event_type == pipeline.EVENT_TYPE  # same type: present but switched off
        rows.append(Workflow(name=f"Same {n}", connection=connection, trigger_key=event_type,
                             event_type=event_type, active=not inactive))  # fmt: skip
    Workflow.objects.bulk_create(rows, batch_size=2000)


def time_size(connection, samples: int, rounds: int, label: str) -> dict:
    medians, everything = [], []
    for round_number in range(rounds):
        timings = pipeline.time_dispatch(connection, samples, f"d10_{label}_{round_number}_")
        medians.append(statistics.median(timings))
        everything += timings
    p99 = pipeline.percentile(everything, 0.99)
    return {"median_ms": statistics.median(medians), "p99_ms": p99}


def dispatch_rows(args) -> list[tuple[str, dict]]:
    from workflows.models import Workflow

    connection = pipeline.create_bench_connection()
    largest = args.workflows
    middle = max(largest // 10, 20)
    others = pipeline.other_connections(largest)
    sizes = []
    sizes.append(("10", time_size(connection, args.samples, args.rounds, "a")))
    pipeline.load_other_workflows(middle - 10, others)
    sizes.append((f"{middle:,}", time_size(connection, args.samples, args.rounds, "b")))
    pipeline.load_other_workflows(largest - middle, others)
    sizes.append((f"{largest:,}", time_size(connection, args.samples, args.rounds, "c")))
    load_same_connection(connection, largest)
    total = Workflow.objects.count()
    sizes.append((f"{total:,} ({largest:,} more on the same connection)",
                  time_size(connection, args.samples, args.rounds, "d")))  # fmt: skip
    print("dispatch query plan:", pipeline.explain_dispatch_query(connection).replace("\n", " | "))
    return sizes


def ingest_rates(args, env: dict[str, str]) -> dict[str, list]:
    connections = [
        harness.create_connection(f"Ingest {n}", workflows=0) for n in range(args.connections)
    ]
    host, port = args.bind.rsplit(":", 1)
    spreads = ("1", str(args.connections))
    rates: dict[str, list] = {spread: [] for spread in spreads}
    # The server must share this process's keys: it decrypts the secrets stored here.
    with gunicorn(env, args.bind, harness.LOGS / "scale-web.log", workers=2, threads=4):
        warm = [harness.signed_request(connections[0].webhook_path, harness.event("warm", n))
                for n in range(args.warm)]  # fmt: skip
        run_load(host, int(port), warm, 32)
        for round_number in range(args.rounds):
            for spread in spreads:
                targets = connections[: int(spread)]
                prefix = f"in{spread}r{round_number}_"
                requests = [harness.signed_request(targets[n % len(targets)].webhook_path,
                                                   harness.event(prefix, n))
                            for n in range(args.requests)]  # fmt: skip
                result = run_load(host, int(port), requests, 32)
                rates[spread].append(result)
    return rates


def dispatch_figures(sizes: list[tuple[str, dict]]) -> tuple[list, list]:
    """Rows and checks of the dispatch part; the third size is the largest."""
    base = sizes[0][1]["median_ms"]
    rows = [(f"dispatch with {size} workflows: median / p99 ms",
             f"{t['median_ms']:.2f} / {t['p99_ms']:.2f} ({(t['median_ms'] / base - 1):+.0%})")
            for size, t in sizes]  # fmt: skip
    ten_k = sizes[2][1]["median_ms"]
    checks = [(f"dispatch with {sizes[2][0]} workflows within 20% of 10", ten_k <= base * 1.2,
               f"{(ten_k / base - 1):+.0%}")]  # fmt: skip
    return rows, checks


def main() -> None:
    args = parse_args()
    env = harness.base_env(args.database_url, "http://127.0.0.1:9")
    harness.setup_django(env)
    started = time.monotonic()
    rows, checks = [], []
    if not args.skip_dispatch:
        rows, checks = dispatch_figures(dispatch_rows(args))
    rates = ingest_rates(args, env)
    for spread, results in rates.items():
        rate = statistics.median(r.rate for r in results)
        p99 = statistics.median(r.percentile(99) for r in results)
        statuses = sum(sum(1 for s in r.statuses if s != 200) for r in results)
        rows.append((f"ingest to {spread} connection(s): req/s, p99 ms, non-200",
                     f"{rate:,.0f}, {p99:.1f}, {statuses}"))  # fmt: skip
    failed = sum(1 for results in rates.values() for r in results for s in r.statuses if s != 200)
    one = statistics.median(r.rate for r in rates["1"])
    hundred = statistics.median(r.rate for r in rates[str(args.connections)])
    checks += [
        (f"ingest to {args.connections} connections within 20% of 1", hundred >= one * 0.8,
         f"{(hundred / one - 1):+.0%}"),
        ("every ingest request answered 200", failed == 0, str(failed)),
    ]  # fmt: skip
    rows.append(("total seconds", f"{time.monotonic() - started:.0f}"))
    print(harness.report("Scale: dispatch by workflows, ingest by connections", rows, checks))


if __name__ == "__main__":
    main()
