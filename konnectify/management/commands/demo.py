"""``make demo``: the product with localstripe beside it, so no Stripe account is needed.

Starts the Stripe stand-in (localstripe) and the product (``manage.py serve``:
gunicorn + the worker) on 127.0.0.1, creates a demo connection to localstripe
in manual webhook mode (its URL and secret registered with localstripe), the
popular-automation templates (active where localstripe can serve them) and
one demo workflow, fires a few events in localstripe, waits for the runs and
prints where to look. Ctrl-C stops everything.

It refuses to run on anything but a SQLite database inside a DATA_DIR of its
own (``make demo`` uses ``data/demo``), so it never touches real data.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from connections.models import Connection
from connections.services import validate_and_store_key
from connections.webhooks import store_manual_secret
from konnectify.platform import processes
from stripe_connector.encoding import encode_params
from workflows import services
from workflows.automations import AUTOMATIONS, create_from_automation
from workflows.models import Run, Step, Workflow

DEMO_KEY = "sk_test_KonnectifyDemoLocalstripe0000demo"
CONNECTION_NAME = "Demo (localstripe)"
DEMO_USER = "demo"
WEBHOOK_NAME = "konnectify-demo"
# Templates whose trigger event and action localstripe has; the others are
# created inactive (localstripe emits no invoice.created finalize path,
# payment_intent.created or product.updated, and cannot finalize invoices).
SERVABLE_AUTOMATIONS = {"customer_updated_find_customer"}
TAG_WORKFLOW = "Demo: Customer Created -> Update Customer (tag metadata)"


# -- setting up the demo data (also used by the test of this command) ---------------


@dataclass(frozen=True)
class LocalStripeApi:
    """Just enough of localstripe's API and controls to stage the demo."""

    url: str

    def call(self, method: str, path: str, params: dict | None = None) -> dict:
        response = requests.request(
            method,
            f"{self.url}{path}",
            auth=(DEMO_KEY, ""),
            data=encode_params(params or {}),
            timeout=10,
        )
        response.raise_for_status()
        return response.json() if response.content else {}

    def register_webhook(self, url: str, secret: str) -> None:
        self.call("POST", f"/_config/webhooks/{WEBHOOK_NAME}", {"url": url, "secret": secret})


def prepare_connection(stripe: LocalStripeApi) -> Connection:
    """The demo connection to localstripe (manual webhook mode), registered there."""
    connection = Connection.objects.filter(name=CONNECTION_NAME).first() or Connection(
        name=CONNECTION_NAME
    )
    connection.api_base = stripe.url
    connection.webhook_mode = Connection.WebhookMode.MANUAL
    if not connection.webhook_secret:
        store_manual_secret(connection, f"whsec_{secrets.token_hex(24)}")
    validate_and_store_key(connection, DEMO_KEY)  # GET /v1/account at localstripe; saves
    stripe.register_webhook(connection.webhook_url, connection.webhook_secret)
    return connection


def prepare_workflows(connection: Connection) -> list[Workflow]:
    """Every popular automation (active if localstripe can serve it) and a tagging workflow."""
    workflows = []
    for key, automation in AUTOMATIONS.items():
        workflow = Workflow.objects.filter(connection=connection, name=automation.label).first()
        workflow = workflow or create_from_automation(key, connection)
        if key in SERVABLE_AUTOMATIONS and not workflow.active:
            services.set_active(workflow, True)
        workflows.append(workflow)
    workflows.append(tag_workflow(connection))
    return workflows


def tag_workflow(connection: Connection) -> Workflow:
    """customer.created -> update that customer's metadata (which fires customer.updated)."""
    workflow = Workflow.objects.filter(connection=connection, name=TAG_WORKFLOW).first()
    if workflow is None:
        workflow = services.save_workflow(
            Workflow(
                connection=connection,
                name=TAG_WORKFLOW,
                description="Tags every new customer; the update starts the Find Customer "
                "template.",
                trigger_key="customer.created",
                active=True,
            )
        )
        Step.objects.create(
            workflow=workflow,
            order=1,
            name="tag_customer",
            action_key="update_customer",
            input_mapping={
                "id": "{{ trigger.data.object.id }}",
                "metadata": {"konnectify": "demo", "first_event": "{{ trigger.id }}"},
            },
        )
    return workflow


def fire_events(stripe: LocalStripeApi, count: int = 2) -> list[str]:
    """Create customers and change one in localstripe; returns the customer ids."""
    stamp = int(time.time())
    ids = []
    for number in range(1, count + 1):
        customer = stripe.call(
            "POST",
            "/v1/customers",
            {"email": f"demo{number}.{stamp}@example.com", "name": f"Demo customer {number}"},
        )
        ids.append(customer["id"])
    stripe.call("POST", f"/v1/customers/{ids[0]}", {"description": "Changed by the demo"})
    return ids


def finished_runs(workflows: Iterable[Workflow], since) -> list[Run]:
    return list(
        Run.objects.filter(workflow__in=workflows, created_at__gte=since, status__in=Run.FINAL)
        .select_related("workflow")
        .order_by("created_at", "id")
    )


# -- the command -----------------------------------------------------------------------


class Command(BaseCommand):
    help = "Run the product with localstripe, demo workflows and events (no Stripe account)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("DEMO_PORT", "8100")),
            help="web app port on 127.0.0.1 (default: $DEMO_PORT or 8100)",
        )
        parser.add_argument(
            "--stripe-port",
            type=int,
            default=int(os.environ.get("DEMO_STRIPE_PORT", "8420")),
            help="localstripe port on 127.0.0.1 (default: $DEMO_STRIPE_PORT or 8420)",
        )
        parser.add_argument(
            "--wait", type=float, default=60, help="seconds to wait for the first runs"
        )
        parser.add_argument(
            "--exit-after-setup",
            action="store_true",
            help="stop everything once the runs are shown (for checks), instead of waiting",
        )

    def handle(self, *args, port: int, stripe_port: int, wait: float, **options) -> None:
        refuse_real_databases()
        web_url = f"http://127.0.0.1:{port}"
        stripe = LocalStripeApi(f"http://127.0.0.1:{stripe_port}")
        settings.PUBLIC_BASE_URL = web_url  # this process builds the webhook URL
        settings.STRIPE_API_BASE = stripe.url  # and checks the demo key there, like its children
        children = self.start_children(web_url, stripe, port, stripe_port)
        stop = install_stop_handlers()
        try:
            self.stage(stripe, web_url, wait)
            if not options["exit_after_setup"]:
                self.stdout.write("Press Ctrl-C to stop the demo.")
                wait_until_stopped(children, stop)
        finally:
            self.stdout.write("Stopping the demo...")
            stop_all(children)

    def start_children(
        self, web_url: str, stripe: LocalStripeApi, port: int, stripe_port: int
    ) -> dict[str, subprocess.Popen]:
        python = sys.executable
        env = {**os.environ, "PUBLIC_BASE_URL": web_url, "STRIPE_API_BASE": stripe.url}
        state = Path(settings.DATA_DIR) / "localstripe.pickle"
        commands = {
            "localstripe": [python, "-m", "standins.localstripe_server",
                            "--port", str(stripe_port), "--state-file", str(state)],
            "product": [python, "manage.py", "serve", "--bind", f"127.0.0.1:{port}"],
        }  # fmt: skip
        logs = Path(settings.DATA_DIR) / "logs"
        children = {
            name: processes.start(command, cwd=settings.BASE_DIR, env=env, log=logs / f"{name}.log")
            for name, command in commands.items()
        }
        self.stdout.write(f"Logs: {logs}/")
        try:
            wait_for_http(f"{stripe.url}/v1/account", children["localstripe"], "localstripe")
            wait_for_http(f"{web_url}/healthz", children["product"], "the web app")
        except CommandError:
            stop_all(children)
            raise
        return children

    def stage(self, stripe: LocalStripeApi, web_url: str, wait: float) -> None:
        """Demo data, events, and the runs they caused; then where to look."""
        password = demo_user_password()
        connection = prepare_connection(stripe)
        workflows = prepare_workflows(connection)
        active = [w for w in workflows if w.active]
        self.stdout.write(f"Connection {connection.name!r} to localstripe at {stripe.url}")
        for workflow in workflows:
            self.stdout.write(f"  workflow {'ON ' if workflow.active else 'off'} {workflow.name}")
        since = timezone.now()
        customers = fire_events(stripe)
        self.stdout.write(f"Fired events in localstripe: customers {', '.join(customers)}")
        # Each new customer: a tag run, whose update starts a Find Customer run; plus
        # one Find Customer run for the change made by fire_events.
        expected = 2 * len(customers) + 1
        runs = self.wait_for_runs(active, since, expected=expected, wait=wait)
        self.stdout.write(self.style.SUCCESS(f"\n{len(runs)} run(s) so far:"))
        for run in runs:
            self.stdout.write(
                f"  run {run.pk} {run.status:<9} {run.workflow.name} -> "
                f"{web_url}/admin/workflows/run/{run.pk}/change/"
            )
        self.stdout.write(
            f"\nAdmin:  {web_url}/admin/   login {DEMO_USER} / {password}\n"
            f"Runs:   {web_url}/admin/workflows/run/\n"
            f"Inbox:  {web_url}/admin/connections/inboxevent/\n"
            f"Popular automations: {web_url}/admin/workflows/workflow/automations/\n"
            f"Cause more events in localstripe, e.g.:\n"
            f"  curl -u {DEMO_KEY}: {stripe.url}/v1/customers -d email=you@example.com\n"
        )

    def wait_for_runs(self, workflows, since, *, expected: int, wait: float) -> list[Run]:
        deadline = time.monotonic() + wait
        runs = finished_runs(workflows, since)
        while len(runs) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
            runs = finished_runs(workflows, since)
        return runs


def refuse_real_databases() -> None:
    """Only a SQLite file inside a DATA_DIR of its own (not the default ``data/``)."""
    database = settings.DATABASES["default"]
    data_dir = Path(settings.DATA_DIR).resolve()
    inside = Path(str(database["NAME"])).resolve().is_relative_to(data_dir)
    if (
        not database["ENGINE"].endswith("sqlite3")
        or not inside
        or data_dir == (Path(settings.BASE_DIR) / "data").resolve()
    ):
        raise CommandError(
            "The demo runs only on its own SQLite database: use `make demo` "
            "(DATA_DIR=data/demo, no DATABASE_URL)."
        )


def demo_user_password() -> str:
    """A staff login for the demo, with a fresh password printed for this run."""
    password = secrets.token_urlsafe(9)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return password


def wait_for_http(url: str, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"{name} exited at start; see its log in the logs folder.")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise CommandError(f"{name} did not answer at {url} within {timeout:.0f}s.")


def install_stop_handlers() -> dict[str, bool]:
    stop = {"requested": False}

    def request_stop(signum, frame) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def wait_until_stopped(children: dict[str, subprocess.Popen], stop: dict[str, bool]) -> None:
    """Until Ctrl-C, SIGTERM, a child exiting, or our parent going away (make killed)."""
    parent = os.getppid()
    while not stop["requested"] and os.getppid() == parent:
        if any(child.poll() is not None for child in children.values()):
            return
        time.sleep(0.2)


def stop_all(children: dict[str, subprocess.Popen]) -> None:
    """The product first (its worker finishes the tasks in hand), then localstripe."""
    for name in ("product", "localstripe"):
        if name in children:
            processes.stop(children[name], timeout=settings.Q_TIMEOUT + 10)
