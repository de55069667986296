"""GET /metrics after real deliveries and runs: each metric's name, labels and exact value.

Counters live in files shared by every process of the test run (and of earlier runs), so
each test compares two scrapes: what changed between them must be exactly what the test
did. Durations depend on the machine: their buckets are checked for shape only, their
counts and the attempt counts exactly.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import responses
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from prometheus_client.parser import text_string_to_metric_families

from connections.models import Connection
from connections.webhooks import sync_webhook_endpoint
from konnectify.platform import metrics
from stripe_connector.signature import sign_payload
from tests.support.clock import fix_workflow_clock
from tests.support.factories import make_connection, make_workflow
from tests.workflows.conftest import API, sample_event
from workflows import tasks
from workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_metrics_test_0123456789abcdef"
SECRET_KEY = "sk_test_51MetricsTestKey0000000000000000000000000000000000wxyz"
# Their buckets hold machine-dependent durations: compared by count, not bucket by bucket.
TIMED = ("konnectify_step_attempt_duration_seconds", "konnectify_stripe_request_duration_seconds")
BUCKETS = ["1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "8.0", "10.0", "+Inf"]
ACCEPTED = (("outcome", "accepted"), ("type", "customer.created"))
LEVELS = ("konnectify_queue_waiting_tasks", "konnectify_queue_oldest_waiting_task_age_seconds")


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch, settings):
    """Tasks run at once in this process (django-q2's sync mode), against a fixed API base."""
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.STRIPE_API_BASE = API
    settings.WORKFLOW_RETRY_INLINE_SECONDS = 0  # retries wait for the sweeper


@pytest.fixture
def connection(db) -> Connection:
    return make_connection(
        name="Metrics test account",
        secret_key=SECRET_KEY,
        webhook_secret=WEBHOOK_SECRET,
        webhook_endpoint_id="we_1Metrics",
        webhook_status=Connection.WebhookStatus.ENABLED,
    )


@pytest.fixture
def stripe():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def post_event(client, django_capture_on_commit_callbacks):
    """POST a delivery to the receiver (signed with ``secret``); commit callbacks run."""

    def post(connection: Connection, event: dict, secret: str = WEBHOOK_SECRET):
        body = json.dumps(event).encode()
        header = sign_payload(body, secret, int(time.time()))
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                connection.webhook_path,
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )

    return post


def scrape(client) -> dict[tuple[str, tuple], float]:
    """GET /metrics, parsed by prometheus_client's own parser: {(sample, labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def changes(before: dict, after: dict) -> dict:
    """The samples whose value changed, by how much (levels and timed buckets left out)."""
    diff = {}
    for key, value in after.items():
        name = key[0]
        if name.startswith(LEVELS) or (name.startswith(TIMED) and not name.endswith("_count")):
            continue
        if value != before.get(key, 0.0):
            diff[key] = value - before.get(key, 0.0)
    return diff


def timed_buckets(samples: dict, name: str, labels: tuple) -> list[tuple[str, float]]:
    """A histogram's buckets in order of ``le`` (labels without ``le``)."""
    found = [
        (dict(key[1])["le"], value)
        for key, value in samples.items()
        if key[0] == f"{name}_bucket" and tuple(kv for kv in key[1] if kv[0] != "le") == labels
    ]
    return sorted(found, key=lambda item: float(item[0]))


def test_deliveries_runs_and_stripe_calls_are_counted_exactly(
    client, connection, post_event, stripe, monkeypatch, django_capture_on_commit_callbacks
):
    clock = fix_workflow_clock(monkeypatch)
    make_workflow(
        connection,
        "customer.created",
        [("tag", "update_customer", {"id": "{{ trigger.data.object.id }}", "description": "x"})],
    )
    stripe.post(f"{API}/v1/customers/cus_Ok", json={"id": "cus_Ok", "object": "customer"})
    bad = {"error": {"type": "invalid_request_error", "message": "No such customer"}}
    stripe.post(f"{API}/v1/customers/cus_Bad", status=400, json=bad)
    boom = {"error": {"type": "api_error", "message": "Boom"}}
    stripe.post(f"{API}/v1/customers/cus_Later", status=500, json=boom)
    stripe.post(f"{API}/v1/customers/cus_Later", json={"id": "cus_Later", "object": "customer"})
    before = scrape(client)

    ok = sample_event("customer.created", id="cus_Ok")
    assert post_event(connection, ok).status_code == 200
    assert post_event(connection, sample_event("customer.created", id="cus_Bad")).status_code == 200
    later = sample_event("customer.created", id="cus_Later")
    assert post_event(connection, later).status_code == 200
    assert post_event(connection, ok).json()["duplicate"] is True
    live = sample_event("customer.created", id="cus_Live") | {"livemode": True}
    assert post_event(connection, live).status_code == 200
    forged = sample_event("customer.created", id="cus_Forged")
    wrong_secret = "whsec_not_the_right_one_000000"
    assert post_event(connection, forged, secret=wrong_secret).status_code == 400
    clock.advance(seconds=3600)
    with django_capture_on_commit_callbacks(execute=True):  # runs are counted on commit
        tasks.sweep()  # the retry of cus_Later succeeds
    statuses = sorted(Run.objects.values_list("status", flat=True))
    assert statuses == [RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]

    after = scrape(client)
    created = ACCEPTED
    assert changes(before, after) == {
        ("konnectify_webhook_events_total", created): 3,
        ("konnectify_webhook_events_total", (("outcome", "duplicate"), created[1])): 1,
        ("konnectify_webhook_events_total", (("outcome", "mode_mismatch"), created[1])): 1,
        ("konnectify_webhook_events_total", (("outcome", "bad_signature"), ("type", "unknown"))): 1,
        ("konnectify_runs_finished_total", (("status", "succeeded"),)): 2,
        ("konnectify_runs_finished_total", (("status", "failed"),)): 1,
        ("konnectify_stripe_requests_total", (("method", "POST"), ("status", "200"))): 2,
        ("konnectify_stripe_requests_total", (("method", "POST"), ("status", "400"))): 1,
        ("konnectify_stripe_requests_total", (("method", "POST"), ("status", "500"))): 1,
        ("konnectify_stripe_request_duration_seconds_count", (("method", "POST"),)): 4,
        ("konnectify_step_attempt_duration_seconds_count", (("outcome", "succeeded"),)): 2,
        ("konnectify_step_attempt_duration_seconds_count", (("outcome", "failed"),)): 1,
        ("konnectify_step_attempt_duration_seconds_count", (("outcome", "retrying"),)): 1,
        # Attempts per finished step: cus_Ok 1, cus_Later 2 (succeeded), cus_Bad 1 (failed).
        **{
            ("konnectify_step_attempts_bucket", (("le", le), ("outcome", "succeeded"))): n
            for le, n in zip(BUCKETS, [1, 2, 2, 2, 2, 2, 2, 2, 2], strict=True)
        },
        ("konnectify_step_attempts_count", (("outcome", "succeeded"),)): 2,
        ("konnectify_step_attempts_sum", (("outcome", "succeeded"),)): 3,
        **{
            ("konnectify_step_attempts_bucket", (("le", le), ("outcome", "failed"))): 1
            for le in BUCKETS
        },
        ("konnectify_step_attempts_count", (("outcome", "failed"),)): 1,
        ("konnectify_step_attempts_sum", (("outcome", "failed"),)): 1,
    }
    # Timed histograms: cumulative buckets ending in +Inf = count, a positive sum.
    for name, labels in [
        ("konnectify_stripe_request_duration_seconds", (("method", "POST"),)),
        ("konnectify_step_attempt_duration_seconds", (("outcome", "succeeded"),)),
    ]:
        buckets = timed_buckets(after, name, labels)
        counts = [value for _, value in buckets]
        assert buckets[-1][0] == "+Inf" and counts == sorted(counts)
        assert counts[-1] == after[(f"{name}_count", labels)]
        assert after[(f"{name}_sum", labels)] > before.get((f"{name}_sum", labels), 0.0)


def test_refused_deliveries_are_counted_by_reason_without_a_type(client, connection, post_event):
    before = scrape(client)
    missing = client.post(connection.webhook_path, b"{}", content_type="application/json")
    unknown = client.post(
        "/webhooks/stripe/00000000-0000-0000-0000-000000000000/",
        b"{}",
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=00",
    )
    not_an_event = post_event(connection, {"id": "nope"})
    assert (missing.status_code, unknown.status_code, not_an_event.status_code) == (400, 404, 400)

    assert changes(before, scrape(client)) == {
        ("konnectify_webhook_events_total", (("outcome", outcome), ("type", "unknown"))): 1
        for outcome in ["missing_signature", "unknown_connection", "invalid"]
    }


def test_a_failed_endpoint_sync_is_counted(client, connection, stripe):
    unauthorized = {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}
    stripe.post(f"{API}/v1/webhook_endpoints/we_1Metrics", status=401, json=unauthorized)
    before = scrape(client)

    result = sync_webhook_endpoint(connection, ["customer.created"])

    assert result.action == "failed"
    assert changes(before, scrape(client)) == {
        ("konnectify_webhook_endpoint_sync_failures_total", ()): 1,
        ("konnectify_stripe_requests_total", (("method", "POST"), ("status", "401"))): 1,
        ("konnectify_stripe_request_duration_seconds_count", (("method", "POST"),)): 1,
    }


def test_a_skipped_and_a_canceled_run_are_counted(
    client, connection, post_event, django_capture_on_commit_callbacks
):
    from workflows.services import CancelError, cancel_run

    make_workflow(
        connection,
        "customer.created",
        [("tag", "update_customer", {"id": "{{ trigger.data.object.id }}", "description": "x"})],
        filters=[{"path": "data.object.email", "op": "equals", "value": "vip@example.com"}],
    )
    before = scrape(client)
    post_event(connection, sample_event("customer.created", id="cus_Plain", email="a@example.com"))
    assert Run.objects.get().status == RunStatus.SKIPPED
    workflow = Run.objects.get().workflow
    waiting = Run.objects.create(workflow=workflow, status=RunStatus.RETRYING)
    done = Run.objects.create(workflow=workflow, status=RunStatus.SUCCEEDED, replay=1)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_run(waiting)
        with pytest.raises(CancelError):
            cancel_run(done)  # refused: rolled back, not counted

    assert changes(before, scrape(client)) == {
        ("konnectify_webhook_events_total", ACCEPTED): 1,
        ("konnectify_runs_finished_total", (("status", "skipped"),)): 1,
        ("konnectify_runs_finished_total", (("status", "canceled"),)): 1,
    }


def test_the_queue_depth_and_oldest_waiting_task_come_from_the_queue_table(client, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)
    now = timezone.now()
    OrmQ.objects.create(key="konnectify", payload="a", lock=now - timedelta(seconds=120))
    OrmQ.objects.create(key="konnectify", payload="b", lock=now - timedelta(seconds=5))
    OrmQ.objects.create(key="konnectify", payload="taken", lock=now + timedelta(seconds=300))

    samples = scrape(client)

    assert samples[("konnectify_queue_waiting_tasks", ())] == 2
    assert 120 <= samples[("konnectify_queue_oldest_waiting_task_age_seconds", ())] < 150


def test_an_empty_queue_is_zero_deep_and_zero_seconds_old(client):
    samples = scrape(client)

    assert samples[("konnectify_queue_waiting_tasks", ())] == 0
    assert samples[("konnectify_queue_oldest_waiting_task_age_seconds", ())] == 0


def test_names_follow_prometheus_conventions(client, connection, post_event):
    post_event(connection, sample_event("customer.created"))  # at least one of each family
    response = client.get("/metrics")
    families = {
        family.name: family.type
        for family in text_string_to_metric_families(response.content.decode())
    }

    for name, kind in families.items():
        assert name.startswith("konnectify_"), name
        assert kind in {"counter", "histogram", "gauge"}, (name, kind)
        if "duration" in name or "age" in name:
            assert name.endswith("_seconds"), name
    text = response.content.decode()
    assert "# TYPE konnectify_webhook_events_total counter" in text or (
        "# TYPE konnectify_webhook_events counter" in text
    )
    assert 'konnectify_webhook_events_total{outcome="accepted",type="customer.created"}' in text
    assert families["konnectify_queue_waiting_tasks"] == "gauge"


def test_with_the_redis_broker_the_depth_is_its_lists_length_and_no_age(
    client, settings, monkeypatch
):
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "orm"}
    broker = type("Broker", (), {"queue_size": lambda self: 7})()
    monkeypatch.setattr("django_q.brokers.get_broker", lambda: broker)

    samples = scrape(client)

    assert samples[("konnectify_queue_waiting_tasks", ())] == 7
    assert not any(name.startswith(LEVELS[1]) for name, _ in samples)


def test_a_queue_that_does_not_answer_leaves_only_its_levels_out(client, settings, monkeypatch):
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "orm"}

    def unreachable():
        raise ConnectionError("redis down")

    monkeypatch.setattr("django_q.brokers.get_broker", unreachable)
    metrics.webhook_event("test.scrape", "accepted")  # something to show

    samples = scrape(client)

    assert not any(name.startswith(LEVELS) for name, _ in samples)
    assert (
        samples[
            ("konnectify_webhook_events_total", (("outcome", "accepted"), ("type", "test.scrape")))
        ]
        >= 1
    )


def test_the_documented_alerts_use_metrics_and_labels_that_exist(client, connection, post_event):
    import re
    from pathlib import Path

    import yaml

    rules = Path(__file__).resolve().parent.parent / "docs/prometheus/konnectify-alerts.yml"
    exprs = [
        rule["expr"]
        for group in yaml.safe_load(rules.read_text())["groups"]
        for rule in group["rules"]
    ]
    post_event(connection, sample_event("customer.created"))
    metrics.run_finished(RunStatus.FAILED)
    exposed = {}
    for name, labels in scrape(client):
        exposed.setdefault(name, set()).update(label for label, _ in labels)

    for expr in exprs:
        for name, selector in re.findall(r"(konnectify_[a-z_]+)(\{[^}]*\})?", expr):
            assert name in exposed, (name, expr)
            for label in re.findall(r"([a-z_]+)\s*=~?", selector):
                assert label in exposed[name], (name, label, expr)
