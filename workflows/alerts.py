"""Failure alerts: staff are told when a run ends failed.

A run ends failed in one place, ``engine.finish_run`` (a permanent error, attempts
or the 24 h idempotency window exhausted, a step given up by the sweeper); it calls
``alert_on_commit``, which enqueues ``alert_failed_run`` once the run's transaction
has committed. Nothing is sent from the engine itself.

Who is told, per workflow: the addresses in ``Workflow.alert_emails`` (else the
product's ``ALERT_EMAILS``) by email through Django's email backend, and, when
``Workflow.alert_chat`` is on and the operator set ``ALERT_CHAT_WEBHOOK_URL``, a
Slack-compatible chat webhook (an HTTP POST of ``{"text": ...}``).

The digest rule (``ALERT_DIGEST_MINUTES``, N): per workflow, a failed run with no
alert window open is alerted at once and opens a window of N minutes. Runs that
fail while the window is open (or ended with its digest not yet sent) are
collected; when the window ends, ``send_due_digests`` (every minute) sends them as
one digest listing each run, and the digest opens the next window of N minutes.
A window that ends with nothing collected closes quietly: the next failure is
alerted at once again. So a workflow failing steadily sends one message per N
minutes, however many runs fail.

Each failed run is alerted at most once: the task claims it with a conditional
UPDATE of ``Run.alerted_at`` in the transaction that also decides between an
immediate alert and the digest, so two workers never both send it (a run resumed
and failing again is not alerted again). A failing channel is logged without its
URL or the error's text and counted in ``Run.alert_failures``; it never changes
the run, and the alert is not retried.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from django import forms
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django_q.tasks import async_task

from stripe_connector.errors import redact_secrets
from workflows import clock
from workflows.models import AlertState, AlertWindow, Run, RunStatus, StepRun, Workflow

logger = logging.getLogger(__name__)

ALERT_TASK = "workflows.alerts.alert_failed_run"
# A digest lists at most this many runs; the rest are counted, with a link to them all.
DIGEST_LIST_LIMIT = 50
ERROR_CHARS = 500


# -- when a run fails -------------------------------------------------------------------


def alert_on_commit(run_id: int) -> None:
    """Enqueue the alert of failed run ``run_id`` once the current transaction commits."""
    # A lambda, not a partial: Django names a failing robust callback by its __qualname__.
    transaction.on_commit(lambda: enqueue_alert(run_id), robust=True)


def enqueue_alert(run_id: int) -> None:
    async_task(ALERT_TASK, run_id, task_name=f"alert-run-{run_id}", save=False)


def alert_failed_run(run_id: int) -> str:
    """django-q2 task: alert failed run ``run_id`` at once or keep it for the digest.

    Returns the run's ``AlertState`` set by this call, or "" when nothing was done:
    the run is not failed, was claimed already, or nobody is to be told.
    """
    run = Run.objects.select_related("workflow").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.FAILED or run.alerted_at is not None:
        return ""
    if not has_channels(run.workflow):
        return ""
    now = clock.now()
    with transaction.atomic():
        claimed = Run.objects.filter(
            pk=run_id, status=RunStatus.FAILED, alerted_at__isnull=True
        ).update(alerted_at=now)
        if not claimed:
            return ""  # another worker has it
        state = AlertState.SENT if open_window(run.workflow_id, now) else AlertState.DIGEST
        Run.objects.filter(pk=run_id).update(alert=state)
        if state == AlertState.DIGEST:
            AlertWindow.objects.filter(pk=run.workflow_id).update(digest_due=True)
    if state == AlertState.SENT:
        deliver(run.workflow, [run_id], digest=False)
    return state


def open_window(workflow_id: int, now) -> bool:
    """Open the workflow's alert window; False when one is open or its digest is due.

    Call inside a transaction. The window's row decides between concurrent workers:
    a unique INSERT for a workflow's first alert, a conditional UPDATE afterwards.
    """
    ends_at = now + digest_window()
    _, created = AlertWindow.objects.get_or_create(
        workflow_id=workflow_id, defaults={"ends_at": ends_at}
    )
    if created:
        return True
    closed = AlertWindow.objects.filter(pk=workflow_id, ends_at__lte=now, digest_due=False)
    return bool(closed.update(ends_at=ends_at))


def digest_window() -> timedelta:
    return timedelta(minutes=settings.ALERT_DIGEST_MINUTES)


# -- digests -----------------------------------------------------------------------------


def send_due_digests() -> int:
    """django-q2 periodic task: send the digest of every window that has ended; returns sent."""
    now = clock.now()
    due = AlertWindow.objects.filter(digest_due=True, ends_at__lte=now)
    return sum(send_digest(workflow_id, now) for workflow_id in due.values_list("pk", flat=True))


def send_digest(workflow_id: int, now) -> int:
    """Send one workflow's digest if still due (1), else nothing (0).

    Claimed with a conditional UPDATE of the window, which also opens the next one;
    the runs collected are marked digested in the same transaction.
    """
    with transaction.atomic():
        claimed = AlertWindow.objects.filter(
            pk=workflow_id, digest_due=True, ends_at__lte=now
        ).update(digest_due=False, ends_at=now + digest_window())
        if not claimed:
            return 0
        waiting = Run.objects.filter(workflow_id=workflow_id, alert=AlertState.DIGEST)
        run_ids = list(waiting.order_by("finished_at", "id").values_list("pk", flat=True))
        Run.objects.filter(pk__in=run_ids).update(alert=AlertState.DIGESTED)
    workflow = Workflow.objects.filter(pk=workflow_id).first()
    if not run_ids or workflow is None:
        return 0
    deliver(workflow, run_ids, digest=True)
    return 1


# -- channels ----------------------------------------------------------------------------


def recipients(workflow: Workflow) -> list[str]:
    """The workflow's alert addresses, else the product's ``ALERT_EMAILS``."""
    return list(workflow.alert_emails or settings.ALERT_EMAILS)


def chat_url(workflow: Workflow) -> str:
    """The operator's chat webhook when this workflow posts to it, else ""."""
    return settings.ALERT_CHAT_WEBHOOK_URL if workflow.alert_chat else ""


def has_channels(workflow: Workflow) -> bool:
    return bool(recipients(workflow) or chat_url(workflow))


def deliver(workflow: Workflow, run_ids: list[int], *, digest: bool) -> None:
    """Send the message about ``run_ids`` by email and chat; a failed channel is counted."""
    runs = list(
        Run.objects.filter(pk__in=run_ids)
        .select_related("workflow__connection", "event")
        .order_by("finished_at", "id")
    )
    if not runs:
        return
    message = compose(workflow, runs, digest=digest)
    failures = 0
    if recipients(workflow):
        failures += not send_email(workflow, message, run_ids)
    if chat_url(workflow):
        failures += not post_chat(chat_url(workflow), message, run_ids)
    if failures:
        Run.objects.filter(pk__in=run_ids).update(alert_failures=F("alert_failures") + failures)


def send_email(workflow: Workflow, message: Message, run_ids: list[int]) -> bool:
    """Email the message to the workflow's recipients; False (logged) when it fails."""
    try:
        send_mail(
            message.subject,
            message.text,
            settings.DEFAULT_FROM_EMAIL,
            recipients(workflow),
            fail_silently=False,
        )
    except Exception as exc:  # any backend, any failure: the run is not concerned
        logger.warning("Alert email for run(s) %s failed (%s)", run_ids, type(exc).__name__)
        return False
    return True


def post_chat(url: str, message: Message, run_ids: list[int]) -> bool:
    """POST ``{"text": ...}`` to the chat webhook; False (logged, URL never) when it fails.

    Slack's incoming webhooks answer 200 "ok"; any other status is a failure. No
    redirect is followed: the URL is the operator's, and a redirect is not theirs.
    """
    timeout = settings.ALERT_CHAT_TIMEOUT_SECONDS
    try:
        response = requests.post(
            url,
            json={"text": message.chat_text},
            timeout=(min(timeout, 5), timeout),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        # The exception's text holds the URL (a secret): its type only.
        logger.warning("Alert chat post for run(s) %s failed (%s)", run_ids, type(exc).__name__)
        return False
    if not 200 <= response.status_code < 300:
        logger.warning(
            "Alert chat post for run(s) %s failed (HTTP %s)", run_ids, response.status_code
        )
        return False
    return True


# -- the message -------------------------------------------------------------------------


class Message:
    """An alert: an email subject and text, and the same text escaped for chat."""

    def __init__(self, subject: str, text: str) -> None:
        self.subject = " ".join(subject.split())[:200]  # one line: a mail header
        self.text = text

    @property
    def chat_text(self) -> str:
        """Slack's three control characters escaped: names cannot @-mention or link."""
        return f"*{escape_chat(self.subject)}*\n{escape_chat(self.text)}"


def escape_chat(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def compose(workflow: Workflow, runs: list[Run], *, digest: bool) -> Message:
    """The alert about ``runs`` of ``workflow``: one run at once, or a digest listing each."""
    if not digest:
        run = runs[0]
        subject = f"[Konnectify] Run {run.pk} of {workflow.name!r} failed"
        return Message(subject, describe(run))
    minutes = settings.ALERT_DIGEST_MINUTES
    subject = (
        f"[Konnectify] {len(runs)} more run(s) of {workflow.name!r} failed "
        f"(digest of {minutes} min)"
    )
    listed = runs[:DIGEST_LIST_LIMIT]
    parts = [
        f"{len(runs)} run(s) of workflow {workflow.name!r} failed since its last alert "
        f"(at most one alert per {minutes} minutes; the rest come in this digest).",
        *(describe(run) for run in listed),
    ]
    if len(runs) > len(listed):
        parts.append(f"... and {len(runs) - len(listed)} more: {failed_runs_url(workflow)}")
    return Message(subject, "\n\n".join(parts))


def describe(run: Run) -> str:
    """A run's lines: its page, workflow, trigger, each failed step's error and request id."""
    lines = [
        f"Run {run.pk}: {run_url(run)}",
        f"Workflow: {run.workflow.name} (connection {run.workflow.connection.name}, "
        f"{run.workflow.connection.get_mode_display().lower()} mode)",
        f"Trigger: {trigger(run)}",
    ]
    for step_run in failed_steps(run):
        error = step_run.error or {}
        kind = " / ".join(str(error[k]) for k in ("type", "code") if error.get(k))
        message = redact_secrets(" ".join(str(error.get("message", "")).split()))[:ERROR_CHARS]
        lines.append(f"Failed step: {step_run.step_name} ({step_run.action_key})")
        lines.append(f"Error: {message}" + (f" [{kind}]" if kind else ""))
        lines.append(f"Stripe request id: {step_run.request_id or 'none (no request was sent)'}")
    return "\n".join(lines)


def failed_steps(run: Run) -> list[StepRun]:
    return list(run.step_runs.filter(status=RunStatus.FAILED).order_by("order", "id"))


def trigger(run: Run) -> str:
    if run.event_id:
        return f"{run.event.type} {run.event.stripe_event_id}"
    return f"schedule tick {run.scheduled_for:%Y-%m-%d %H:%M:%S %Z}"


def run_url(run: Run) -> str:
    """The absolute URL of the run's admin page (``PUBLIC_BASE_URL``)."""
    return settings.PUBLIC_BASE_URL + reverse("admin:workflows_run_change", args=[run.pk])


def failed_runs_url(workflow: Workflow) -> str:
    path = reverse("admin:workflows_run_changelist")
    query = f"workflow__id__exact={workflow.pk}&status__exact={RunStatus.FAILED}"
    return f"{settings.PUBLIC_BASE_URL}{path}?{query}"


# -- editing a workflow's recipients -----------------------------------------------------


class AlertEmailsField(forms.CharField):
    """Admin's field for ``Workflow.alert_emails``: addresses one per line or comma-separated.

    Stored as a list; ``Workflow.alert_emails``'s validator checks each address.
    """

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def __init__(self, **kwargs) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs.setdefault("required", False)
        kwargs["help_text"] = (
            "Who is emailed when a run fails: one address per line (or comma-separated). "
            "Empty: the product's default addresses (ALERT_EMAILS)."
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]

    def has_changed(self, initial, data) -> bool:
        return (initial or []) != self.to_python(data)
