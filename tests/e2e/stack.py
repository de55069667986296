"""The real product on 127.0.0.1 for end-to-end and browser tests.

Three processes on free ports, all on the pytest-django test database:
localstripe (the Stripe stand-in), the web app under gunicorn (tests.support.web:
konnectify.wsgi, forgetting content type ids at each request), and the django-q2
cluster. They are started once per test folder (and pytest-xdist worker) and always
stopped (also when a test fails: each runs in its own process group, and the group is
killed). Every test gets its own connection and webhook URL, so tests never
depend on each other. Their logs go to ``test-artifacts/e2e/`` and are
attached to the report of a failed test.

The fixtures at the bottom are imported by the conftest of tests/e2e and of
tests/browser; each folder starts the stack once and stops it when its last
test is done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import pytest
import requests
from django_q.models import OrmQ
from django_q.tasks import async_task

from connections.models import Connection
from connections.services import validate_and_store_key
from connections.webhooks import store_manual_secret
from konnectify.platform import processes
from stripe_connector.encoding import encode_params
from tests.support import factories
from tests.support.processes import BASE_DIR, child_env

LOGS = BASE_DIR / "test-artifacts" / "e2e"
# Each pytest-xdist worker runs stacks of its own: their logs carry its id (gw0, gw1...).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
SECRET_KEY = "sk_test_e2eLocalstripe0000000000000000000000000000000000000e2e1"
LOG_TAIL_LINES = 80
# Short task timeout (the sweeper's lease is Q_TIMEOUT + 30 s) and fast backoff,
# so that recovery and retries happen within seconds in these tests. Short Stripe
# timeouts too: one attempt must fit in the task (system check E005: 2 + 8 + 5 s
# of rate limiter + 2 + 5 = 22 s); the read timeout outlasts localstripe's 5 s delay.
WORKER_ENV = {
    "Q_TIMEOUT": "22",
    "Q_RETRY": "26",
    "STRIPE_CONNECT_TIMEOUT": "2",
    "STRIPE_READ_TIMEOUT": "8",
    "Q_WORKERS": "2",
    "WORKFLOW_RETRY_BASE_SECONDS": "1",
    "WORKFLOW_RETRY_CAP_SECONDS": "2",
    "WORKFLOW_RETRY_MAX_ATTEMPTS": "30",
    "WORKFLOW_RETRY_INLINE_SECONDS": "2",  # under half of Q_TIMEOUT (system check E004)
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, *, ok_only: bool = False) -> bool:
    """True once something answers HTTP at ``url`` (any status, or only 2xx)."""
    try:
        response = requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return response.ok or not ok_only


@dataclass
class Service:
    """One child process in its own process group, logging to ``log_path``."""

    name: str
    command: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    ready_only_when_ok: bool = False
    process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return LOGS / (f"{self.name}-{WORKER}.log" if WORKER else f"{self.name}.log")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Start the process and wait until it answers HTTP at ``ready_url``."""
        LOGS.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {' '.join(self.command)}\n".encode())
        self.process = processes.start(
            self.command, cwd=BASE_DIR, env=child_env(**self.env), log=self.log_path
        )
        deadline = time.monotonic() + timeout
        while not answers(self.ready_url, ok_only=self.ready_only_when_ok):
            if not self.running or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start; its log:\n{self.log_tail()}")
            time.sleep(0.1)

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group, then SIGKILL what is left of it."""
        if self.process is not None:
            processes.stop(self.process, timeout=timeout)

    def kill(self) -> None:
        """``kill -9`` the process and all its children, at once, as a crash would."""
        if self.process is not None:
            processes.kill(self.process)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class LocalStripe:
    """The localstripe stand-in: its API for setting up objects, and its test controls."""

    def __init__(self, service: Service, url: str) -> None:
        self.service = service
        self.url = url

    def api(self, method: str, path: str, params: dict | None = None) -> dict:
        """Call localstripe's Stripe API as a Stripe user would (not through the product)."""
        encoded = encode_params(params or {})
        response = requests.request(
            method,
            f"{self.url}{path}",
            auth=(SECRET_KEY, ""),
            params=encoded if method == "GET" else None,
            data=encoded if method != "GET" else None,
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def control(self, method: str, path: str, data: dict | None = None) -> requests.Response:
        response = requests.request(method, f"{self.url}/_config/{path}", data=data, timeout=10)
        response.raise_for_status()
        return response

    def register_webhook(self, name: str, url: str, secret: str) -> None:
        self.control("POST", f"webhooks/{name}", {"url": url, "secret": secret})

    def forget_webhook(self, name: str) -> None:
        self.control("DELETE", f"webhooks/{name}")

    def delay(self, path: str, seconds: float) -> None:
        """Make calls whose path starts with ``path`` take ``seconds`` longer."""
        self.control("POST", "delay", {"path": path, "seconds": str(seconds)})

    def posts_seen(self, path: str) -> list[dict]:
        """The POST requests to ``path`` this localstripe process received, in order."""
        seen = self.control("GET", "requests").json()
        return [r for r in seen if r["method"] == "POST" and r["path"] == path]

    def deliveries(self) -> list[dict]:
        return self.control("GET", "deliveries").json()

    def quiet(self) -> bool:
        """True when no webhook delivery is being relayed to its URL right now.

        An event that localstripe has yet to send (it waits ~1 s) is not counted: it
        goes only to the webhooks registered before it happened, and none of a
        forgotten one's.
        """
        return not self.service.running or self.control("GET", "pending").json()["pending"] == 0

    def customer_with_card(self, email: str) -> dict:
        """A customer that can pay (localstripe needs a card source for subscriptions)."""
        token = self.api(
            "POST",
            "/v1/tokens",
            {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": 123}},
        )
        return self.api("POST", "/v1/customers", {"email": email, "source": token["id"]})


@dataclass
class Stack:
    """The running product and its stand-in."""

    localstripe: LocalStripe
    web: Service
    worker: Service
    web_url: str
    state_file: Path

    @property
    def services(self) -> list[Service]:
        return [self.localstripe.service, self.web, self.worker]

    def ensure_running(self) -> None:
        """Start whatever a previous test stopped or killed."""
        for service in self.services:
            service.ensure_running()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.state_file.unlink(missing_ok=True)

    def logs(self) -> list[tuple[str, str]]:
        return [(f"log of {s.name} ({s.log_path})", s.log_tail()) for s in self.services]


def start_stack() -> Stack:
    """Start localstripe, gunicorn and the task worker on free ports, on the test database."""
    ls_port, web_port = free_port(), free_port()
    ls_url, web_url = f"http://127.0.0.1:{ls_port}", f"http://127.0.0.1:{web_port}"
    state = LOGS / f"localstripe-{ls_port}.pickle"
    state.unlink(missing_ok=True)
    env = {"PUBLIC_BASE_URL": web_url, "STRIPE_API_BASE": ls_url}
    python = sys.executable
    standin = Service(
        "localstripe",
        [python, "-m", "standins.localstripe_server", "--port", str(ls_port),
         "--state-file", str(state)],
        ready_url=f"{ls_url}/v1/account",
    )  # fmt: skip
    web = Service(
        "gunicorn",
        [python, "-m", "gunicorn", "tests.support.web", "--bind", f"127.0.0.1:{web_port}",
         "--workers", "2", "--access-logfile", "-"],
        ready_url=f"{web_url}/healthz",
        env=env,
    )  # fmt: skip
    # The cluster answers no HTTP: it is ready when /healthz sees its heartbeat.
    worker = Service(
        "worker",
        [python, "manage.py", "worker"],
        ready_url=f"{web_url}/healthz",
        env={**env, **WORKER_ENV},
        ready_only_when_ok=True,
    )
    stack = Stack(LocalStripe(standin, ls_url), web, worker, web_url, state)
    try:
        stack.ensure_running()
    except BaseException:
        stack.stop()
        raise
    return stack


def wait_for(predicate: Callable[[], object], timeout: float = 30, *, sweep: bool = False):
    """Poll ``predicate`` until truthy; with ``sweep``, also play django-q2's scheduler.

    The product's sweeper (workflows.tasks.sweep) wakes due retries and recovers
    steps of dead workers; in production a django-q2 Schedule runs it every
    minute. Here it is enqueued every second instead, and the worker runs it.
    """
    deadline = time.monotonic() + timeout
    next_sweep = 0.0
    while True:
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate!r}")
        if sweep and now >= next_sweep:
            async_task("workflows.tasks.sweep", task_name="e2e-sweep")
            next_sweep = now + 1
        time.sleep(0.2)


def queue_is_empty() -> bool:
    """No task waits in django-q2's ORM broker (so nothing more is about to happen)."""
    return not OrmQ.objects.exists()


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="package")
def product_stack(django_db_setup, django_db_blocker) -> Iterator[Stack]:
    """The running stack, shared by the tests of one folder (tests/e2e or tests/browser).

    Package scope: nothing of it runs while other folders' tests use the database
    (its worker would take their queued tasks).
    """
    stack = start_stack()
    try:
        yield stack
    finally:
        stack.stop()
        with django_db_blocker.unblock():
            wait_for(no_other_sessions, timeout=15)


def no_other_sessions() -> bool:
    """PostgreSQL: the children's sessions are gone, so the test database can be dropped.

    A killed process's socket closes at once, but its server session ends a moment later.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] == 0


@pytest.fixture
def stack(product_stack: Stack, transactional_db, settings, request) -> Iterator[Stack]:
    """The stack for one test: all processes up, this process pointed at them too."""
    product_stack.ensure_running()
    settings.PUBLIC_BASE_URL = product_stack.web_url
    settings.STRIPE_API_BASE = product_stack.localstripe.url
    request.node.e2e_stack = product_stack  # for the failure report (logs)
    yield product_stack
    # A delivery still being relayed to this test's URL must not land after the flush.
    wait_for(product_stack.localstripe.quiet, timeout=10)


@pytest.fixture
def stripe_connection(stack: Stack) -> Iterator[Connection]:
    """A connection to localstripe in manual webhook mode, its URL registered there.

    The key is validated against localstripe (GET /v1/account), as in admin.
    """
    connection = Connection(name=f"localstripe {uuid4().hex[:8]}")
    connection.webhook_mode = Connection.WebhookMode.MANUAL
    store_manual_secret(connection, f"whsec_e2e{uuid4().hex}")
    validate_and_store_key(connection, SECRET_KEY)
    hook = f"e2e-{connection.pk}"
    stack.localstripe.register_webhook(hook, connection.webhook_url, connection.webhook_secret)
    yield connection
    stack.localstripe.forget_webhook(hook)


def report_child_logs(item, report) -> None:
    """Attach the children's logs to a failed test's report (CI shows why it failed)."""
    stack = getattr(item, "e2e_stack", None)
    if stack is not None and report.failed:
        for title, text in stack.logs():
            report.sections.append((title, text))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:10]}"


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, default=str)


def make_workflow(connection: Connection, trigger_key: str, *steps: tuple[str, str, dict]):
    """An active workflow on ``connection``: steps are (name, action key, input mapping)."""
    return factories.make_workflow(connection, trigger_key, steps, name=unique(trigger_key))


def finished_run(workflow, timeout: float = 30, *, sweep: bool = False):
    """The workflow's first run once it has finished (succeeded, failed or skipped)."""
    from workflows.models import Run

    return wait_for(
        lambda: Run.objects.filter(workflow=workflow, status__in=Run.FINAL).first(),
        timeout,
        sweep=sweep,
    )
