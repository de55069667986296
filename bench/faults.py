"""Fault scripts (not tests): each fault at full size, with real processes on PostgreSQL.

    .venv/bin/python -m bench.faults duplicates   # 1,000 events x 10 deliveries, 32 clients
    .venv/bin/python -m bench.faults outage       # Stripe answers 500 to everything for 60 s
    .venv/bin/python -m bench.faults sigkill      # SIGKILL a worker every 3 s, 500 events
    .venv/bin/python -m bench.faults postgres     # PostgreSQL stopped for 20 s during ingest

Each starts the app under gunicorn and ``manage.py worker`` (ORM broker) on a scratch
database, Stripe replaced by bench.fault_stub (idempotency like Stripe's; it counts the
objects created per Idempotency-Key), and prints a markdown block with the command, the
machine, the figures and the checks. The fast versions run in CI: tests/faults/.

``postgres`` stops the shared PostgreSQL server of this machine (other people's tests
fail meanwhile): it restarts it in a ``finally`` block and checks ``pg_isready``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from bench import harness
from bench.common import gunicorn, run_load
from bench.fault_stub import OK, OUTAGE, FaultStub
from konnectify.platform import processes

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/konnectify_bench_faults"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=["duplicates", "outage", "sigkill", "postgres"])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--bind", default="127.0.0.1:8871")
    parser.add_argument("--events", type=int, help="events (default per scenario)")
    parser.add_argument("--seconds", type=float, help="length of the fault (default per scenario)")
    parser.add_argument("--workers", type=int, default=2, help="qcluster workers")
    return parser.parse_args()


class Stack:
    """Stub, database, gunicorn and qcluster for one scenario."""

    def __init__(self, args: argparse.Namespace, **env: str) -> None:
        self.args = args
        self.stub = FaultStub()
        self.env = harness.base_env(
            args.database_url, self.stub.url, Q_WORKERS=str(args.workers), **env
        )
        harness.setup_django(self.env)
        self.host, port = args.bind.rsplit(":", 1)
        self.port = int(port)

    def web(self, log: str):
        return gunicorn(self.env, self.args.bind, harness.LOGS / log, workers=2, threads=4)

    def cluster(self, log: str):
        return harness.worker(self.env, log)

    def url(self, connection) -> str:
        return f"http://{self.args.bind}{connection.webhook_path}"


def stripe_checks(stub: FaultStub, runs: int) -> list[tuple[str, bool, str]]:
    created, duplicates = stub.objects_created(), stub.duplicate_keys()
    return [
        (f"Stripe objects created == runs ({runs})", created == runs, str(created)),
        ("no Idempotency-Key created twice", not duplicates, str(len(duplicates))),
    ]


def run_checks(prefix: str, expected: int) -> tuple[dict, list[tuple[str, bool, str]]]:
    from workflows.models import StepRun

    counts = harness.run_counts(prefix)
    exhausted = StepRun.objects.filter(error__message__contains="gave up after").count()
    return counts, [
        (f"all {expected} runs succeeded", counts.get("succeeded", 0) == expected, str(counts)),
        ("no step exhausted its attempts", exhausted == 0, str(exhausted)),
    ]


# -- 1,000 events x 10 deliveries -------------------------------------------------


def duplicates(args) -> str:
    events = args.events or 1000
    stack = Stack(args)
    from django.db.models import Count

    from connections.models import InboxEvent
    from workflows.models import Run

    connection = harness.create_connection(workflows=2)
    harness.create_connection("Bench other", workflows=0)
    requests = [harness.signed_request(connection.webhook_path, harness.event("dup", n))
                for n in range(events) for _ in range(10)]  # fmt: skip
    random.Random(10).shuffle(requests)
    with stack.web("faults-duplicates-web.log"), stack.cluster("faults-duplicates-worker.log"):
        harness.wait_for_cluster()
        load = run_load(stack.host, stack.port, requests, 32)
        waited = harness.wait_for_runs("dup", events * 2, timeout=600, sweep_every=30)
    statuses = load.status_counts()
    rows = InboxEvent.objects.filter(connection=connection).count()
    pairs = Run.objects.values("workflow", "event").annotate(n=Count("id"))
    per_pair = Counter(row["n"] for row in pairs)
    counts, checks = run_checks("dup", events * 2)
    checks = [
        ("no 5xx", not any(code >= 500 for code in statuses), str(statuses)),
        (f"{events} inbox rows", rows == events, str(rows)),
        (f"one run per workflow and event ({events * 2} pairs)",
         per_pair == {1: events * 2}, str(dict(per_pair))),
        *checks,
        *stripe_checks(stack.stub, events * 2),
    ]  # fmt: skip
    return harness.report(
        f"Fault: {events} events x 10 deliveries from 32 clients",
        [("requests", len(requests)), ("requests/s", f"{load.rate:,.0f}"),
         ("p50 / p99 ms", f"{load.percentile(50):.1f} / {load.percentile(99):.1f}"),
         ("statuses", statuses), ("runs by status", counts),
         ("seconds until every run was final", f"{waited:.1f}")],
        checks,
    )  # fmt: skip


# -- Stripe outage ------------------------------------------------------------------


def outage(args) -> str:
    events, seconds = args.events or 100, args.seconds or 60
    stack = Stack(args)
    connection = harness.create_connection()
    _bootstrap(stack.env)
    requests = [harness.signed_request(connection.webhook_path, harness.event("out", n))
                for n in range(events)]  # fmt: skip
    stack.stub.set_mode(OUTAGE)
    with stack.web("faults-outage-web.log"), stack.cluster("faults-outage-worker.log"):
        harness.wait_for_cluster()
        outage_started = time.monotonic()
        load = run_load(stack.host, stack.port, requests, 8)
        time.sleep(max(0.0, seconds - (time.monotonic() - outage_started)))
        stack.stub.set_mode(OK)
        failures = stack.stub.statuses()[500]
        # Retries are woken by the product's own sweeper schedule (every minute).
        waited = harness.wait_for_runs("out", events, timeout=900)
    counts, checks = run_checks("out", events)
    return harness.report(
        f"Fault: Stripe answers 500 for {seconds:.0f} s, then recovers",
        [("events", events), ("webhook statuses", load.status_counts()),
         ("500s answered during the outage", failures),
         ("attempts per step (max)", _max_attempts()),
         ("seconds from recovery until every run was final", f"{waited:.1f}"),
         ("runs by status", counts),
         ("P(8 attempts inside the outage) with this policy, if retries were woken at once",
          f"{exhaustion_probability(seconds):.1%}")],
        checks + stripe_checks(stack.stub, events),
    )  # fmt: skip


def _bootstrap(env: dict[str, str]) -> None:
    """The product's periodic jobs (the sweeper every minute), as ``make run`` creates them."""
    import sys

    subprocess.run([sys.executable, "manage.py", "bootstrap"], cwd=harness.BASE_DIR,
                   env={**os.environ, **env}, check=True, capture_output=True)  # fmt: skip


def _max_attempts() -> int:
    from django.db.models import Max

    from workflows.models import StepRun

    return StepRun.objects.aggregate(m=Max("attempts"))["m"] or 0


def exhaustion_probability(seconds: float, trials: int = 100_000) -> float:
    """How often the retry policy (equal jitter) uses up every attempt inside an outage of
    ``seconds``.

    Only the retry policy: it assumes each retry runs the moment it is due. The
    product's sweeper wakes retries once a minute, which spaces them further.
    """
    from datetime import UTC, datetime, timedelta

    from workflows.retry import RetryPolicy

    policy, rng = RetryPolicy.from_settings(), random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    exhausted = 0
    for _ in range(trials):
        now, attempts = start, 1
        while True:
            when = policy.next_attempt_at(
                attempts=attempts, created_at=start, now=now, rand=rng.random
            )
            if when is None or when - start > timedelta(seconds=seconds):
                break
            now, attempts = when, attempts + 1
        exhausted += when is None
    return exhausted / trials


# -- SIGKILL ------------------------------------------------------------------------


def sigkill(args) -> str:
    """Events arrive at a steady 10/s, so workers are often idle when they are killed."""
    events, every = args.events or 500, args.seconds or 3
    # Short task timeout and broker retry so that a killed worker's task and claim come
    # back within a minute; the sweeper is called every 5 s (the schedule is per minute).
    # One attempt must fit in the task (system check E005): 1 + 5 + 5 + 4 + 5 = 20 s.
    stack = Stack(args, Q_TIMEOUT="20", Q_RETRY="30", WORKFLOW_RETRY_INLINE_SECONDS="4",
                  STRIPE_CONNECT_TIMEOUT="1", STRIPE_READ_TIMEOUT="5")  # fmt: skip
    connection = harness.create_connection()
    kills: list[int] = []
    supervisor = Supervisor(stack.env)
    try:
        with stack.web("faults-sigkill-web.log"):
            harness.wait_for_cluster()
            stop = threading.Event()
            killer = threading.Thread(target=_kill_workers, args=(every, stop, kills), daemon=True)
            killer.start()
            statuses = harness.post_paced(stack.url(connection), connection.webhook_path, 10,
                                          events / 10, "kill")  # fmt: skip
            supervisor.watch("kill", events, seconds=20)
            stop.set()
            killer.join()
            last_kill = time.monotonic()
            supervisor.watch("kill", events, seconds=900)
            waited = time.monotonic() - last_kill
    finally:
        supervisor.stop()
    counts, checks = run_checks("kill", events)
    return harness.report(
        f"Fault: a qcluster worker killed with SIGKILL every {every:.0f} s, {events} events",
        [("webhook statuses", dict(Counter(statuses))), ("workers killed", len(kills)),
         ("cluster wedged (no progress for 45 s with work left) and restarted",
          supervisor.restarts),
         ("Stripe requests", len(stack.stub.requests())),
         ("replayed by idempotency key", len(stack.stub.requests()) - stack.stub.objects_created()),
         ("seconds after the last kill until every run was final", f"{waited:.1f}"),
         ("runs by status", counts)],
        checks + stripe_checks(stack.stub, events),
    )  # fmt: skip


class Supervisor:
    """Runs the task worker and, like systemd with a watchdog would, restarts it when it is stuck.

    Stuck means: runs are unfinished and none finished for ``stuck_after`` seconds.
    The sweeper is called every 5 s meanwhile (standing in for its schedule).
    """

    def __init__(self, env: dict[str, str], stuck_after: float = 45) -> None:
        self.env, self.stuck_after, self.restarts = env, stuck_after, 0
        self.child = self.start()

    def start(self) -> subprocess.Popen:
        import sys

        return processes.start(
            [sys.executable, "manage.py", "worker"],
            cwd=harness.BASE_DIR,
            env={**os.environ, **self.env},
            log=harness.LOGS / "faults-sigkill-worker.log",
        )

    def stop(self) -> None:
        processes.stop(self.child, timeout=20)

    def watch(self, prefix: str, expected: int, seconds: float) -> None:
        from workflows import engine
        from workflows.models import Run

        deadline = time.monotonic() + seconds
        done, progress_at, swept_at = -1, time.monotonic(), 0.0
        while time.monotonic() < deadline:
            counts = harness.run_counts(prefix)
            now_done = sum(counts.get(status, 0) for status in Run.FINAL)
            if now_done >= expected:
                return
            if now_done != done:
                done, progress_at = now_done, time.monotonic()
            elif time.monotonic() - progress_at > self.stuck_after:
                self.stop()
                self.restarts += 1
                self.child = self.start()
                progress_at = time.monotonic()
            if time.monotonic() - swept_at >= 5:
                engine.sweep()
                swept_at = time.monotonic()
            time.sleep(0.5)


def _kill_workers(every: float, stop: threading.Event, kills: list[int]) -> None:
    while not stop.wait(every):
        workers = harness.worker_pids()
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        if alive:
            victim = random.choice(alive)
            os.kill(victim, signal.SIGKILL)
            kills.append(victim)


# -- PostgreSQL stopped ----------------------------------------------------------------


def pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, capture_output=True, timeout=60)  # fmt: skip


class Deliverer:
    """Posts events at a steady rate and, like Stripe, re-sends each until it gets a 200."""

    def __init__(self, stack: Stack, connection, rate: float) -> None:
        import requests

        self.session = requests.Session()
        self.url, self.path, self.rate = stack.url(connection), connection.webhook_path, rate
        self.answers: list[tuple[float, int]] = []  # (time.monotonic(), status or 0)
        self.pending: list[int] = []
        self.sent = 0

    def post(self, number: int) -> bool:
        import requests

        request = harness.signed_request(self.path, harness.event("pg", number))
        try:
            status = self.session.post(self.url, data=request.body, headers=request.headers,
                                       timeout=10).status_code  # fmt: skip
        except requests.RequestException:
            status = 0
        self.answers.append((time.monotonic(), status))
        return status == 200

    def run_for(self, seconds: float, new_events: bool = True) -> None:
        """Send new events for ``seconds`` (or only re-send, until none is pending)."""
        deadline = time.monotonic() + seconds
        last_resend = 0.0
        while time.monotonic() < deadline and (new_events or self.pending):
            if new_events:
                if not self.post(self.sent):
                    self.pending.append(self.sent)
                self.sent += 1
            if time.monotonic() - last_resend >= 2:  # Stripe re-sends later, not at once
                self.pending = [n for n in self.pending if not self.post(n)]
                last_resend = time.monotonic()
            time.sleep(1 / self.rate)


def postgres(args) -> str:
    seconds = args.seconds or 20
    stack = Stack(args)
    from django.db import connections

    from connections.models import InboxEvent

    connection = harness.create_connection()
    deliverer = Deliverer(stack, connection, rate=10)
    cluster_log = "faults-postgres-worker.log"
    with stack.web("faults-postgres-web.log"), stack.cluster(cluster_log) as cluster:
        harness.wait_for_cluster()
        deliverer.run_for(10)
        try:
            pg_ctl("stop")
            down_from = time.monotonic()
            deliverer.run_for(seconds)
            down_until = time.monotonic()
        finally:
            pg_ctl("start")
        ready = _wait_for_postgres()
        connections.close_all()  # this process's connections died with the server
        deliverer.run_for(10)
        deliverer.run_for(60, new_events=False)
        # A dispatch task in flight when the server stopped comes back after Q_RETRY.
        limit = int(stack.env.get("Q_RETRY") or 300) + 120
        waited = harness.wait_for_runs("pg", deliverer.sent, timeout=limit, sweep_every=10)
        cluster_alive = cluster.poll() is None
    during = Counter(s for at, s in deliverer.answers if down_from <= at <= down_until)
    rows = InboxEvent.objects.filter(stripe_event_id__startswith="evt_pg").count()
    counts, checks = run_checks("pg", deliverer.sent)
    checks = [
        ("no 200 while PostgreSQL was down", during.get(200, 0) == 0, str(dict(during))),
        ("503 while it was down", set(during) <= {503}, str(dict(during))),
        (f"every event stored once ({deliverer.sent})", rows == deliverer.sent, str(rows)),
        ("no event left undelivered", not deliverer.pending, str(len(deliverer.pending))),
        ("pg_isready at the end", ready, "accepting connections" if ready else "DOWN"),
        *checks,
    ]
    return harness.report(
        f"Fault: PostgreSQL stopped for {seconds:.0f} s during ingest",
        [("events sent (10/s, each re-sent until 200)", deliverer.sent),
         ("answers while down", dict(during)),
         ("all answers", dict(Counter(s for _, s in deliverer.answers))),
         ("seconds until every run was final", f"{waited:.1f}"), ("runs by status", counts),
         ("qcluster still running at the end", cluster_alive)],
        checks + stripe_checks(stack.stub, deliverer.sent),
    )  # fmt: skip


def _wait_for_postgres(timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(["pg_isready", "-h", "127.0.0.1"], capture_output=True)
        if ready.returncode == 0:
            return True
        time.sleep(0.5)
    return False


def main() -> None:
    args = parse_args()
    scenarios = {"duplicates": duplicates, "outage": outage, "sigkill": sigkill,
                 "postgres": postgres}  # fmt: skip
    print(scenarios[args.scenario](args))


if __name__ == "__main__":
    main()
