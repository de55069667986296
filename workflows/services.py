"""Workflow operations used by admin, the API and tasks: saving, schedules, replay.

Views and admin stay thin and call these.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django_q.models import Schedule

from connections.credentials import Credential
from connections.models import Connection, ConnectionDisabled
from connections.outbound import CREDENTIAL_LITERAL, is_reference
from connections.permissions import require_use, require_use_credential
from connections.webhooks import request_endpoint_sync
from konnectify.platform import metrics
from stripe_connector.catalog import ACTIONS, get_action
from stripe_connector.catalog.http import is_http_action
from workflows import clock
from workflows.engine import create_run, enqueue_run_on_commit
from workflows.filters import (
    _ABSENT,
    JSON_KINDS,
    check_condition,
    check_for_each,
    check_match,
    lookup,
)
from workflows.mapping import AnyValue, MappingReport, build_context, check_mapping
from workflows.models import (
    DEFAULT_MAX_ITEMS,
    FOR_EACH_CEILING,
    Match,
    Run,
    RunStatus,
    Step,
    StepRun,
    Workflow,
    new_idempotency_key,
)
from workflows.sandbox import render_limits

# The actions whose steps may name a credential (HTTP request steps).
HTTP_ACTION_KEYS = [key for key, action in ACTIONS.items() if is_http_action(action)]

# -- saving a workflow -------------------------------------------------------------


def active_event_types(connection: Connection) -> set[str]:
    """The event types the connection's active workflows wait for.

    Registered with ``connections.webhooks.provide_event_types_with`` at start
    (``WorkflowsConfig.ready``): ``connections.webhooks.event_types_in_use``
    asks it what the connection's one webhook endpoint must enable, exactly.
    """
    rows = Workflow.objects.filter(connection=connection, active=True).exclude(event_type="")
    return set(rows.values_list("event_type", flat=True))


def save_workflow(workflow: Workflow) -> Workflow:
    """The one write of a workflow (admin, the API, popular automations, commands).

    Saves it, then keeps what depends on it in step: the webhook endpoint of each
    connection whose event types in use change (synced in the background after
    commit, so a save never waits on Stripe) and the workflow's django-q2
    schedule. Steps are saved by the caller (admin's inline, the API's
    ``replace_steps``); they do not change either.

    A change of the event type (trigger) or of the connection makes the samples
    stale: the loaded ``sample_event`` belongs to the old event type or to another
    Stripe account, and so do the steps' Test a step outputs
    (``Step.sample_output``). Both are cleared, and ``workflow.samples_cleared``
    says why (a sentence for the page or the API's warnings; "" when nothing was).
    """
    stored = Workflow.objects.filter(pk=workflow.pk).first() if workflow.pk is not None else None
    before = stored.endpoint_need() if stored is not None else None
    reason = stale_samples_reason(stored, workflow)
    if reason:
        workflow.sample_event = None
    workflow.save()
    workflow.samples_cleared = ""
    if reason:
        had_outputs = workflow.steps.filter(
            Q(sample_output__isnull=False) | Q(sample_output_at__isnull=False)
        ).update(sample_output=None, sample_output_at=None)
        if stored.sample_event or had_outputs:
            workflow.samples_cleared = (
                f"The {reason} changed, so the sample event and the steps' Test a step "
                "outputs were cleared: load a sample event and test the steps again."
            )
    after = workflow.endpoint_need()
    if before != after:
        request_endpoint_sync({need[0] for need in (before, after) if need})
    sync_schedule(workflow)
    return workflow


def stale_samples_reason(stored: Workflow | None, workflow: Workflow) -> str:
    """Why ``stored``'s samples no longer fit ``workflow``: "trigger", "connection" or "".

    The trigger counts as changed when the event type it derives changes (a schedule's
    is ""); an unknown trigger (refused by ``clean``) counts as a change.
    """
    if stored is None:
        return ""
    try:
        event_type = workflow.derive_event_type()
    except (KeyError, ValueError):
        event_type = None
    if event_type != stored.event_type or workflow.is_scheduled != stored.is_scheduled:
        return "trigger"
    if workflow.connection_id != stored.connection_id:
        return "connection"
    return ""


def step_sample_cleared(step: Step) -> str:
    """What to tell about a step whose action changed (``Step.sample_cleared``)."""
    return (
        f"Step {step.name}: its action changed, so the output of its last Test a step "
        "was cleared: test it again."
    )


def set_active(workflow: Workflow, active: bool, user=None) -> Workflow:
    """Activate or deactivate (admin's actions, the API's): ``save_workflow`` follows.

    Activating acts with the connection's key: with ``user`` given, they must be
    allowed to use it and become the owner (``authorize_save``, PermissionDenied).
    """
    workflow.active = active
    if active and user is not None:
        authorize_save(user, workflow, has_steps=True)
    return save_workflow(workflow)


def delete_workflow(workflow: Workflow) -> None:
    """Delete a workflow (and its runs): its schedule goes, its endpoint resyncs after commit."""
    need = workflow.endpoint_need()
    Schedule.objects.filter(name=schedule_name(workflow)).delete()
    workflow.delete()
    if need:
        request_endpoint_sync([need[0]])


# -- scheduled workflows ----------------------------------------------------------


def schedule_name(workflow: Workflow) -> str:
    return f"workflow-{workflow.pk}"


def sync_schedule(workflow: Workflow) -> None:
    """Keep the django-q2 Schedule of a scheduled workflow in step with it.

    Active and scheduled: a Schedule calling run_scheduled(workflow id);
    anything else: no Schedule.
    """
    name = schedule_name(workflow)
    if not (workflow.is_scheduled and workflow.active):
        Schedule.objects.filter(name=name).delete()
        return
    spec = schedule_spec(workflow)
    current = Schedule.objects.filter(name=name).first()
    if current and all(getattr(current, k) == v for k, v in spec.items()):
        return
    spec["next_run"] = first_run(workflow, clock.now())
    Schedule.objects.update_or_create(name=name, defaults=spec)


def schedule_spec(workflow: Workflow) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "func": "workflows.tasks.run_scheduled",
        "args": repr(workflow.pk),
        "repeats": -1,
    }
    if workflow.schedule_cron:
        spec.update(schedule_type=Schedule.CRON, cron=workflow.schedule_cron, minutes=None)
    else:
        spec.update(schedule_type=Schedule.MINUTES, minutes=workflow.schedule_minutes, cron=None)
    return spec


def first_run(workflow: Workflow, now: datetime) -> datetime:
    if workflow.schedule_cron:
        return croniter(workflow.schedule_cron, now).get_next(datetime)
    return now + timedelta(minutes=workflow.schedule_minutes or 1)


def run_scheduled(workflow_id: int) -> int | None:
    """One schedule tick: a run with {"scheduled_at": ...} as its trigger data."""
    workflow = (
        Workflow.objects.filter(pk=workflow_id, active=True)
        .exclude(connection__status=Connection.Status.DISABLED)
        .first()
    )
    if workflow is None:  # inactive, deleted, or its connection is disabled: no run
        return None
    tick = clock.now().replace(microsecond=0)
    run = create_run(workflow, scheduled_for=tick)
    return run.pk if run else None


# -- replay ---------------------------------------------------------------------


class ReplayError(ValueError):
    """The run cannot be replayed that way (e.g. it did not fail)."""


def resume_run(run: Run) -> Run:
    """Resume a failed run from its failed step, in the same run.

    The failed and skipped StepRuns are reset with the step's current
    configuration (staff usually fixed the mapping) and a NEW idempotency key:
    Stripe replays the stored answer of a key for 24 h, so the old key would
    only return the same error again. Succeeded steps are kept, not repeated;
    a skipped step's condition is evaluated again. A failed for-each step keeps
    the items that succeeded (``reset_step_run``) and goes on from the first
    item not done.

    The run leaves ``failed`` with a conditional UPDATE first: of concurrent
    requests one resumes, the others get ReplayError (nothing reset twice).
    Refused (ReplayError) when the connection is disabled.
    """
    if run.status == RunStatus.CANCELED:
        raise ReplayError(
            "A canceled run is not resumed: re-run it from the start (a new run with new "
            "idempotency keys) to do its work after all."
        )
    if run.status != RunStatus.FAILED:
        raise ReplayError("Only a failed run can be resumed.")
    require_enabled_connection(run, "resuming")
    now = clock.now()
    with transaction.atomic():
        taken = Run.objects.filter(pk=run.pk, status=RunStatus.FAILED).update(
            status=RunStatus.PENDING, error="", finished_at=None, updated_at=now
        )
        if not taken:
            raise ReplayError("This run was resumed already (it is no longer failed).")
        for step_run in run.step_runs.filter(status__in=[RunStatus.FAILED, RunStatus.SKIPPED]):
            reset_step_run(step_run, now)
        enqueue_run_on_commit(run.pk)
    run.refresh_from_db()
    return run


def reset_step_run(step_run: StepRun, now: datetime) -> None:
    """Make a failed or skipped step run pending again, with its step's current
    configuration (action, mapping, on_failure, condition, for-each) and a new key.

    A for-each step that failed after some items succeeded keeps those items: their
    outputs (``output``, the done prefix), their inputs and ``item_count``, when its
    for-each path is unchanged; the items not done are rendered again with the current
    mapping and sent with the new key (``<new key>-item-<i>``). With the path changed
    (another list) or no item done, it starts afresh.
    """
    kept = kept_items(step_run)
    step = Step.objects.filter(pk=step_run.step_id).first()
    if step is not None:
        step_run.action_key = step.action_key
        step_run.input_mapping = step.input_mapping
        step_run.on_failure = step.on_failure
        step_run.condition = step.condition
        step_run.condition_match = step.condition_match
        step_run.max_items = step.max_items
        if step.for_each != step_run.for_each:
            kept = 0
        step_run.for_each = step.for_each
    step_run.status = RunStatus.PENDING
    step_run.idempotency_key = new_idempotency_key()
    step_run.created_at = now
    step_run.attempts = 0
    step_run.next_attempt_at = step_run.claimed_at = None
    if kept:
        step_run.output = step_run.output[:kept]
        step_run.input = step_run.input[:kept] if isinstance(step_run.input, list) else None
        step_run.left_out_fields = [
            path for path in step_run.left_out_fields or [] if item_of(path) < kept
        ]
    else:
        step_run.input = step_run.output = step_run.item_count = None
        step_run.left_out_fields = []
    step_run.error = None
    step_run.skip_reason = ""
    step_run.request_id = ""
    step_run.duration_ms = None
    step_run.started_at = step_run.finished_at = None
    step_run.save()


def kept_items(step_run: StepRun) -> int:
    """How many items of a failed for-each step succeeded (its output's length), or 0."""
    if step_run.status != RunStatus.FAILED or not step_run.for_each:
        return 0
    return len(step_run.output) if isinstance(step_run.output, list) else 0


def item_of(left_out_path: str) -> int:
    """The item a for-each step's left-out field belongs to: ``[3].metadata.x`` is 3."""
    head = left_out_path[1:].split("]", 1)[0] if left_out_path.startswith("[") else ""
    return int(head) if head.isdigit() else -1


def rerun(run: Run) -> Run:
    """Run the workflow again from the start for the same event, as a new run.

    New run (next replay number), new StepRuns, new idempotency keys. Filters are
    not applied again: re-running is staff's explicit decision. Idempotent: the
    run already re-run answers its re-run (see ``start_rerun``).
    """
    return start_rerun(run)[0]


def start_rerun(run: Run) -> tuple[Run, bool]:
    """``rerun``, with whether this call created the new run: (run, created).

    One click, one new run: the new run records ``rerun_of``, a one-to-one
    field, so of any number of concurrent requests one INSERT wins and the
    others answer the winner's run. Raises ReplayError when the run is still in
    progress or its connection is disabled.
    """
    if run.status not in Run.FINAL:
        raise ReplayError("A run still in progress cannot be re-run.")
    existing = Run.objects.filter(rerun_of=run).first()
    if existing is not None:
        return existing, False
    require_enabled_connection(run, "re-running")
    try:
        new = insert_rerun(run)
    except IntegrityError:  # a concurrent request re-ran it (rerun_of is unique)
        new = None
    if new is not None:
        return new, True
    existing = Run.objects.filter(rerun_of=run).first()
    if existing is None:  # the replay number was taken by a re-run of another run
        raise ReplayError("Another re-run of this event was just started; try again.")
    return existing, False


def insert_rerun(run: Run) -> Run | None:
    """The new run re-running ``run`` (next replay number); None when that number is taken."""
    with transaction.atomic():
        latest = Run.objects.filter(
            workflow_id=run.workflow_id, event_id=run.event_id, scheduled_for=run.scheduled_for
        ).aggregate(Max("replay"))["replay__max"]
        return create_run(
            run.workflow,
            event=run.event,
            scheduled_for=run.scheduled_for,
            replay=(latest or 0) + 1,
            rerun_of=run,
            apply_filters=False,
        )


def require_enabled_connection(run: Run, doing: str) -> None:
    """ReplayError when the run's connection is disabled now (read afresh)."""
    connection = run.workflow.connection
    try:
        connection.require_enabled()
    except ConnectionDisabled:
        raise ReplayError(
            f"Connection {connection.name!r} is disabled: enable it before {doing} this run."
        ) from None


# -- canceling ----------------------------------------------------------------------

# A run waits in these states, between Stripe calls: canceling it stops it there.
CANCELABLE = (RunStatus.PENDING, RunStatus.RETRYING)


class CancelError(ValueError):
    """The run cannot be canceled now: it has ended, or a step is being sent to Stripe."""


def cancel_run(run: Run, user=None) -> Run:
    """Cancel a pending or retrying run: nothing more of it is sent to Stripe.

    In one transaction the run becomes ``canceled`` (``Run.error`` says who and when;
    ``finished_at`` is set) and its pending and retrying step runs become ``canceled``
    too (their last error, if any, is kept; ``next_attempt_at`` is cleared). The engine
    claims a step with a conditional UPDATE of that step run's row that requires it to
    be pending or retrying and its run not to have ended (``engine.claim``), so the
    two writes are ordered by that row's lock: a retry task that read the run before
    the cancel still sends nothing, and a cancel that comes while an attempt is in
    flight is refused (CancelError) and rolled back, as that request cannot be called
    back. Steps that succeeded stay as they are: canceling undoes nothing in Stripe.

    A canceled run is final: the sweeper, recovery and retries never pick it up again,
    it is not resumed (``resume_run``), and it may be re-run as a new run (``rerun``).
    ``user`` is who cancels (None: the operator). Returns the run, read afresh.
    """
    now = clock.now()
    who = user.get_username() if user is not None else "the operator"
    note = f"Canceled by {who} at {now:%Y-%m-%d %H:%M:%S %Z}; nothing more is sent to Stripe."
    with transaction.atomic():
        taken = Run.objects.filter(pk=run.pk, status__in=CANCELABLE).update(
            status=RunStatus.CANCELED, error=note, finished_at=now, updated_at=now
        )
        if not taken:
            raise CancelError(cancel_refusal(run.pk))
        StepRun.objects.filter(run_id=run.pk, status__in=CANCELABLE).update(
            status=RunStatus.CANCELED, next_attempt_at=None, finished_at=now
        )
        if StepRun.objects.filter(run_id=run.pk, status=RunStatus.RUNNING).exists():
            raise CancelError(IN_FLIGHT.format(pk=run.pk))  # rolls the cancel back
        metrics.run_finished(RunStatus.CANCELED)  # counted once the cancel commits
    run.refresh_from_db()
    return run


IN_FLIGHT = (
    "Run {pk} is sending a step to Stripe right now; it can be canceled once it waits "
    "again (pending or retrying)."
)


def cancel_refusal(pk: int) -> str:
    """Why run ``pk`` cannot be canceled, from its current status."""
    status = Run.objects.filter(pk=pk).values_list("status", flat=True).first()
    if status is None:
        return f"Run {pk} does not exist (any more)."
    if status in Run.FINAL:
        label = RunStatus(status).label.lower()
        return (
            f"Run {pk} has already ended ({label}); only a pending or retrying run can be canceled."
        )
    return IN_FLIGHT.format(pk=pk)


# -- who a workflow acts for --------------------------------------------------------


def acts_with_key(workflow: Workflow, has_steps: bool) -> bool:
    """Whether saving ``workflow`` arranges Stripe calls with its connection's key.

    It does when the workflow has steps (each run calls Stripe) or is active
    (its trigger joins the connection's webhook endpoint, or its schedule runs).
    """
    return has_steps or workflow.active


def authorize_save(user, workflow: Workflow, *, has_steps: bool, steps=None) -> None:
    """Before saving in admin or the API: may ``user`` make the workflow act with the key?

    When the save acts with the key (``acts_with_key``), ``user`` must be allowed
    to use the connection (``connections.permissions.require_use``, raising
    PermissionDenied) and each credential the steps name (``require_credentials``),
    and becomes the workflow's ``owner`` (set, not saved): the engine checks before
    every Stripe call that the owner still may. ``steps`` are the steps being saved
    (dicts with ``action_key`` and ``input_mapping``); None: the saved ones.
    """
    if not acts_with_key(workflow, has_steps):
        return
    require_use(user, workflow.connection)
    require_credentials(user, workflow, steps)
    workflow.owner = user


def credential_names(steps) -> set[str]:
    """The credential names HTTP request steps name; ``steps``: Step rows or dicts."""
    names = set()
    for step in steps:
        key = step["action_key"] if isinstance(step, dict) else step.action_key
        mapping = step.get("input_mapping") if isinstance(step, dict) else step.input_mapping
        if key in HTTP_ACTION_KEYS and isinstance(mapping, dict):
            name = mapping.get("credential")
            if isinstance(name, str) and name:
                names.add(name)
    return names


def require_credentials(user, workflow: Workflow, steps=None) -> None:
    """``user`` must be allowed to use each credential the workflow's steps name.

    ``steps``: the steps about to be saved (dicts with ``action_key`` and
    ``input_mapping``, or Step rows); None: the workflow's saved steps. Raises
    PermissionDenied naming the credential
    (``connections.permissions.require_use_credential``). A credential is a literal
    name (``check_credential_literal``), so the names are known here.
    """
    if steps is None:
        if workflow.pk is None:
            return
        steps = workflow.steps.filter(action_key__in=HTTP_ACTION_KEYS)
    names = credential_names(steps)
    for credential in Credential.objects.filter(name__in=sorted(names)).order_by("name"):
        require_use_credential(user, credential)


def require_replay(user, workflow: Workflow) -> None:
    """Before resuming, re-running or dispatching again: what activating asks of ``user``.

    The engine sends as the workflow's owner, so whoever replays must themself be
    allowed to use the connection and every credential the steps name; raises
    PermissionDenied (403 in admin and the API) naming the connection or credential.
    """
    require_use(user, workflow.connection)
    require_credentials(user, workflow)


def require_redispatch(user, event, run_ids: list[int] | None = None) -> None:
    """``require_replay`` for each workflow that dispatching ``event`` again would run
    (its connection's active workflows waiting for its type), or with ``run_ids``, for
    the workflows of those of the runs ``event`` started (re-running them)."""
    require_use(user, event.connection)
    if run_ids is None:
        workflows = Workflow.objects.filter(
            connection_id=event.connection_id, event_type=event.type, active=True
        )
    else:
        workflows = Workflow.objects.filter(runs__event=event, runs__pk__in=run_ids).distinct()
    for workflow in workflows.select_related("connection").order_by("pk"):
        require_replay(user, workflow)


def check_credential_literal(step: dict, report: MappingReport) -> None:
    """An HTTP request step's ``credential`` must be a literal name, never a reference.

    A reference would let whoever controls the event's data (any Stripe object's
    metadata) choose which secret is sent. Adds an error on ``credential``.
    """
    if step.get("action_key") not in HTTP_ACTION_KEYS:
        return
    if is_reference((step.get("input_mapping") or {}).get("credential")):
        report.error("credential", CREDENTIAL_LITERAL)


# -- checking a workflow ----------------------------------------------------------


def sample_to_check_with(workflow: Workflow) -> dict:
    """``workflow.sample()`` as it will be once saved: a workflow whose unsaved trigger or
    connection differs from the stored row's is checked against the new trigger's catalog
    sample, since ``save_workflow`` will clear the loaded one (``stale_samples_reason``)."""
    if workflow.sample_event and workflow.pk is not None:
        stored = Workflow.objects.filter(pk=workflow.pk).first()
        if stale_samples_reason(stored, workflow):
            pending = copy.copy(workflow)
            pending.sample_event = None
            return pending.sample()
    return workflow.sample()


# The fields of check_steps' errors that are the step's own, not paths in its input.
STEP_FIELDS = ("action_key", "condition", "condition_match", "for_each", "max_items")


def check_steps(workflow: Workflow, steps: list[dict]) -> list[MappingReport]:
    """Check each step (in order) against its action and the trigger's sample.

    ``steps`` are dicts with ``name``, ``action_key``, ``input_mapping`` and, when
    given, ``condition`` (a list of rules), ``condition_match`` ("all"/"any"),
    ``for_each`` (a path, "" to run once) and ``max_items``; a missing key has the
    model's default. Returns one MappingReport per step: ``errors`` and ``warnings``
    are lists of ``{"field": ..., "message": ...}``.

    ``field`` is one of the step's own fields (``STEP_FIELDS``): "action_key"
    (unknown action), "condition" (messages ``Rule N: ...``), "condition_match",
    "for_each", "max_items"; otherwise it is a path in the step's input
    ("metadata.source", "items[0].price", "credential"; "" for the input as a whole).

    All the steps' templates are rendered against the sample within one deadline
    and size budget (``render_limits``): a save costs a bounded time in all.
    """
    sample = sample_to_check_with(workflow)
    reports = []
    earlier: list[str] = []
    with render_limits():
        for step in steps:
            report = MappingReport()
            for_each = check_step_config(step, earlier, sample, report)
            try:
                schema = get_action(step["action_key"]).input_schema
            except KeyError as exc:
                report.error("action_key", str(exc))
            else:
                mapping_report = check_mapping(
                    step.get("input_mapping") or {},
                    schema,
                    sample_trigger=sample,
                    earlier_steps=earlier,
                    for_each=for_each,
                )
                report.errors += mapping_report.errors
                report.warnings += mapping_report.warnings
                check_credential_literal(step, report)
            reports.append(report)
            earlier.append(step.get("name", ""))
    return reports


def check_step_config(step: dict, earlier: list[str], sample: Any, report: MappingReport) -> str:
    """The step's condition, match, for-each path and maximum, into ``report`` (on those
    fields); returns the for-each path to check the mapping with ("" when none).

    A for-each path with problems still makes the step a for-each step for the mapping's
    check: ``{{ item }}`` is then a stand-in, not a second error."""
    for problem in check_condition(step.get("condition") or [], earlier):
        report.error("condition", problem)
    for problem in check_match(step.get("condition_match") or Match.ALL):
        report.error("condition_match", problem)
    max_items = step.get("max_items")
    for problem in check_max_items(DEFAULT_MAX_ITEMS if max_items is None else max_items):
        report.error("max_items", problem)
    for_each = step.get("for_each") or ""
    problems = check_for_each(for_each, earlier)
    for problem in problems:
        report.error("for_each", problem)
    if not problems:
        warn_sample_paths(step, earlier, sample, report)
    # Not text (refused above): still a for-each step, whose item is then a stand-in.
    return for_each if isinstance(for_each, str) else "(not a path)"


def check_max_items(value: Any) -> list[str]:
    """Problems with a step's ``max_items``: a whole number from 1 to ``FOR_EACH_CEILING``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"A whole number from 1 to {FOR_EACH_CEILING}."]
    if not 1 <= value <= FOR_EACH_CEILING:
        return [f"From 1 to {FOR_EACH_CEILING} items (it is {value})."]
    return []


def warn_sample_paths(step: dict, earlier: list[str], sample: Any, report: MappingReport) -> None:
    """Warnings for trigger paths of the condition and the for-each list that the sample
    event lacks, and for a for-each path that is not a list there."""
    context = build_context(sample, {name: AnyValue() for name in earlier})
    condition = step.get("condition") or []
    if isinstance(condition, list) and not check_condition(condition, earlier):
        for position, rule in enumerate(condition, start=1):
            path = rule["path"]
            if path.startswith("trigger.") and lookup(context, path) is _ABSENT:
                report.warn("condition", f"Rule {position}: {path} is not in the sample event.")
    for_each = step.get("for_each") or ""
    if not for_each.startswith("trigger."):
        return
    items = lookup(context, for_each)
    if items is _ABSENT:
        report.warn("for_each", f"{for_each} is not in the sample event.")
    elif not isinstance(items, list):
        kind = "null" if items is None else JSON_KINDS.get(type(items), "text")
        report.warn("for_each", f"{for_each} is {kind} in the sample event, not a list.")
