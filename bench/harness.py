"""Process plumbing for the fault, broker and scale scripts (bench/faults.py, brokers.py, scale.py).

One scratch PostgreSQL database per script, the app under gunicorn and ``manage.py
worker`` as in production, the Stripe fault stub (bench.fault_stub) in this process,
and small helpers: signed events, waiting for runs, memory of child processes, and the
machine description every report starts with. The load generator and gunicorn wrapper
are in bench.common; nothing here changes how the product runs.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import BASE_DIR, Request, recreate_postgres_database
from konnectify.platform import processes

WEBHOOK_SECRET = "whsec_bench_faults_" + "0123456789abcdef"
EVENT_TYPE = "customer.updated"
LOGS = BASE_DIR / "test-artifacts"


def base_env(database_url: str, stub_url: str, **extra: str) -> dict[str, str]:
    """Production-like settings (DEBUG off) for this process and its children."""
    from cryptography.fernet import Fernet

    env = {
        "DJANGO_SETTINGS_MODULE": "konnectify.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATA_DIR": "/tmp/konnectify-bench-data",
        "STRIPE_API_BASE": stub_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": "",
    }
    env.update(extra)
    return env


def setup_django(env: dict[str, str], *, fresh_database: bool = True) -> None:
    """Apply ``env`` here, recreate and migrate the database, and set Django up."""
    os.environ.update(env)
    Path(env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    if fresh_database:
        recreate_postgres_database(env["DATABASE_URL"])
    import django
    from django.core.management import call_command

    django.setup()
    if fresh_database:
        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)
    if env.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def create_connection(name: str = "Bench faults", workflows: int = 1):
    """A test-mode connection with ``workflows`` one-step workflows creating a customer."""
    from connections.models import Connection
    from tests.support.factories import CREATE_CUSTOMER_STEP, make_connection, make_workflow

    connection = make_connection(
        name=name,
        secret_key="sk_test_" + "f" * 40,
        webhook_mode=Connection.WebhookMode.MANUAL,  # no endpoint calls during a bench
        webhook_secret=WEBHOOK_SECRET,
    )
    for number in range(workflows):
        make_workflow(connection, EVENT_TYPE, [CREATE_CUSTOMER_STEP], name=f"{name} {number}")
    return connection


def event(prefix: str, number: int, event_type: str = EVENT_TYPE) -> dict:
    """A Stripe event numbered ``number`` whose customer has its own id and email."""
    from tests.support.factories import event_envelope

    customer = {"id": f"cus_{prefix}{number:07d}", "email": f"{prefix}{number}@example.com"}
    return event_envelope(event_type, id=f"evt_{prefix}{number:07d}", data_object=customer)


def signed_request(path: str, payload: dict, secret: str = WEBHOOK_SECRET) -> Request:
    from stripe_connector.signature import sign_payload

    body = json.dumps(payload).encode()
    header = sign_payload(body, secret, int(time.time()))
    return Request(path, body, {"Content-Type": "application/json", "Stripe-Signature": header})


def process(env: dict[str, str], command: list[str], log_name: str):
    """Run ``command`` until the block ends, in its own process group (a context manager)."""
    LOGS.mkdir(exist_ok=True)  # a fresh clone has no test-artifacts/ yet
    (LOGS / log_name).unlink(missing_ok=True)
    return processes.running(
        command, cwd=BASE_DIR, env={**os.environ, **env}, log=LOGS / log_name, timeout=20
    )


def worker(env: dict[str, str], log_name: str):
    """``manage.py worker`` (the task cluster) until the block ends."""
    return process(env, [sys.executable, "manage.py", "worker"], log_name)


def wait_for_cluster(timeout: float = 30) -> list:
    """Wait until a cluster reports its workers (django-q2's Stat); returns the stats."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = [s for s in Stat.get_all(broker=get_broker()) if s.workers]
        if stats:
            return stats
        time.sleep(0.3)
    raise SystemExit("The cluster did not report its workers in time.")


def worker_pids() -> list[int]:
    """The cluster's worker processes right now (not its sentinel, pusher or monitor)."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    return [pid for stat in Stat.get_all(broker=get_broker()) for pid in stat.workers]


def run_counts(prefix: str) -> dict[str, int]:
    """Runs of events whose id starts with ``evt_<prefix>``, by status."""
    from django.db.models import Count

    from workflows.models import Run

    rows = (
        Run.objects.filter(event__stripe_event_id__startswith=f"evt_{prefix}")
        .values("status")
        .annotate(n=Count("id"))
    )
    return {row["status"]: row["n"] for row in rows}


def wait_for_runs(prefix: str, expected: int, timeout: float, sweep_every: float = 0) -> float:
    """Wait until ``expected`` runs are final; sweeps as the schedule would. Returns seconds."""
    from workflows import engine
    from workflows.models import Run

    started = last_sweep = time.monotonic()
    while time.monotonic() - started < timeout:
        counts = run_counts(prefix)
        if sum(counts.get(status, 0) for status in Run.FINAL) >= expected:
            break
        if sweep_every and time.monotonic() - last_sweep >= sweep_every:
            engine.sweep()
            last_sweep = time.monotonic()
        time.sleep(0.25)
    return time.monotonic() - started


def post_paced(url: str, path: str, rate: float, duration: float, prefix: str) -> list[int]:
    """POST signed events at a steady rate from a small pool; returns the statuses."""
    import requests

    session, statuses = requests.Session(), []

    def post(number: int) -> None:
        request = signed_request(path, event(prefix, number))
        answer = session.post(url, data=request.body, headers=request.headers, timeout=10)
        statuses.append(answer.status_code)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for number in range(int(rate * duration)):
            time.sleep(max(0.0, started + number / rate - time.monotonic()))
            pool.submit(post, number)
    return statuses


# -- memory ---------------------------------------------------------------------


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of ``pid`` in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the VmHWM of every descendant of the given roots once a second."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.peaks: dict[tuple[str, int], int] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while not self.stopped.wait(1.0):
            for label, root in self.roots.items():
                for pid in [root, *processes.descendants(root)]:
                    peak = vm_hwm_kib(pid)
                    key = (label, pid)
                    self.peaks[key] = max(self.peaks.get(key, 0), peak)

    def stop(self) -> dict[str, list[int]]:
        """Peaks in KiB per label, one value per process, largest first."""
        self.stopped.set()
        self.thread.join()
        result: dict[str, list[int]] = {}
        for (label, _), peak in self.peaks.items():
            result.setdefault(label, []).append(peak)
        return {label: sorted(values, reverse=True) for label, values in result.items()}


# -- reports --------------------------------------------------------------------


def machine() -> str:
    """One line describing where a figure was measured."""
    memory = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs, {memory}, Python {platform.python_version()}, "
        f"{postgres_version()}, load average {load:.1f} when reported, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def postgres_version() -> str:
    """The server's version, asked with psql (works before and without Django)."""
    try:
        answer = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        return f"PostgreSQL {answer.stdout.split()[0]}"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "PostgreSQL (version unknown)"


def command_line() -> str:
    """How this script was started, as a command to paste in the project folder."""
    script = Path(sys.argv[0]).resolve()
    if script.suffix == ".py" and script.is_relative_to(BASE_DIR):
        module = ".".join(script.relative_to(BASE_DIR).with_suffix("").parts)
        return " ".join([".venv/bin/python", "-m", module, *sys.argv[1:]])
    return " ".join(sys.argv)


def report(title: str, rows: list[tuple[str, object]], checks: list[tuple[str, bool, str]]) -> str:
    """A markdown block: command, machine, figures, checks."""
    lines = [f"### {title}", "", f"`{command_line()}`", "", f"Machine: {machine()}", ""]
    lines += ["| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if checks:
        lines += ["", "| check | result | value |", "|---|---|---|"]
        for name, ok, value in checks:
            lines.append(f"| {name} | {'pass' if ok else 'FAIL'} | {value} |")
    return "\n".join(lines)
