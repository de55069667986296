"""The pipeline with the ORM broker and with Redis, 2 and 4 workers: latency, runs/s, memory.

    .venv/bin/python -m bench.brokers --matrix [--repeats 3]     # every combination, medians
    .venv/bin/python -m bench.brokers --broker redis --workers 4  # one combination, once

One combination: the app under gunicorn (2 processes x 4 threads) and ``manage.py
worker`` (the task cluster) with N workers on a scratch PostgreSQL database, Stripe replaced by
bench.fault_stub, one workflow whose step creates a customer. Then:

1. latency: signed events at a steady 20/s for ``--duration`` seconds; for each event,
   the time from the inbox row's ``received_at`` to the stub receiving its Stripe call
   (matched by the step's Idempotency-Key); p50 and p99;
2. throughput: ``--burst`` events posted at once; completed runs per second from the
   first event received to the last run finished;
3. memory: the peak RSS (VmHWM from /proc) of every gunicorn and qcluster process,
   sampled each second over both phases.

The Redis broker uses ``REDIS_URL=redis://127.0.0.1:6379/13`` (flushed first). This
reuses the pipeline's shape from bench/pipeline.py with a step that creates
objects, so that duplicates would show.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from bench import harness
from bench.common import gunicorn, run_load
from bench.fault_stub import FaultStub

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/konnectify_bench_brokers"
REDIS_URL = "redis://127.0.0.1:6379/13"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20, help="events/s in the latency phase")
    parser.add_argument("--duration", type=float, default=30, help="seconds of the latency phase")
    parser.add_argument("--burst", type=int, default=300, help="events in the throughput phase")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--bind", default="127.0.0.1:8872")
    parser.add_argument("--save-limit", type=int, help="django-q2 save_limit (bench settings)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--matrix", action="store_true", help="orm/redis x 2/4 workers")
    parser.add_argument("--repeats", type=int, default=3, help="runs per combination (matrix)")
    return parser.parse_args()


def first_call_latencies(stub: FaultStub, prefix: str) -> list[float]:
    """Milliseconds from each event's receipt to its first Stripe call."""
    from workflows.models import StepRun

    first: dict[str, float] = {}
    for seen in stub.requests():
        first.setdefault(seen.key, seen.at)
    rows = StepRun.objects.filter(
        run__event__stripe_event_id__startswith=f"evt_{prefix}"
    ).values_list("idempotency_key", "run__event__received_at")
    return [(first[key] - received.timestamp()) * 1000 for key, received in rows if key in first]


def throughput(prefix: str) -> float:
    """Runs finished per second, from the first event received to the last run finished."""
    from django.db.models import Max, Min

    from workflows.models import Run

    runs = Run.objects.filter(event__stripe_event_id__startswith=f"evt_{prefix}")
    span = runs.aggregate(start=Min("event__received_at"), end=Max("finished_at"))
    seconds = (span["end"] - span["start"]).total_seconds()
    return runs.filter(status="succeeded").count() / seconds if seconds > 0 else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def one_combination(args) -> dict:
    stub = FaultStub()
    # The stub has no rate limit; the product's own pace (24/s per test-mode account)
    # would cap one connection's runs at 24/s whatever the broker, so it is lifted here.
    extra = {"Q_WORKERS": str(args.workers), "STRIPE_RATE_LIMIT_TEST": "1000"}
    if args.broker == "redis":
        extra["REDIS_URL"] = REDIS_URL
    if args.save_limit is not None:
        extra["DJANGO_SETTINGS_MODULE"] = "bench.monitor_settings"
        extra["BENCH_Q_SAVE_LIMIT"] = str(args.save_limit)
    env = harness.base_env(args.database_url, stub.url, **extra)
    harness.setup_django(env)
    connection = harness.create_connection()
    host, port = args.bind.rsplit(":", 1)
    url = f"http://{args.bind}{connection.webhook_path}"
    web_log = harness.LOGS / f"brokers-{args.broker}-{args.workers}-web.log"
    with (
        gunicorn(env, args.bind, web_log, workers=2, threads=4) as web,
        harness.worker(env, f"brokers-{args.broker}-{args.workers}-worker.log") as cluster,
    ):
        harness.wait_for_cluster()
        memory = harness.PeakMemory({"web": web.pid, "qcluster": cluster.pid})
        time.sleep(2)
        statuses = harness.post_paced(url, connection.webhook_path, args.rate, args.duration, "lat")
        harness.wait_for_runs("lat", len(statuses), timeout=120)
        burst = [harness.signed_request(connection.webhook_path, harness.event("burst", n))
                 for n in range(args.burst)]  # fmt: skip
        load = run_load(host, int(port), burst, 16)
        harness.wait_for_runs("burst", args.burst, timeout=300)
        peaks = memory.stop()
    latencies = first_call_latencies(stub, "lat")
    return {
        "broker": args.broker,
        "workers": args.workers,
        "save_limit": 1000 if args.save_limit is None else args.save_limit,
        "events": len(statuses),
        "non_200": sum(1 for s in statuses if s != 200) + sum(1 for s in load.statuses if s != 200),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "runs_per_s": round(throughput("burst"), 1),
        "runs_done": harness.run_counts("lat").get("succeeded", 0)
        + harness.run_counts("burst").get("succeeded", 0),
        "duplicates": len(stub.duplicate_keys()),
        "web_peak_mib": [round(k / 1024, 1) for k in peaks.get("web", [])],
        "qcluster_peak_mib": [round(k / 1024, 1) for k in peaks.get("qcluster", [])],
        "load_average": round(__import__("os").getloadavg()[0], 1),
    }


def matrix(args) -> str:
    results: dict[tuple[str, int], list[dict]] = {}
    for repeat in range(args.repeats):
        for broker in ("orm", "redis"):
            for workers in (2, 4):
                command = [sys.executable, "-m", "bench.brokers", "--json", "--broker", broker,
                           "--workers", str(workers), "--duration", str(args.duration),
                           "--burst", str(args.burst), "--rate", str(args.rate)]  # fmt: skip
                print(f"# run {repeat + 1}/{args.repeats}: {broker}, {workers} workers",
                      file=sys.stderr, flush=True)  # fmt: skip
                out = subprocess.run(command, cwd=harness.BASE_DIR, capture_output=True,
                                     text=True, check=True, timeout=900)  # fmt: skip
                results.setdefault((broker, workers), []).append(json.loads(out.stdout))
    return matrix_report(args, results)


def matrix_report(args, results: dict[tuple[str, int], list[dict]]) -> str:
    def med(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    def peak(runs: list[dict], key: str) -> str:
        per_run = [max(run[key] or [0]) for run in runs]
        total = [sum(run[key] or [0]) for run in runs]
        return f"{statistics.median(per_run):.0f} (all processes {statistics.median(total):.0f})"

    rows = [
        "| broker | workers | p50 ms | p99 ms | runs/s | non-200 | duplicates | "
        "web peak RSS MiB, largest process | qcluster peak RSS MiB, largest process |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (broker, workers), runs in results.items():
        rows.append(
            f"| {broker} | {workers} | {med(runs, 'p50_ms'):.0f} | {med(runs, 'p99_ms'):.0f} "
            f"| {med(runs, 'runs_per_s'):.1f} | {sum(r['non_200'] for r in runs)} "
            f"| {sum(r['duplicates'] for r in runs)} | {peak(runs, 'web_peak_mib')} "
            f"| {peak(runs, 'qcluster_peak_mib')} |"
        )
    head = [
        "### Pipeline by broker and workers (medians of "
        f"{args.repeats} runs; {args.rate:.0f} events/s for {args.duration:.0f} s, then a "
        f"burst of {args.burst})",
        "",
        f"`{harness.command_line()}`",
        "",
        f"Machine: {harness.machine()}",
        "",
    ]
    raw = ["", "<details><summary>every run</summary>", "", "```"]
    raw += [json.dumps(run) for runs in results.values() for run in runs]
    raw += ["```", "</details>"]
    return "\n".join(head + rows + raw)


def main() -> None:
    args = parse_args()
    if args.matrix:
        print(matrix(args))
        return
    result = one_combination(args)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
