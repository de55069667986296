"""GET /metrics: the product's Prometheus metrics, in Prometheus' text format.

Two sources, each where it is right:

- Events and calls are counted where they happen, in whichever process handles them
  (a web worker receives a webhook, a task worker runs a step or calls Stripe), with
  prometheus_client's multiprocess mode: each process adds to its own memory-mapped
  file and a scrape sums every file (``konnectify.platform.metrics_store``). An
  increment costs no query, so the webhook receiver stays as fast as it was.
- Levels (the task queue's depth and its oldest waiting task's age) are read from the
  database when scraped, by one small query on django-q2's queue table, which holds
  only the tasks not yet done (no scan of the runs or inbox tables).

Names follow Prometheus' conventions: ``konnectify_`` prefix, ``_total`` for counters,
``_seconds`` for durations, base units. See README.md (Metrics) for what each means,
a scrape configuration and alerting rules.

Who may read: a client whose address is in METRICS_ALLOWED_NETWORKS (default
127.0.0.1/32 and ::1/128: the host itself), or one that sends a valid API token
(``Authorization: Bearer kfy_...``, as the REST API). Anyone else gets 401 (no or a bad
token) and never the metrics.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Histogram
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from konnectify.platform import metrics_store
from konnectify.platform.api.authentication import TokenAuthentication
from konnectify.platform.client_ip import client_ip

logger = logging.getLogger(__name__)

# Step attempts take one Stripe call (a list or search: a few pages); retries wait apart.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10)

WEBHOOK_EVENTS = Counter(
    "konnectify_webhook_events",
    "Stripe webhook deliveries by event type and outcome: accepted, duplicate, "
    "mode_mismatch (stored, not dispatched), or why it was refused: bad_signature, "
    "missing_signature, unknown_connection, too_large, invalid, unstorable, unavailable. "
    'The type is "unknown" for a refused delivery.',
    ["type", "outcome"],
    registry=None,
)
RUNS_FINISHED = Counter(
    "konnectify_runs_finished",
    "Runs that reached a final status: succeeded, failed, skipped (filtered out), canceled.",
    ["status"],
    registry=None,
)
STEP_ATTEMPT_DURATION = Histogram(
    "konnectify_step_attempt_duration_seconds",
    "Time one attempt of a workflow step took (rendering, checks and the Stripe call), by "
    "its outcome: succeeded, failed, retrying.",
    ["outcome"],
    buckets=DURATION_BUCKETS,
    registry=None,
)
STEP_ATTEMPTS = Histogram(
    "konnectify_step_attempts",
    "How many attempts a workflow step took before it succeeded or failed for good.",
    ["outcome"],
    buckets=ATTEMPT_BUCKETS,
    registry=None,
)
STRIPE_REQUESTS = Counter(
    "konnectify_stripe_requests",
    "Requests sent to Stripe's API by method and HTTP status of the answer "
    '("network_error": no answer).',
    ["method", "status"],
    registry=None,
)
STRIPE_REQUEST_DURATION = Histogram(
    "konnectify_stripe_request_duration_seconds",
    "Time from sending a request to Stripe to its answer (or network failure), by method.",
    ["method"],
    buckets=DURATION_BUCKETS,
    registry=None,
)
WEBHOOK_ENDPOINT_SYNC_FAILURES = Counter(
    "konnectify_webhook_endpoint_sync_failures",
    "Attempts to make a connection's webhook endpoint in Stripe match the event types in "
    "use that failed (the error is shown on the connection).",
    registry=None,
)


# --- counting: one call at each place where something happens --------------------------


def webhook_event(event_type: str, outcome: str) -> None:
    """Count one webhook delivery (see WEBHOOK_EVENTS for the outcomes)."""
    WEBHOOK_EVENTS.labels(type=event_type, outcome=outcome).inc()


def run_finished(status: str) -> None:
    """Count a run that reached ``status`` (a final RunStatus value), once the
    transaction that recorded it commits (at once outside a transaction)."""
    transaction.on_commit(RUNS_FINISHED.labels(status=status).inc)


def step_attempted(outcome: str, seconds: float) -> None:
    """Record one step attempt's duration in seconds; ``outcome``: succeeded, failed, retrying."""
    STEP_ATTEMPT_DURATION.labels(outcome=outcome).observe(seconds)


def step_finished(outcome: str, attempts: int) -> None:
    """Record how many attempts a step took to end ``outcome`` (succeeded or failed)."""
    STEP_ATTEMPTS.labels(outcome=outcome).observe(attempts)


def stripe_request(method: str, status: int | str, seconds: float) -> None:
    """Count one request to Stripe: ``status`` is the HTTP status, or a string when no
    answer came (network failure); ``seconds`` its duration.

    Registered with ``stripe_connector.client.observe_requests_with`` by
    ``PlatformConfig.ready``: the connector knows nothing of the platform.
    """
    label = str(status) if isinstance(status, int) else "network_error"
    STRIPE_REQUESTS.labels(method=method, status=label).inc()
    STRIPE_REQUEST_DURATION.labels(method=method).observe(seconds)


def endpoint_sync_failed() -> None:
    """Count one failed webhook endpoint sync."""
    WEBHOOK_ENDPOINT_SYNC_FAILURES.inc()


# --- levels read at scrape time --------------------------------------------------------


class QueueCollector:
    """The task queue's depth and the age of its oldest waiting task, read when scraped.

    ORM broker (the default): one aggregate over django-q2's queue table (``OrmQ``),
    which holds only tasks not yet done. A task waits when its ``lock`` is not in the
    future (a taken task's lock is, until it may be handed out again); ``lock`` is its
    enqueue time until then. Redis broker: the list's length; the age is not known.
    A database or broker that does not answer leaves both out of the scrape.
    """

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            waiting, oldest = queue_levels()
        except Exception as exc:  # a scrape must still answer with the counters
            logger.warning("Metrics: could not read the task queue (%s)", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "konnectify_queue_waiting_tasks",
            "Tasks in the queue that no worker has taken yet.",
            value=waiting,
        )
        if oldest is not None:
            yield GaugeMetricFamily(
                "konnectify_queue_oldest_waiting_task_age_seconds",
                "Age of the oldest task no worker has taken yet (0 when none waits).",
                value=oldest,
            )


def queue_levels() -> tuple[int, float | None]:
    """(tasks waiting, seconds the oldest has waited or 0; None with the Redis broker)."""
    if "orm" not in settings.Q_CLUSTER:
        from django_q.brokers import get_broker

        return get_broker().queue_size(), None
    from django.db.models import Count, Min
    from django_q.models import OrmQ

    now = timezone.now()
    with transaction.atomic():  # a failure here leaves the request's transaction usable
        waiting = OrmQ.objects.filter(lock__lte=now)
        levels = waiting.aggregate(waiting=Count("id"), oldest=Min("lock"))
    oldest = levels["oldest"]
    return levels["waiting"], 0.0 if oldest is None else (now - oldest).total_seconds()


def exposition() -> bytes:
    """Every metric in Prometheus' text format: every process's counters, then the levels."""
    path = metrics_store.folder()
    if path is None or not multiprocess_mode():
        # settings.py sets it; fail loudly rather than show one process's share as the total.
        raise RuntimeError("PROMETHEUS_MULTIPROC_DIR was not set before prometheus_client loaded.")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    registry.register(QueueCollector())
    with metrics_store.locked_for_reading(path):
        return generate_latest(registry)


def multiprocess_mode() -> bool:
    """Whether prometheus_client keeps values in files (it decides when first imported)."""
    return getattr(prometheus_values.ValueClass, "_multiprocess", False)


# --- who may read ---------------------------------------------------------------------


@cache
def allowed_networks(
    networks: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """METRICS_ALLOWED_NETWORKS parsed (settings.py has refused any that is not a network)."""
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_allowed(address: str) -> bool:
    """Whether ``address`` lies in one of METRICS_ALLOWED_NETWORKS."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = allowed_networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    return any(ip.version == network.version and ip in network for network in networks)


class FromAllowedNetworkOrToken(BasePermission):
    """An address in METRICS_ALLOWED_NETWORKS (the client's, as every throttle reads it:
    ``client_ip``), or a valid API token."""

    def has_permission(self, request, view) -> bool:
        if request.auth is not None:
            return True
        return address_allowed(client_ip(request))


class MetricsView(APIView):
    """GET /metrics: Prometheus' text format 0.0.4, which every Prometheus version reads."""

    authentication_classes = (TokenAuthentication,)
    permission_classes = (FromAllowedNetworkOrToken,)
    throttle_classes = ()
    schema = None  # for Prometheus, not part of the documented API

    def get(self, request) -> HttpResponse:
        response = HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
        response["Cache-Control"] = "no-store"
        return response
