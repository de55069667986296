"""Benchmark: does the product pace itself just under Stripe's rate limit?

500 "Create Customer" action calls on one test-mode account, made by 4 processes
x 4 threads that share only a PostgreSQL database (``konnectify.platform.ratelimit``),
against a local Stripe stub that enforces Stripe's test-mode limit of 25
requests/s as a token bucket (capacity 25) and answers 429 with
``Retry-After: 1`` above it. A call that gets a retryable error (a 429 or our own
``Throttled``) waits ``retry_after`` and tries again with the same idempotency
key, as the workflow engine does.

Reports the achieved rate as a fraction of the limit, the 429s the stub sent and
the failed calls (must be 0), as a markdown block for docs/BENCHMARKS.md.

    DATA_DIR=/tmp/bench-data .venv/bin/python bench/rate_limit.py --runs 3

Live-mode pace against a 100/s stub, and a control run without the throttle:

    STRIPE_RATE_LIMIT_TEST=95 .venv/bin/python bench/rate_limit.py --limit 100 --calls 2000
    .venv/bin/python bench/rate_limit.py --no-throttle

It drops and recreates the database named in --database-url (default
``bench_ratelimit`` on 127.0.0.1) and migrates it. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_ratelimit"
STRIPE_KEY = "sk_test_51BenchRateLimit0000000000000000000000000000000bench"
MAX_ATTEMPTS = 8


# -- the Stripe stub ----------------------------------------------------------------------


@dataclass
class StubStats:
    """What the stub saw; every field is updated under ``lock``."""

    limit: float
    tokens: float
    refilled_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted_at: list[float] = field(default_factory=list)
    rejected: int = 0
    replays: int = 0
    created: dict[str, dict] = field(default_factory=dict)

    def admit(self) -> bool:
        """Token bucket: ``limit`` tokens per second, at most ``limit`` saved up."""
        now = time.monotonic()
        self.tokens = min(self.limit, self.tokens + (now - self.refilled_at) * self.limit)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.accepted_at.append(now)
            return True
        self.rejected += 1
        return False


def customer(email: str, name: str) -> dict:
    """A customer object shaped like Stripe's."""
    return {
        "id": "cus_" + uuid.uuid4().hex[:14],
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": int(time.time()),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": uuid.uuid4().hex[:8].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def stub_handler(stats: StubStats) -> type[BaseHTTPRequestHandler]:
    """A handler for POST /v1/customers with Stripe's limit, idempotency and headers."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as with api.stripe.com

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            key = self.headers.get("Idempotency-Key", "")
            with stats.lock:
                if not stats.admit():
                    return self.answer(429, rate_limited(), {"Retry-After": "1"})
                replay = key in stats.created
                if replay:
                    stats.replays += 1
                else:
                    stats.created[key] = customer(form.get("email", ""), form.get("name", ""))
                body = stats.created[key]
            self.answer(200, body, {"Idempotent-Replayed": "true"} if replay else {})

        def answer(self, status: int, body: dict, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_" + uuid.uuid4().hex[:14])
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass  # one line per request would drown the report

    return Handler


def rate_limited() -> dict:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Too many requests hit the API too quickly.",
        }
    }


def start_stub(limit: float) -> tuple[ThreadingHTTPServer, StubStats]:
    stats = StubStats(limit=limit, tokens=limit, refilled_at=time.monotonic())
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub_handler(stats))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, stats


# -- the callers (separate processes) ------------------------------------------------------


def worker(args: dict, next_call, ready, start, results) -> None:
    """One process: ``threads`` threads taking call numbers from the shared counter."""
    import django

    django.setup()
    from django.db import connections

    from konnectify.platform.ratelimit import stripe_throttle
    from stripe_connector.catalog import get_action
    from stripe_connector.client import StripeClient
    from stripe_connector.errors import StripeError

    action = get_action("create_customer")
    totals = {"calls": 0, "failed": 0, "retried_429": 0, "retried_local": 0, "slept": 0.0}
    totals_lock = threading.Lock()
    overheads: list[float] = []

    def take() -> int | None:
        with next_call.get_lock():
            number = next_call.value
            if number >= args["calls"]:
                return None
            next_call.value += 1
            return number

    def call(client, number: int) -> dict[str, int]:
        seen = {"failed": 0, "retried_429": 0, "retried_local": 0}
        data = {"email": f"bench{number}@example.com", "name": f"Bench {number}"}
        for _attempt in range(MAX_ATTEMPTS):
            try:
                action.run(client, data, idempotency_key=f"{args['run']}-{number}")
                return seen
            except StripeError as exc:
                if not exc.retryable:
                    break
                seen["retried_429" if exc.http_status == 429 else "retried_local"] += 1
                time.sleep(exc.retry_after or 1.0)
        seen["failed"] = 1
        return seen

    def thread_main() -> None:
        slept: list[float] = []

        def sleep_and_note(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        paced = stripe_throttle(args["account"], "test", sleep=sleep_and_note)

        def throttle(method: str, path: str) -> None:
            """The real throttle, timed: its cost is the time not spent sleeping."""
            started, before = time.perf_counter(), sum(slept)
            paced(method, path)
            with totals_lock:
                overheads.append(time.perf_counter() - started - (sum(slept) - before))

        pace = throttle if args["throttle"] else None
        client = StripeClient(
            STRIPE_KEY, base_url=args["base_url"], throttle=pace, allowed_bases=[args["base_url"]]
        )
        start.wait()
        try:
            while (number := take()) is not None:
                seen = call(client, number)
                with totals_lock:
                    totals["calls"] += 1
                    for name, count in seen.items():
                        totals[name] += count
        finally:
            with totals_lock:
                totals["slept"] += sum(slept)
            connections.close_all()

    threads = [threading.Thread(target=thread_main) for _ in range(args["threads"])]
    for thread in threads:
        thread.start()
    ready.release()
    for thread in threads:
        thread.join()
    totals["overheads"] = overheads
    results.put(totals)


# -- one run and the report --------------------------------------------------------------


def run_once(opts: argparse.Namespace) -> dict:
    server, stats = start_stub(opts.limit)
    ctx = mp.get_context("spawn")
    next_call, ready, start, results = ctx.Value("i", 0), ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    args = {
        "calls": opts.calls,
        "threads": opts.threads,
        "throttle": not opts.no_throttle,
        "account": f"acct_bench_{uuid.uuid4().hex[:12]}",  # a fresh budget per run
        "run": uuid.uuid4().hex[:8],
        "base_url": f"http://127.0.0.1:{server.server_address[1]}",
    }
    processes = [
        ctx.Process(target=worker, args=(args, next_call, ready, start, results))
        for _ in range(opts.processes)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    began = time.monotonic()
    start.set()
    totals = [results.get(timeout=600) for _ in processes]
    wall = time.monotonic() - began
    for process in processes:
        process.join()
    server.shutdown()
    return summarise(opts, stats, totals, wall)


def summarise(opts: argparse.Namespace, stats: StubStats, totals: list[dict], wall: float) -> dict:
    first, last = stats.accepted_at[0], stats.accepted_at[-1]
    steady = (len(stats.accepted_at) - 1) / (last - first) if last > first else 0.0
    return {
        "calls": sum(t["calls"] for t in totals),
        "created": len(stats.created),
        "replays": stats.replays,
        "rate": steady,
        "fraction": steady / opts.limit,
        "wall": wall,
        "wall_rate": len(stats.accepted_at) / wall,
        "stub_429": stats.rejected,
        "retried_429": sum(t["retried_429"] for t in totals),
        "retried_local": sum(t["retried_local"] for t in totals),
        "failed": sum(t["failed"] for t in totals),
        "slept": sum(t["slept"] for t in totals),
        "booking_ms": 1000 * statistics.median(o for t in totals for o in t["overheads"] or [0.0]),
    }


def prepare_database(url: str) -> None:
    """Drop, create and migrate the benchmark's own database."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    manage = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
    subprocess.run(manage, cwd=ROOT, env=os.environ, check=True)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def postgres_version() -> str:
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    connection.close()
    return f"PostgreSQL {version}"


def report(opts: argparse.Namespace, runs: list[dict], command: str, database: str) -> str:
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    lines = [
        f"### Rate limits: pacing under a {opts.limit:g} requests/s Stripe limit",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}; {database}.",
        f"Setup: {opts.calls} Create Customer calls, {opts.processes} processes x "
        f"{opts.threads} threads sharing the database; stub limit {opts.limit:g} requests/s "
        f"(token bucket, capacity {opts.limit:g}, 429 with Retry-After: 1); "
        + (
            "NO throttle (control run)."
            if opts.no_throttle
            else f"our pace STRIPE_RATE_LIMIT_TEST={opts.pace}."
        ),
        "",
        "| run | achieved req/s | of the limit | wall s | 429s at the stub | retried (429 / "
        "local) | failed | created | replays |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate([*runs, median], start=1):
        label = "median" if number > len(runs) else str(number)
        lines.append(
            f"| {label} | {run['rate']:.2f} | {run['fraction']:.1%} | {run['wall']:.1f} | "
            f"{run['stub_429']:g} | {run['retried_429']:g} / {run['retried_local']:g} | "
            f"{run['failed']:g} | {run['created']:g} | {run['replays']:g} |"
        )
    lines += [
        "",
        "Achieved req/s = (accepted requests - 1) / (last accepted - first accepted), measured "
        "at the stub. Median over runs: wall-clock rate (accepted / time from the start signal "
        f"to the last answer) {median['wall_rate']:.2f} req/s; cost of one booking in the "
        f"database (time in the throttle minus its sleep) {median['booking_ms']:.2f} ms.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per process")
    parser.add_argument("--limit", type=float, default=25.0, help="the stub's requests/s")
    parser.add_argument("--runs", type=int, default=1, help="report each run and the median")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--no-throttle", action="store_true", help="control run: the client without a throttle"
    )
    opts = parser.parse_args()

    os.environ["DATABASE_URL"] = opts.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konnectify.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # one log line per Stripe call otherwise
    prepare_database(opts.database_url)
    from django.conf import settings

    database = postgres_version()
    opts.pace = settings.STRIPE_RATE_LIMIT_TEST
    runs = []
    for number in range(opts.runs):
        runs.append(run_once(opts))
        print(f"run {number + 1}: {json.dumps(runs[-1])}", file=sys.stderr)
    pace = os.environ.get("STRIPE_RATE_LIMIT_TEST")
    prefix = f"STRIPE_RATE_LIMIT_TEST={pace} " if pace else ""
    command = f"{prefix}python bench/rate_limit.py " + " ".join(sys.argv[1:])
    print("\n```markdown\n" + report(opts, runs, command.strip(), database) + "\n```")
    return 1 if any(run["failed"] for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
