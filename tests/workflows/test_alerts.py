"""A run that ends failed alerts staff once, by email and chat, after its transaction commits.

Email goes through Django's locmem backend (``mail.outbox``); the chat webhook is a
local HTTP server on 127.0.0.1. Every way a run ends failed is covered: a permanent
Stripe error, retries exhausted, the 24 h idempotency window, the sweeper giving up.
"""

import json
import logging

import pytest
from django.conf import settings
from django.core import mail

from tests.listener import recording_server
from workflows import alerts, engine, tasks
from workflows.models import AlertState, AlertWindow, Run, RunStatus, Step

from .conftest import API, SECRET_KEY, make_workflow, sample_event

pytestmark = pytest.mark.django_db

BAD_REQUEST = {
    "error": {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "param": "id",
        "message": "No such customer: 'cus_Gone'",
    }
}
UPDATE_STEP = ("update", "update_customer", {"id": "{{ trigger.data.object.id }}", "name": "A"})


@pytest.fixture(autouse=True)
def alert_settings(settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    settings.ALERT_EMAILS = ["oncall@example.com"]
    settings.ALERT_CHAT_WEBHOOK_URL = ""
    settings.ALERT_DIGEST_MINUTES = 15


@pytest.fixture
def chat(settings):
    with recording_server({"ok": True}) as server:
        settings.ALERT_CHAT_WEBHOOK_URL = f"{server.url}/services/T000/B000/secret-token"
        yield server


def chat_texts(server) -> list[str]:
    return [json.loads(request.body)["text"] for request in server.requests]


def fail_with_400(connection, deliver, stripe, **workflow_fields):
    """A workflow whose one step gets a 400 from Stripe (``responses``), and its failed run."""
    stripe.add_passthru("http://127.0.0.1")  # the chat webhook's local server
    workflow = make_workflow(connection, "customer.created", [UPDATE_STEP], **workflow_fields)
    stripe.post(
        f"{API}/v1/customers/cus_Gone",
        status=400,
        json=BAD_REQUEST,
        headers={"Request-Id": "req_alert_400"},
    )
    event = sample_event("customer.created", id="cus_Gone")
    deliver(connection, event)
    return Run.objects.get(workflow=workflow), event


def test_a_permanent_stripe_error_emails_and_posts_one_alert_with_what_staff_need(
    connection, deliver, stripe, chat
):
    run, event = fail_with_400(connection, deliver, stripe, name="Tag new customers")

    assert run.status == RunStatus.FAILED
    assert (run.alert, run.alert_failures) == (AlertState.SENT, 0)
    assert run.alerted_at is not None
    [email] = mail.outbox
    assert email.to == ["oncall@example.com"]
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    assert email.subject == f"[Konnectify] Run {run.pk} of 'Tag new customers' failed"
    link = f"https://ops.example.com/admin/workflows/run/{run.pk}/change/"
    for text in (email.body, chat_texts(chat)[0]):
        assert link in text
        assert "Workflow: Tag new customers (connection Workflows test account, test mode)" in text
        assert f"Trigger: customer.created {event['id']}" in text
        assert "Failed step: update (update_customer)" in text
        assert "No such customer: 'cus_Gone'" in text
        assert "[invalid_request_error / resource_missing]" in text
        assert "Stripe request id: req_alert_400" in text
        assert SECRET_KEY not in text
        assert "konnectify-" not in text  # no idempotency key
    [request] = chat.requests
    assert (request.method, request.path) == ("POST", "/services/T000/B000/secret-token")
    assert request.headers["Content-Type"] == "application/json"


def test_the_workflows_own_addresses_replace_the_default(connection, deliver, stripe):
    fail_with_400(connection, deliver, stripe, alert_emails=["a@example.com", "b@example.com"])

    [email] = mail.outbox
    assert email.to == ["a@example.com", "b@example.com"]


def test_a_workflow_with_chat_off_is_not_posted(connection, deliver, stripe, chat):
    fail_with_400(connection, deliver, stripe, alert_chat=False)

    assert len(mail.outbox) == 1
    assert chat.requests == []


def test_with_no_address_and_no_chat_nothing_is_sent_or_claimed(
    connection, deliver, stripe, settings
):
    settings.ALERT_EMAILS = []
    run, _ = fail_with_400(connection, deliver, stripe)

    assert mail.outbox == []
    assert (run.alerted_at, run.alert) == (None, "")


def scheduled_run(connection, when, customer: str = "cus_Gone") -> Run:
    step = ("update", "update_customer", {"id": customer, "name": "A"})
    workflow = make_workflow(connection, "schedule", [step], schedule_minutes=5)
    return engine.create_run(workflow, scheduled_for=when, enqueue=False)


def test_the_alert_waits_for_the_runs_transaction_to_commit(
    connection, stripe, clock, django_capture_on_commit_callbacks
):
    stripe.post(f"{API}/v1/customers/cus_Gone", status=400, json=BAD_REQUEST)
    run = scheduled_run(connection, clock.now)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        engine.execute_run(run.pk)
        assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED
        assert mail.outbox == []  # nothing sent from the engine itself
    assert mail.outbox == []  # nor before the commit

    for callback in callbacks:  # the commit
        callback()
    assert len(mail.outbox) == 1


def test_the_failure_path_run_twice_alerts_once(connection, deliver, stripe, chat, on_commit):
    run, _ = fail_with_400(connection, deliver, stripe)

    with on_commit():
        engine.finish_run(run.pk)  # the run has ended: no second enqueue
    assert alerts.alert_failed_run(run.pk) == ""  # a task delivered twice
    assert len(mail.outbox) == 1
    assert len(chat.requests) == 1


def test_two_workers_claiming_at_once_send_one_alert(connection, deliver, stripe, monkeypatch):
    run, _ = fail_with_400(connection, deliver, stripe, alert_chat=False)
    Run.objects.filter(pk=run.pk).update(alerted_at=None, alert="")
    AlertWindow.objects.all().delete()
    mail.outbox.clear()
    seen = []
    real = alerts.has_channels

    def another_worker_gets_there_first(workflow):
        # Both workers read the run unclaimed; the other one claims and sends in between.
        if not seen:
            seen.append(True)
            assert alerts.alert_failed_run(run.pk) == AlertState.SENT
        return real(workflow)

    monkeypatch.setattr(alerts, "has_channels", another_worker_gets_there_first)

    assert alerts.alert_failed_run(run.pk) == ""
    assert [email.to for email in mail.outbox] == [["oncall@example.com"]]


def test_a_succeeded_or_canceled_run_is_not_alerted(connection, stripe, clock, on_commit):
    workflow = make_workflow(connection, "schedule", [], schedule_minutes=5)
    run = engine.create_run(workflow, scheduled_for=clock.now, enqueue=False)
    with on_commit():
        engine.execute_run(run.pk)
    clock.advance(minutes=5)
    canceled = engine.create_run(workflow, scheduled_for=clock.now, enqueue=False)
    Run.objects.filter(pk=canceled.pk).update(status=RunStatus.CANCELED)

    assert Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED
    assert alerts.alert_failed_run(run.pk) == ""
    assert alerts.alert_failed_run(canceled.pk) == ""
    assert mail.outbox == []


def test_retries_exhausted_alert_once_when_the_run_fails(
    connection, deliver, stripe, settings, on_commit
):
    settings.WORKFLOW_RETRY_MAX_ATTEMPTS = 1
    make_workflow(connection, "customer.created", [UPDATE_STEP])
    stripe.post(f"{API}/v1/customers/cus_Busy", status=500, json={"error": {"message": "Boom"}})

    deliver(connection, sample_event("customer.created", id="cus_Busy"))

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    [email] = mail.outbox
    assert "gave up after 1 attempts" in email.body


def test_the_idempotency_window_passing_alerts(connection, stripe, clock, on_commit):
    stripe.post(f"{API}/v1/customers/cus_Slow", status=500, json={"error": {"message": "Down"}})
    run = scheduled_run(connection, clock.now, "cus_Slow")
    with on_commit():
        engine.execute_run(run.pk)
    assert Run.objects.get(pk=run.pk).status == RunStatus.RETRYING
    assert mail.outbox == []

    clock.advance(hours=25)
    with on_commit():
        tasks.sweep()

    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED
    [email] = mail.outbox
    assert "24 h idempotency window" in email.body
    assert "[idempotency_window_passed]" in email.body


def test_the_sweeper_giving_up_a_lost_step_alerts(connection, stripe, clock, settings, on_commit):
    settings.WORKFLOW_MAX_ATTEMPTS = 1
    run = scheduled_run(connection, clock.now)
    step_run = run.step_runs.get()
    assert engine.claim(step_run, run)  # the worker dies before Stripe answers

    clock.advance(seconds=settings.Q_TIMEOUT + 31)
    with on_commit():
        tasks.sweep()  # hands the step back, wakes the run: given up, no request

    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED
    [email] = mail.outbox
    assert "[attempts_exhausted]" in email.body
    assert "Stripe request id: none (no request was sent)" in email.body


def test_each_failed_step_of_a_run_that_continued_is_listed(connection, deliver, stripe):
    make_workflow(
        connection,
        "customer.created",
        [(*UPDATE_STEP, Step.OnFailure.CONTINUE), ("again", "update_customer", {"id": "cus_X"})],
    )
    stripe.post(f"{API}/v1/customers/cus_Gone", status=400, json=BAD_REQUEST)
    stripe.post(f"{API}/v1/customers/cus_X", status=400, json=BAD_REQUEST)

    deliver(connection, sample_event("customer.created", id="cus_Gone"))

    [email] = mail.outbox
    assert "Failed step: update (update_customer)" in email.body
    assert "Failed step: again (update_customer)" in email.body


# -- a failing channel ---------------------------------------------------------------------


def test_a_failing_chat_endpoint_changes_nothing_of_the_run_and_is_counted_and_logged(
    connection, deliver, stripe, settings, caplog
):
    with recording_server({"error": "no"}, status=500) as server:
        settings.ALERT_CHAT_WEBHOOK_URL = f"{server.url}/services/T000/B000/secret-token"
        with caplog.at_level(logging.WARNING, logger="workflows.alerts"):
            run, _ = fail_with_400(connection, deliver, stripe)

    assert len(server.requests) == 1
    assert run.status == RunStatus.FAILED
    assert run.error == "update: No such customer: 'cus_Gone'"
    assert [s.attempts for s in run.step_runs.all()] == [1]  # not retried
    assert (run.alert, run.alert_failures) == (AlertState.SENT, 1)
    assert len(mail.outbox) == 1  # the other channel still delivers
    assert f"Alert chat post for run(s) [{run.pk}] failed (HTTP 500)" in caplog.text
    assert "secret-token" not in caplog.text


def test_an_unreachable_or_slow_chat_endpoint_times_out_and_the_url_is_never_logged(
    connection, deliver, stripe, settings, caplog
):
    settings.ALERT_CHAT_TIMEOUT_SECONDS = 1
    with recording_server(delay=3) as server:
        settings.ALERT_CHAT_WEBHOOK_URL = f"{server.url}/hooks/secret-token"
        with caplog.at_level(logging.WARNING, logger="workflows.alerts"):
            run, _ = fail_with_400(connection, deliver, stripe)

    assert run.status == RunStatus.FAILED
    assert run.alert_failures == 1
    assert "failed (ReadTimeout)" in caplog.text
    assert "secret-token" not in caplog.text
    assert "127.0.0.1" not in caplog.text


def test_a_failing_email_backend_is_counted_and_the_chat_still_posts(
    connection, deliver, stripe, chat, monkeypatch, caplog
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(alerts, "send_mail", refuse)
    with caplog.at_level(logging.WARNING, logger="workflows.alerts"):
        run, _ = fail_with_400(connection, deliver, stripe)

    assert run.status == RunStatus.FAILED
    assert run.alert_failures == 1
    assert len(chat.requests) == 1
    assert "Alert email for run(s)" in caplog.text and "ConnectionRefusedError" in caplog.text


def test_a_chat_redirect_is_not_followed(connection, deliver, stripe, settings):
    with recording_server(status=302) as server:
        settings.ALERT_CHAT_WEBHOOK_URL = f"{server.url}/hook"
        run, _ = fail_with_400(connection, deliver, stripe)

    assert len(server.requests) == 1
    assert run.alert_failures == 1


def test_names_cannot_mention_or_link_in_chat(connection, deliver, stripe, chat):
    fail_with_400(connection, deliver, stripe, name="<!channel> & <https://evil.example|x>")

    text = chat_texts(chat)[0]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|x&gt;" in text


def test_a_key_in_an_error_message_is_redacted(connection, clock, on_commit):
    run = scheduled_run(connection, clock.now)
    leaked = {"type": "internal_error", "message": f"Boom with {SECRET_KEY} inside"}
    run.step_runs.update(status=RunStatus.FAILED, error=leaked)
    with on_commit():
        engine.finish_run(run.pk)

    [email] = mail.outbox
    assert SECRET_KEY not in email.body
    assert f"sk_test_...{SECRET_KEY[-4:]}" in email.body


def test_the_alert_task_is_enqueued_by_name_with_the_runs_id(monkeypatch):
    sent = []
    monkeypatch.setattr(alerts, "async_task", lambda *args, **kwargs: sent.append((args, kwargs)))

    alerts.enqueue_alert(42)

    assert sent == [
        (("workflows.alerts.alert_failed_run", 42), {"task_name": "alert-run-42", "save": False})
    ]


def test_a_run_resumed_and_failing_again_is_not_alerted_twice(
    connection, deliver, stripe, on_commit
):
    from workflows.services import resume_run

    run, _ = fail_with_400(connection, deliver, stripe)
    stripe.post(f"{API}/v1/customers/cus_Gone", status=400, json=BAD_REQUEST)
    with on_commit():
        resume_run(run)

    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED
    assert len(mail.outbox) == 1
