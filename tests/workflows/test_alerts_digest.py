"""Many failures in a short time: one alert at once per workflow, the rest in one digest.

The rule (workflows.alerts): a failure with no window open alerts at once and opens a
window of ALERT_DIGEST_MINUTES; failures inside it are collected and sent as one digest
when it ends, which opens the next window; a window ending with nothing collected
closes quietly.
"""

import pytest
from django.core import mail

from workflows import alerts, engine
from workflows.models import AlertState, AlertWindow, Run

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

BAD_REQUEST = {"error": {"type": "invalid_request_error", "message": "No such customer"}}


@pytest.fixture(autouse=True)
def alert_settings(settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    settings.ALERT_EMAILS = ["oncall@example.com"]
    settings.ALERT_CHAT_WEBHOOK_URL = ""
    settings.ALERT_DIGEST_MINUTES = 15


@pytest.fixture
def failing(connection, stripe):
    """A scheduled workflow whose step always gets a 400 from Stripe."""
    stripe.post(
        f"{API}/v1/customers/cus_Gone",
        status=400,
        json=BAD_REQUEST,
        headers={"Request-Id": "req_digest"},
    )
    step = ("update", "update_customer", {"id": "cus_Gone", "name": "A"})
    return make_workflow(connection, "schedule", [step], schedule_minutes=1, name="Nightly sync")


def fail_one(workflow, clock, on_commit) -> Run:
    """One run of ``workflow`` fails now (a new schedule tick), its alert task runs."""
    clock.advance(seconds=1)
    run = engine.create_run(workflow, scheduled_for=clock.now, enqueue=False)
    with on_commit():
        engine.execute_run(run.pk)
    return Run.objects.get(pk=run.pk)


def test_many_failures_send_one_alert_then_one_digest_listing_each_run(failing, clock, on_commit):
    first = fail_one(failing, clock, on_commit)
    later = [fail_one(failing, clock, on_commit) for _ in range(4)]

    assert len(mail.outbox) == 1
    assert first.alert == AlertState.SENT
    assert [run.alert for run in later] == [AlertState.DIGEST] * 4
    assert all(run.alerted_at is not None for run in later)

    clock.advance(minutes=14)
    assert alerts.send_due_digests() == 0  # the window is still open
    assert len(mail.outbox) == 1

    clock.advance(minutes=1)
    assert alerts.send_due_digests() == 1
    digest = mail.outbox[1]
    assert (
        digest.subject == "[Konnectify] 4 more run(s) of 'Nightly sync' failed (digest of 15 min)"
    )
    for run in later:
        assert f"Run {run.pk}: https://ops.example.com/admin/workflows/run/{run.pk}/change/" in (
            digest.body
        )
    assert digest.body.count("Failed step: update (update_customer)") == 4
    assert digest.body.count("Error: No such customer") == 4
    assert digest.body.count("Stripe request id: req_digest") == 4
    assert f"Run {first.pk}:" not in digest.body
    assert set(
        Run.objects.filter(pk__in=[r.pk for r in later]).values_list("alert", flat=True)
    ) == {AlertState.DIGESTED}

    assert alerts.send_due_digests() == 0  # sent once
    assert len(mail.outbox) == 2


def test_the_digest_opens_the_next_window_and_a_quiet_window_closes(failing, clock, on_commit):
    fail_one(failing, clock, on_commit)
    fail_one(failing, clock, on_commit)
    clock.advance(minutes=15)
    assert alerts.send_due_digests() == 1  # opens the next window

    steady = fail_one(failing, clock, on_commit)  # still failing: collected, not alerted
    assert steady.alert == AlertState.DIGEST
    assert len(mail.outbox) == 2

    clock.advance(minutes=15)
    assert alerts.send_due_digests() == 1
    assert len(mail.outbox) == 3
    assert f"Run {steady.pk}:" in mail.outbox[2].body

    clock.advance(minutes=16)  # a window with nothing collected ends quietly
    assert alerts.send_due_digests() == 0
    assert len(mail.outbox) == 3
    again = fail_one(failing, clock, on_commit)
    assert again.alert == AlertState.SENT
    assert len(mail.outbox) == 4
    assert mail.outbox[3].subject == f"[Konnectify] Run {again.pk} of 'Nightly sync' failed"


def test_a_failure_after_the_window_ended_but_before_its_digest_joins_the_digest(
    failing, clock, on_commit
):
    fail_one(failing, clock, on_commit)
    waiting = fail_one(failing, clock, on_commit)
    clock.advance(minutes=16)
    late = fail_one(failing, clock, on_commit)  # the digest task has not run yet

    assert late.alert == AlertState.DIGEST
    assert alerts.send_due_digests() == 1
    assert len(mail.outbox) == 2
    assert f"Run {waiting.pk}:" in mail.outbox[1].body and f"Run {late.pk}:" in mail.outbox[1].body


def test_each_workflow_has_its_own_window(failing, connection, clock, on_commit):
    other = make_workflow(
        connection,
        "schedule",
        [("update", "update_customer", {"id": "cus_Gone", "name": "A"})],
        schedule_minutes=1,
        name="Other",
    )
    fail_one(failing, clock, on_commit)
    fail_one(other, clock, on_commit)

    assert [email.subject.split(" of ")[1] for email in mail.outbox] == [
        "'Nightly sync' failed",
        "'Other' failed",
    ]


def test_a_long_digest_lists_the_first_runs_and_links_to_the_rest(
    failing, clock, on_commit, monkeypatch
):
    monkeypatch.setattr(alerts, "DIGEST_LIST_LIMIT", 2)
    fail_one(failing, clock, on_commit)
    later = [fail_one(failing, clock, on_commit) for _ in range(4)]
    clock.advance(minutes=15)
    alerts.send_due_digests()

    body = mail.outbox[1].body
    assert [f"Run {run.pk}:" in body for run in later] == [True, True, False, False]
    link = (
        "https://ops.example.com/admin/workflows/run/"
        f"?workflow__id__exact={failing.pk}&status__exact=failed"
    )
    assert f"... and 2 more: {link}" in body


def test_two_digest_senders_send_one_digest(failing, clock, on_commit):
    fail_one(failing, clock, on_commit)
    fail_one(failing, clock, on_commit)
    clock.advance(minutes=15)

    assert alerts.send_digest(failing.pk, clock.now) == 1
    assert alerts.send_digest(failing.pk, clock.now) == 0  # the window was claimed
    assert len(mail.outbox) == 2


def test_deleting_a_workflow_deletes_its_window(failing, clock, on_commit):
    from workflows.services import delete_workflow

    fail_one(failing, clock, on_commit)
    assert AlertWindow.objects.filter(pk=failing.pk).exists()
    delete_workflow(failing)
    assert not AlertWindow.objects.exists()


def test_the_digest_job_is_declared_every_minute():
    from workflows.schedules import SCHEDULES

    [job] = [spec for spec in SCHEDULES if spec["func"] == "workflows.alerts.send_due_digests"]
    assert (job["schedule_type"], job["minutes"]) == ("I", 1)
