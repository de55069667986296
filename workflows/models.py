"""Workflow (trigger -> steps), Step, and the record of executions: Run and StepRun.

A Run is one execution of a workflow for one inbox event (or one schedule
tick); its StepRuns are created with it, one per step, each with the
idempotency key that every attempt of that step sends to Stripe.
"""

from __future__ import annotations

import uuid
from typing import Any

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    validate_email,
)
from django.db import models
from django.db.models import Q

from connections.models import Connection, InboxEvent
from stripe_connector.catalog import event_type_for_trigger, get_trigger
from workflows.filters import CONDITION_HELP_TEXT, FOR_EACH_HELP_TEXT, check_filters
from workflows.filters import HELP_TEXT as FILTERS_HELP_TEXT

SCHEDULE_TRIGGER = "schedule"
STEP_NAME = RegexValidator(
    r"^[a-z_][a-z0-9_]{0,62}$",
    "Lowercase letters, digits and underscores, not starting with a digit "
    "(it is used in references: {{ steps.<name>.id }}).",
)


# The trigger's own fields, by trigger kind: a workflow stores none of the others.
TRIGGER_FIELDS = {
    "schedule": ("schedule_cron", "schedule_minutes"),
    "custom": ("custom_event_type",),
    "catalog": (),
}
TRIGGER_FIELD_NAMES = ("custom_event_type", "schedule_cron", "schedule_minutes")
NOT_FOR_THIS_TRIGGER = {
    "schedule_cron": "Only a schedule trigger has a cron expression: leave it empty.",
    "schedule_minutes": "Only a schedule trigger runs every N minutes: leave it empty.",
    "custom_event_type": "Only the custom trigger takes an event type: leave it empty.",
}


# At most this many alert addresses per workflow (a list for a team, not a mailing list).
MAX_ALERT_EMAILS = 20


def validate_alert_emails(value: Any) -> None:
    """A list of at most ``MAX_ALERT_EMAILS`` distinct email addresses (ValidationError)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("A list of email addresses.")
    if len(value) > MAX_ALERT_EMAILS:
        raise ValidationError(f"At most {MAX_ALERT_EMAILS} addresses.")
    bad = [item for item in value if not is_email(item)]
    if bad:
        raise ValidationError(f"Not an email address: {', '.join(repr(item) for item in bad)}.")
    if len({item.lower() for item in value}) != len(value):
        raise ValidationError("An address is listed twice.")


def is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def new_idempotency_key() -> str:
    """A fresh key; fixed on the StepRun when it is created."""
    return f"konnectify-{uuid.uuid4()}"


class Workflow(models.Model):
    """A trigger on one connection (a Stripe event type, or a schedule) and its steps."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    connection = models.ForeignKey(
        Connection,
        on_delete=models.PROTECT,
        related_name="workflows",
        help_text="The Stripe account whose events start this workflow; its steps use its key.",
    )
    trigger_key = models.CharField(
        max_length=100,
        help_text="A trigger from the catalog (its Stripe event type), 'custom', or 'schedule'.",
    )
    custom_event_type = models.CharField(
        max_length=255, blank=True, help_text="For the custom trigger: any Stripe event type."
    )
    event_type = models.CharField(
        max_length=255,
        blank=True,
        editable=False,
        help_text="The Stripe event type that starts this workflow (derived; empty for schedules).",
    )
    schedule_cron = models.CharField(
        max_length=100, blank=True, help_text="For the schedule trigger: a cron expression (UTC)."
    )
    schedule_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="For the schedule trigger: every N minutes (not cron)."
    )
    filters = models.JSONField(
        default=list,
        blank=True,
        help_text=FILTERS_HELP_TEXT,
    )
    active = models.BooleanField(default=False)
    sample_event = models.JSONField(
        null=True,
        blank=True,
        help_text="The event used as the mapping reference (loaded from Stripe or the catalog).",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="workflows",
        help_text="On whose authority the steps spend the connection's key: the user who last "
        "saved the steps or activated the workflow in admin or the API. The engine checks "
        "before every Stripe call that this user still may use the connection. Empty for "
        "workflows set up by the operator (commands, migrations).",
    )
    alert_emails = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_alert_emails],
        help_text="Who is emailed when a run of this workflow fails: a list of addresses. "
        "Empty: the product's default (ALERT_EMAILS).",
    )
    copied_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="copies",
        help_text="The test-mode workflow this one was copied from (Copy to a live connection); "
        "copying again updates this workflow.",
    )
    alert_chat = models.BooleanField(
        default=True,
        help_text="Also post failed runs to the operator's chat webhook (ALERT_CHAT_WEBHOOK_URL), "
        "when one is configured.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # dispatch_event's one query: active workflows of a connection for a type.
            models.Index(
                fields=["connection", "event_type", "active"], name="workflow_dispatch_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Save with its derived event type; nothing else (``services.save_workflow`` keeps
        the endpoint and the schedule in step)."""
        self.event_type = self.derive_event_type()
        super().save(*args, **kwargs)

    def endpoint_need(self) -> tuple[Any, str] | None:
        """What this workflow asks of its connection's webhook endpoint: (connection, type).

        None when inactive or scheduled. ``services.save_workflow`` resyncs the
        endpoints only when this changes.
        """
        if self.active and self.event_type:
            return (self.connection_id, self.event_type)
        return None

    @property
    def is_scheduled(self) -> bool:
        return self.trigger_key == SCHEDULE_TRIGGER

    def derive_event_type(self) -> str:
        """The event type for the trigger, from the catalog ('' for schedules)."""
        if self.is_scheduled or not self.trigger_key:
            return ""
        return event_type_for_trigger(self.trigger_key, self.custom_event_type or None)

    @property
    def trigger_kind(self) -> str | None:
        """ "schedule", "custom" (any Stripe event type) or "catalog"; None when unknown."""
        if self.is_scheduled:
            return "schedule"
        try:
            trigger = get_trigger(self.trigger_key)
        except KeyError:
            return None
        return "custom" if trigger.event_type is None else "catalog"

    def fields_not_for_trigger(self) -> tuple[str, ...]:
        """The trigger fields (``TRIGGER_FIELD_NAMES``) the chosen trigger kind does not use.

        None of them may hold a value (``clean``); () while the trigger is unknown.
        """
        kind = self.trigger_kind
        if kind is None:
            return ()
        return tuple(name for name in TRIGGER_FIELD_NAMES if name not in TRIGGER_FIELDS[kind])

    def clean(self) -> None:
        """Every problem at once, each on its field (admin shows it there, the API names it).

        A field of another trigger kind holding a value is refused, not dropped: a cron
        expression given with an event trigger is a mistake the caller should see.
        """
        errors: dict[str, list[str]] = {}
        for name in self.fields_not_for_trigger():
            if getattr(self, name) not in (None, ""):
                errors.setdefault(name, []).append(NOT_FOR_THIS_TRIGGER[name])
        if self.trigger_kind == "custom" and not self.custom_event_type:
            errors.setdefault("custom_event_type", []).append(
                "The custom trigger needs an event type."
            )
        if self.is_scheduled:
            errors.update(self._schedule_errors())
        if "custom_event_type" not in errors:
            try:
                self.event_type = self.derive_event_type()
            except (KeyError, ValueError) as exc:
                field = "custom_event_type" if self.trigger_kind == "custom" else "trigger_key"
                errors.setdefault(field, []).append(str(exc))
        problems = check_filters(self.filters)
        if problems:
            errors["filters"] = problems
        if errors:
            raise ValidationError(errors)

    def _schedule_errors(self) -> dict[str, list[str]]:
        """A schedule's problems by field: cron or minutes (one of them), a valid cron."""
        cron, minutes = self.schedule_cron, self.schedule_minutes
        if not cron and not minutes:
            message = "A schedule needs either a cron expression or minutes."
            return {"schedule_cron": [message], "schedule_minutes": [message]}
        if cron and minutes:
            message = "Give either a cron expression or minutes, not both."
            return {"schedule_cron": [message], "schedule_minutes": [message]}
        if cron and not croniter.is_valid(cron):
            return {"schedule_cron": ["Not a valid cron expression."]}
        return {}

    def sample(self) -> dict:
        """The mapping reference: the loaded sample event, else the catalog's sample."""
        if self.sample_event:
            return self.sample_event
        if self.is_scheduled:
            return {"scheduled_at": "2026-01-01T00:00:00+00:00"}
        try:
            return get_trigger(self.trigger_key).sample or {}
        except KeyError:
            return {}


# A for-each step makes one Stripe call per item, within one run: at most this many items.
FOR_EACH_CEILING = 1000
DEFAULT_MAX_ITEMS = 100


class Match(models.TextChoices):
    """How a condition's rules combine."""

    ALL = "all", "All rules hold"
    ANY = "any", "Any rule holds"


class Step(models.Model):
    """One action of a workflow, with the mapping that builds its input.

    A step may run only if its ``condition`` holds (rules like the workflow's filters,
    over ``trigger.`` and ``steps.<earlier step>.`` paths), and may repeat for each
    item of a list (``for_each``, at most ``max_items`` items).
    """

    class OnFailure(models.TextChoices):
        STOP = "stop", "Stop the run"
        CONTINUE = "continue", "Continue with the next step"

    Match = Match

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=0, help_text="Steps run in ascending order.")
    name = models.CharField(
        max_length=63,
        validators=[STEP_NAME],
        help_text="Short name; later steps reference its output as {{ steps.<name>.field }}.",
    )
    action_key = models.CharField(max_length=100, help_text="An action from the catalog.")
    input_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="The action's input: literals, or references like "
        "{{ trigger.data.object.customer }} and {{ steps.find_customer.email }}.",
    )
    on_failure = models.CharField(max_length=10, choices=OnFailure.choices, default=OnFailure.STOP)
    condition = models.JSONField(
        "run only if",
        default=list,
        blank=True,
        help_text=CONDITION_HELP_TEXT,
    )
    condition_match = models.CharField(
        max_length=3,
        choices=Match.choices,
        default=Match.ALL,
        help_text="Whether all rules of the condition must hold, or any one.",
    )
    for_each = models.CharField(
        max_length=500,
        blank=True,
        help_text=FOR_EACH_HELP_TEXT,
    )
    max_items = models.PositiveIntegerField(
        default=DEFAULT_MAX_ITEMS,
        validators=[MinValueValidator(1), MaxValueValidator(FOR_EACH_CEILING)],
        help_text=f"For each: a list longer than this fails the step before any call "
        f"(it is never cut short). At most {FOR_EACH_CEILING}.",
    )
    sample_output = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The output of this step's last successful Test a step: what later steps' "
        "references resolve against when they are tested, and what the data picker shows.",
    )
    sample_output_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When sample_output was recorded."
    )

    class Meta:
        ordering = ["workflow", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "name"], name="step_name_unique_per_workflow"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name} ({self.action_key})"

    SAMPLE_FIELDS = ("sample_output", "sample_output_at")

    def save(self, *args, **kwargs) -> None:
        """Save the step; its Test a step output is written only by Test a step.

        An existing row's ``sample_output``/``sample_output_at`` are left as stored
        (``tryout.test_step`` and ``services.save_workflow`` update them), so a form
        loaded before they changed cannot write an old output back. When the action
        changes they are cleared (the output was another action's) and
        ``sample_cleared`` is True if there was one.
        """
        self.sample_cleared = False
        if (
            self._state.adding
            or self.pk is None
            or kwargs.get("force_insert")
            or kwargs.get("update_fields") is not None
        ):
            super().save(*args, **kwargs)
            return
        had_output = Q(sample_output__isnull=False) | Q(sample_output_at__isnull=False)
        stale = Step.objects.filter(had_output, pk=self.pk).exclude(action_key=self.action_key)
        if stale.update(sample_output=None, sample_output_at=None):
            self.sample_output, self.sample_output_at, self.sample_cleared = None, None, True
        kwargs["update_fields"] = [
            field.name
            for field in self._meta.concrete_fields
            if not field.primary_key and field.name not in self.SAMPLE_FIELDS
        ]
        super().save(*args, **kwargs)


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    RETRYING = "retrying", "Retrying"
    SKIPPED = "skipped", "Skipped"
    CANCELED = "canceled", "Canceled"


class AlertState(models.TextChoices):
    """Where a failed run's alert is (``workflows.alerts``); blank: not alerted."""

    SENT = "sent", "Alerted at once"
    DIGEST = "digest", "Waiting for the digest"
    DIGESTED = "digested", "Alerted in a digest"


class Run(models.Model):
    """One execution of a workflow for one event (or one schedule tick)."""

    Status = RunStatus
    FINAL = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELED)

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    event = models.ForeignKey(
        InboxEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="For scheduled workflows: the schedule tick."
    )
    replay = models.PositiveIntegerField(
        default=0, help_text="0 for the first run of an event; re-runs count up."
    )
    rerun_of = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="rerun",
        help_text="The run this one re-runs. A run is re-run once (one click, one new run, "
        "however many requests arrive); its re-run can be re-run in turn.",
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    error = models.TextField(blank=True, help_text="Why the run failed or was skipped.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    alerted_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When this failed run's alert was claimed (workflows.alerts): once per run.",
    )
    alert = models.CharField(
        max_length=10,
        choices=AlertState.choices,
        blank=True,
        editable=False,
        help_text="How staff were told of this failed run: at once, or in a digest.",
    )
    alert_failures = models.PositiveSmallIntegerField(
        default=0,
        editable=False,
        help_text="Alert channels (email, chat) that failed to deliver this run's alert.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "event", "replay"], name="run_unique_per_event_replay"
            ),
            # NULL events are distinct in SQL: scheduled runs need their own rule.
            models.UniqueConstraint(
                fields=["workflow", "scheduled_for", "replay"],
                condition=Q(event__isnull=True),
                name="run_unique_per_schedule_tick_replay",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="run_status_updated_idx"),
            models.Index(fields=["workflow", "-created_at"], name="run_workflow_created_idx"),
        ]

    def __str__(self) -> str:
        source = self.event.stripe_event_id if self.event_id else f"schedule {self.scheduled_for}"
        suffix = f" (re-run {self.replay})" if self.replay else ""
        return f"{self.workflow} for {source}{suffix}"

    def trigger_data(self) -> dict:
        """What ``{{ trigger }}`` means in this run's mappings."""
        if self.event_id:
            return self.event.payload
        when = self.scheduled_for.isoformat() if self.scheduled_for else None
        return {"scheduled_at": when}


class StepRun(models.Model):
    """One step of one run: its attempts, rendered input, output or error.

    The step's configuration is copied at creation, so editing the workflow
    while a run is retrying cannot change what is sent under the same key.
    """

    Status = RunStatus
    DONE = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELED)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="step_runs"
    )
    order = models.PositiveIntegerField()
    step_name = models.CharField(max_length=63)
    action_key = models.CharField(max_length=100)
    input_mapping = models.JSONField(default=dict, blank=True)
    on_failure = models.CharField(max_length=10, choices=Step.OnFailure.choices)
    condition = models.JSONField(default=list, blank=True)
    condition_match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    for_each = models.CharField(max_length=500, blank=True)
    max_items = models.PositiveIntegerField(default=DEFAULT_MAX_ITEMS)
    skip_reason = models.TextField(
        blank=True, help_text="Why the step was skipped: which rule of its condition did not hold."
    )
    item_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="For each: how many items the list had (fixed at the first attempt); "
        "the output lists the outputs of the items done so far, in order.",
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a retrying step is due again."
    )
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker took it; a stale claim is recovered."
    )
    idempotency_key = models.CharField(
        max_length=255,
        default=new_idempotency_key,
        help_text="Sent with every attempt, so Stripe never applies this step twice.",
    )
    input = models.JSONField(
        null=True, blank=True, help_text="The rendered input, fixed at the first attempt."
    )
    left_out_fields = models.JSONField(
        default=list,
        blank=True,
        help_text="Fields of the mapping whose reference rendered null or empty, left out of "
        "the request (e.g. metadata.source).",
    )
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(
        null=True,
        blank=True,
        help_text="Stripe's type, code, message, param, HTTP status and Request-Id.",
    )
    request_id = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(
        help_text="When the idempotency key was fixed: retries stop 24 h later."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="steprun_key_unique"),
        ]
        indexes = [
            # The sweeper's two questions: due retries, stale claims.
            models.Index(fields=["status", "next_attempt_at"], name="steprun_due_idx"),
            models.Index(fields=["status", "claimed_at"], name="steprun_claimed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.step_name} ({self.status}, {self.attempts} attempts)"

    @property
    def error_message(self) -> str:
        return (self.error or {}).get("message", "")


class AlertWindow(models.Model):
    """A workflow's alert window: one immediate alert, then a digest when it ends.

    The first failed run of a workflow alerts at once and opens a window of
    ``ALERT_DIGEST_MINUTES``; runs failing while it is open wait for the digest
    sent when it ends (``digest_due``). One row per workflow, claimed with
    conditional UPDATEs (``workflows.alerts``).
    """

    workflow = models.OneToOneField(
        Workflow, on_delete=models.CASCADE, primary_key=True, related_name="alert_window"
    )
    ends_at = models.DateTimeField(help_text="When the window closes and its digest is due.")
    digest_due = models.BooleanField(
        default=False, help_text="Runs failed within the window and wait for its digest."
    )

    class Meta:
        ordering = ["ends_at"]
        indexes = [models.Index(fields=["digest_due", "ends_at"], name="alertwindow_due_idx")]

    def __str__(self) -> str:
        return f"Alerts of {self.workflow_id} until {self.ends_at}"
