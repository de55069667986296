"""Where an event becomes runs, and where a step runs.

Everything here takes ids and re-reads the database: the database is the
source of truth and the queue is only a wake-up call. Any number of workers
may call these functions at once:

- ``dispatch`` creates runs with ``get_or_create`` on a unique constraint, so
  dispatching an event twice creates nothing;
- ``execute_run`` claims each StepRun with a conditional UPDATE and returns
  at once when another worker has it; results are written only while the
  claim is still ours (``claimed_at`` is the fence), so a worker presumed dead
  by the sweeper cannot overwrite the recovered attempt;
- no lock is held while Stripe is called;
- a step whose condition does not hold is skipped with the same kind of
  conditional UPDATE; a for-each step writes the outputs of the items done
  after each answer (under the fence), so it goes on at the first item not done,
  whose key (``<step key>-item-<i>``) Stripe has seen if it was sent;
- a task sends a for-each step's items for at most ``task_budget()`` (half of
  ``Q_TIMEOUT``), then hands the rest to a new task (``hand_off``) without
  using up an attempt, so django-q2 never has to kill a long list;
- a for-each step's retries count per item: when an item is done the step's
  attempts start again (``record_items_done``), so the attempt ceiling, the
  backoff and the 24 h window of a key apply to each item's own key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django_q.tasks import async_task

from connections import outbound
from connections.models import Connection, ConnectionDisabled, InboxEvent
from connections.permissions import can_use
from konnectify.platform import metrics
from konnectify.platform.commit import after_commit
from stripe_connector.catalog import get_action
from stripe_connector.catalog.http import is_http_action
from stripe_connector.errors import ActionInputError, StripeError
from workflows import alerts, clock
from workflows.filters import (
    _ABSENT,
    JSON_KINDS,
    check_filters,
    condition_holds,
    lookup,
    matches,
)
from workflows.mapping import (
    VALUE_ERRORS,
    MappingError,
    build_context,
    check_rendered_input,
    is_skipped,
    item_context,
    refuse_empty_write,
    render_input,
    skipped_output,
    skipped_step,
)
from workflows.models import FOR_EACH_CEILING, Run, RunStatus, Step, StepRun, Workflow
from workflows.retry import IDEMPOTENCY_WINDOW, WINDOW_MARGIN, RetryPolicy
from workflows.sandbox import check_input_size, render_limits

logger = logging.getLogger(__name__)

RUN_TASK = "workflows.tasks.run_workflow"
# A claim older than the task timeout (plus a margin) belongs to a worker that
# django-q2 has already killed: the step is recovered with the same key.
LEASE_MARGIN = timedelta(seconds=30)


def claim_lease() -> timedelta:
    return timedelta(seconds=settings.Q_TIMEOUT) + LEASE_MARGIN


def task_budget() -> timedelta:
    """How long one task sends a for-each step's items before handing the rest on.

    Half of ``Q_TIMEOUT`` (60 s by default), as for ``tasks.prune``: the other half
    is room for the item in flight, which a normal Stripe call needs well under a
    second of. (A call that hangs up to the Stripe timeouts can still outlive the
    task; the sweeper then recovers the step with the same keys, as for any step.)
    """
    return timedelta(seconds=settings.Q_TIMEOUT / 2)


# -- creating runs --------------------------------------------------------------


def dispatch(event_id: int, *, run_first_inline: bool = False) -> list[int]:
    """Create the runs for one inbox event; returns the ids of the new runs to execute.

    With ``run_first_inline`` the first new run is created with its first step
    already claimed by this worker and executed right here instead of being
    enqueued: one trip through the queue and two UPDATEs less between the event
    and its first Stripe call. Should this worker die, the sweeper recovers the
    claim (same idempotency key) once its lease has passed.
    """
    event = InboxEvent.objects.filter(pk=event_id).first()
    if event is None or event.status == InboxEvent.Status.MODE_MISMATCH:
        return []
    if connection_disabled(event):
        return []
    if event.payload_pruned_at is not None:
        # Only its id is left, kept so that it never runs twice: nothing to run on.
        return []
    # The one indexed query (workflow_dispatch_idx): its cost does not grow with
    # the number of workflows on other connections or event types.
    workflows = list(
        Workflow.objects.filter(
            connection_id=event.connection_id, event_type=event.type, active=True
        ).select_related("connection")
    )
    try:
        # The usual case, a new event: one transaction, no savepoints.
        new_runs = create_runs(event, workflows, run_first_inline, savepoints=False)
    except IntegrityError:
        # A run exists already (a task delivered again): one savepoint per run.
        new_runs = create_runs(event, workflows, run_first_inline, savepoints=True)
    if run_first_inline and new_runs:
        execute_run(new_runs[0].pk, preloaded=new_runs[0])
    return [run.pk for run in new_runs]


def connection_disabled(event: InboxEvent) -> bool:
    """True (and the event marked ignored) when its connection is disabled now: no run.

    Read afresh: the receiver may have stored the event in the seconds before it
    saw the connection disabled.
    """
    status = Connection.objects.filter(pk=event.connection_id).values_list("status", flat=True)
    if status.first() != Connection.Status.DISABLED:
        return False
    InboxEvent.objects.filter(pk=event.pk).update(
        status=InboxEvent.Status.IGNORED,
        status_detail="The connection is disabled: no run was created.",
    )
    return True


def create_runs(
    event: InboxEvent, workflows: list[Workflow], run_first_inline: bool, *, savepoints: bool
) -> list[Run]:
    """The runs of ``event`` (pending ones returned), and the event marked dispatched."""
    new_runs: list[Run] = []
    with transaction.atomic():
        for workflow in workflows:
            inline = run_first_inline and not new_runs
            run = create_run(
                workflow, event=event, enqueue=not inline, claim_first=inline, savepoint=savepoints
            )
            if run is not None and run.status != RunStatus.SKIPPED:
                new_runs.append(run)
        status = InboxEvent.Status.DISPATCHED if workflows else InboxEvent.Status.IGNORED
        detail = f"{len(workflows)} workflow(s) matched." if workflows else "No active workflow."
        InboxEvent.objects.filter(pk=event.pk).update(status=status, status_detail=detail)
    return new_runs


def create_run(
    workflow: Workflow,
    *,
    event: InboxEvent | None = None,
    scheduled_for: datetime | None = None,
    replay: int = 0,
    rerun_of: Run | None = None,
    apply_filters: bool = True,
    enqueue: bool = True,
    claim_first: bool = False,
    savepoint: bool = True,
) -> Run | None:
    """Create a run with its step runs and enqueue it on commit; None if it exists.

    The unique constraint decides between concurrent dispatchers: the INSERT
    runs in a savepoint and the loser gets None (without ``savepoint`` the
    IntegrityError reaches the caller). ``claim_first`` creates the run running,
    with its first step claimed by the caller, who must then execute it.
    """
    now = clock.now()
    run = Run(
        workflow=workflow,
        event=event,
        scheduled_for=scheduled_for,
        replay=replay,
        rerun_of=rerun_of,
    )
    matched, reason = matches(workflow.filters, run.trigger_data()) if apply_filters else (True, "")
    if not matched:
        run.status, run.error, run.finished_at = RunStatus.SKIPPED, reason, now
    elif claim_first:
        run.status, run.started_at = RunStatus.RUNNING, now
    with transaction.atomic(savepoint=False):  # a transaction, or part of the caller's
        if not insert_run(run, savepoint):
            return None
        if not matched:
            metrics.run_finished(RunStatus.SKIPPED)
        if matched:
            step_runs = [step_run_for(run, step, now) for step in workflow.steps.all()]
            # A step with a condition is claimed only once it holds (``run_steps``).
            if claim_first and step_runs and not step_runs[0].condition:
                preclaim(step_runs[0], now)
                run.preclaimed = step_runs[0]
            run.prepared_step_runs = StepRun.objects.bulk_create(step_runs)
            if enqueue:
                enqueue_run_on_commit(run.pk)
    return run


def insert_run(run: Run, savepoint: bool) -> bool:
    """INSERT the run; False when it exists already (only detected with a savepoint)."""
    if not savepoint:
        run.save(force_insert=True)
        return True
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        if already_exists(run):
            return False
        raise
    return True


def preclaim(step_run: StepRun, now: datetime) -> None:
    """What ``claim`` would write, set before the INSERT: the creator owns the step."""
    step_run.status, step_run.claimed_at, step_run.started_at = RunStatus.RUNNING, now, now
    step_run.attempts = 1


def already_exists(run: Run) -> bool:
    return Run.objects.filter(
        workflow_id=run.workflow_id,
        event_id=run.event_id,
        scheduled_for=run.scheduled_for,
        replay=run.replay,
    ).exists()


def step_run_for(run: Run, step: Step, now: datetime) -> StepRun:
    """A new StepRun copying the step's configuration, with a fresh idempotency key."""
    return StepRun(
        run=run,
        step=step,
        order=step.order,
        step_name=step.name,
        action_key=step.action_key,
        input_mapping=step.input_mapping,
        on_failure=step.on_failure,
        condition=step.condition,
        condition_match=step.condition_match,
        for_each=step.for_each,
        max_items=step.max_items,
        created_at=now,
    )


def enqueue_run(run_id: int) -> None:
    # save=False: a run's outcome is in our tables; django-q2 keeps failures only.
    async_task(RUN_TASK, run_id, task_name=f"run-{run_id}", save=False)


def enqueue_run_on_commit(run_id: int) -> None:
    """Enqueue after commit: a worker must never look for a run not yet committed."""
    after_commit(enqueue_run, run_id)


# -- executing a run ------------------------------------------------------------


def execute_run(run_id: int, *, preloaded: Run | None = None) -> None:
    """Run the run's steps in order until done, waiting for a retry, or taken by another.

    A retry due within what is left of ``WORKFLOW_RETRY_INLINE_SECONDS`` is
    waited out here, so short backoffs (a 429's ``Retry-After: 1``, a first
    2 s backoff) mean what they say; the sweeper, which wakes due retries
    only about once a minute, takes the longer ones and frees the worker.

    A for-each step sends items until ``task_budget()`` after this task began
    (earlier steps and waits count), then goes on in a new task (``hand_off``).
    """
    budget = float(settings.WORKFLOW_RETRY_INLINE_SECONDS)
    deadline = clock.now() + task_budget()
    while True:
        wait = run_steps(run_id, preloaded, deadline=deadline)
        if wait is None or wait > budget:
            return
        clock.sleep(wait)
        budget -= wait
        preloaded = None


def run_steps(
    run_id: int, preloaded: Run | None = None, *, deadline: datetime | None = None
) -> float | None:
    """One pass over the run's steps; seconds until a step's retry is due, or None.

    The run and its steps are read once (or come ``preloaded`` from dispatch);
    every step is still claimed with a conditional UPDATE, so a stale read can
    only make us return early. A pending step whose condition does not hold is
    skipped (``skip``) instead, and the run goes on. ``deadline`` is when this
    task stops sending a for-each step's items (``task_budget``); None: never.
    """
    run, step_runs = load_run(run_id, preloaded)
    if run is None or run.status in Run.FINAL:
        return None
    for position, step_run in enumerate(step_runs):
        if step_run.status in StepRun.DONE:
            continue
        ours = step_run is getattr(run, "preclaimed", None)
        if step_run.status == RunStatus.RUNNING and not ours:
            return None  # another worker has it
        if step_run.status == RunStatus.RETRYING and step_run.next_attempt_at > clock.now():
            return seconds_until(step_run.next_attempt_at)
        outputs = outputs_before(step_runs[:position])
        # A step handed on mid-list (``hand_off``) has started: its condition held.
        if step_run.status == RunStatus.PENDING and not ours and step_run.started_at is None:
            reason = skip_reason(step_run, run, outputs)
            if reason and not skip(step_run, run, reason):
                return None
            if reason:
                continue
        if not ours and step_run.attempts >= max_attempts():
            if not give_up(step_run):
                return None
            continue
        if not ours and not claim(step_run, run):
            return None
        if not attempt(step_run, run, outputs, deadline):
            if step_run.status == RunStatus.RETRYING:
                return seconds_until(step_run.next_attempt_at)
            return None
    finish_run(run_id, failed=[s for s in step_runs if s.status == RunStatus.FAILED])
    return None


def seconds_until(when: datetime) -> float:
    return max(0.0, (when - clock.now()).total_seconds())


def load_run(run_id: int, preloaded: Run | None) -> tuple[Run | None, list[StepRun]]:
    prepared = getattr(preloaded, "prepared_step_runs", None)
    if prepared is not None and all(step_run.pk for step_run in prepared):
        return preloaded, sorted(prepared, key=lambda s: (s.order, s.pk))
    run = Run.objects.select_related("workflow__connection", "event").filter(pk=run_id).first()
    if run is None:
        return None, []
    return run, list(run.step_runs.order_by("order", "id"))


def outputs_before(step_runs: list[StepRun]) -> dict[str, Any]:
    """Outputs of the earlier steps, by step name: ``{{ steps.<name> }}``.

    A succeeded step's output; a step skipped by its condition has a stand-in
    (``mapping.skipped_output``) that makes a reference to it an error naming the
    step and its skip reason, unless the reference gives a default. Failed steps
    (``on_failure`` continue) are absent.
    """
    outputs: dict[str, Any] = {}
    for step_run in step_runs:
        if step_run.status == RunStatus.SUCCEEDED:
            outputs[step_run.step_name] = step_run.output
        elif step_run.status == RunStatus.SKIPPED and step_run.skip_reason:
            outputs[step_run.step_name] = skipped_output(step_run.step_name, step_run.skip_reason)
    return outputs


def data_context(run: Run, outputs: dict[str, Any]) -> dict[str, Any]:
    """What a condition's and a for-each's paths are read from: {"trigger", "steps"}.

    A skipped step's output is absent here (``exists`` does not hold for it).
    """
    steps = {name: output for name, output in outputs.items() if not is_skipped(output)}
    return {"trigger": run.trigger_data(), "steps": steps}


def skip_reason(step_run: StepRun, run: Run, outputs: dict[str, Any]) -> str:
    """Why the step's condition does not hold ("" when it holds or there is none).

    A condition that is not a list of valid rules (stored past the save's checks)
    is left to ``call_action``, which fails the step naming it: never skipped silently.
    """
    if not step_run.condition or check_filters(step_run.condition):
        return ""
    match = step_run.condition_match
    return condition_holds(step_run.condition, data_context(run, outputs), match)[1]


def skip(step_run: StepRun, run: Run, reason: str) -> bool:
    """Mark a pending step skipped (its condition did not hold); False when it was taken.

    A conditional UPDATE like ``claim``'s: only from pending, only while the run
    is open, so a cancel or another worker's claim wins cleanly.
    """
    now = clock.now()
    run_open = Exists(Run.objects.filter(pk=OuterRef("run_id")).exclude(status__in=Run.FINAL))
    updated = StepRun.objects.filter(run_open, pk=step_run.pk, status=RunStatus.PENDING).update(
        status=RunStatus.SKIPPED, skip_reason=reason, finished_at=now
    )
    if not updated:
        return False
    step_run.status, step_run.skip_reason, step_run.finished_at = RunStatus.SKIPPED, reason, now
    mark_running(run, now)
    return True


def max_attempts() -> int:
    """The hard ceiling of attempts of one step (``WORKFLOW_MAX_ATTEMPTS``).

    Attempts are counted when a step is claimed, before Stripe is called, so an
    attempt whose outcome was lost (a killed worker, a failed save) counts too.
    """
    return int(settings.WORKFLOW_MAX_ATTEMPTS)


def claim(step_run: StepRun, run: Run) -> bool:
    """Take the step with a conditional UPDATE; False if another worker got it first.

    The UPDATE also refuses a step that has used its attempts, and a step whose
    run has ended (canceled, say) since it was read: a stale read can neither take
    it past the ceiling nor send anything for a canceled run. ``services.cancel_run``
    marks the step runs canceled in the transaction that cancels the run, so this
    one row's lock orders a cancel and a claim: whichever comes second sees the
    other's write.
    """
    now = clock.now()
    due = Q(status=RunStatus.PENDING) | Q(status=RunStatus.RETRYING, next_attempt_at__lte=now)
    run_open = Exists(Run.objects.filter(pk=OuterRef("run_id")).exclude(status__in=Run.FINAL))
    claimed = StepRun.objects.filter(
        due, run_open, pk=step_run.pk, attempts__lt=max_attempts()
    ).update(
        status=RunStatus.RUNNING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        started_at=Coalesce("started_at", Value(now)),
        next_attempt_at=None,
    )
    if not claimed:
        return False
    step_run.status, step_run.claimed_at, step_run.next_attempt_at = RunStatus.RUNNING, now, None
    step_run.attempts += 1
    step_run.started_at = step_run.started_at or now
    mark_running(run, now)
    return True


def mark_running(run: Run, now: datetime) -> None:
    """The run is running (started now unless it had started) while it is open."""
    if run.status != RunStatus.RUNNING:
        Run.objects.filter(pk=run.pk).exclude(status__in=Run.FINAL).update(
            status=RunStatus.RUNNING, started_at=Coalesce("started_at", Value(now)), updated_at=now
        )
        run.status = RunStatus.RUNNING


def attempt(
    step_run: StepRun, run: Run, outputs: dict[str, Any], deadline: datetime | None = None
) -> bool:
    """One attempt of a claimed step; True when the run should go on to the next step.

    A for-each step still sending items at ``deadline`` is handed to a new task
    (``hand_off``): False, and the step is pending again.
    """
    started = time.monotonic()
    try:
        output, request_id = call_action(step_run, run, outputs, deadline)
    except ClaimLost:
        return False  # the sweeper handed the step to another worker: it goes on from here
    except HandOff as exc:
        return hand_off(step_run, run, exc.request_id, started)
    except (MappingError, ActionInputError) as exc:
        return fail(step_run, error_of(exc, exc.to_dict()), started)
    except ConnectionDisabled as exc:
        return stop_disabled(step_run, exc, started)
    except StripeError as exc:
        if exc.retryable:
            return retry_later(step_run, exc, started)
        return fail(step_run, error_of(exc, exc.to_dict()), started)
    except Exception as exc:
        # A bug or an unknown action: fail visibly rather than retry blindly.
        logger.exception("Step run %s failed unexpectedly", step_run.pk)
        error = {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        return fail(step_run, error_of(exc, error), started)
    return succeed(step_run, output, request_id, started)


class ClaimLost(Exception):
    """Our claim on the step was taken over (the sweeper presumed this worker dead)."""


class HandOff(Exception):
    """This task's time for a for-each step's items is used (``task_budget``): the items
    done are recorded, the rest goes to a new task. ``request_id``: the last answer's."""

    def __init__(self, request_id: str | None) -> None:
        super().__init__("task budget used")
        self.request_id = request_id


def error_of(exc: BaseException, error: dict) -> dict:
    """``error`` (the step's error dict), for a for-each item's failure prefixed
    ``Item i+1 of N: `` with ``"item": i`` (0-based) added."""
    position = getattr(exc, "for_each_item", None)
    if position is None:
        return error
    index, count = position
    return {
        **error,
        "message": f"Item {index + 1} of {count}: {error.get('message', '')}",
        "item": index,
    }


@contextmanager
def about_item(index: int, count: int) -> Iterator[None]:
    """Mark what fails inside as the failure of item ``index`` of ``count`` (``error_of``)."""
    try:
        yield
    except Exception as exc:
        if getattr(exc, "for_each_item", None) is None:
            exc.for_each_item = (index, count)
        raise


def call_action(
    step_run: StepRun, run: Run, outputs: dict[str, Any], deadline: datetime | None = None
) -> tuple[Any, str | None]:
    """Render (unless fixed by an earlier attempt), validate, call Stripe with the step's key.

    The input is stored with the attempt's outcome and reused by later attempts,
    so every attempt sends what the key saw first. (Rendering the step's copied
    mapping again after a crash gives the same input: same event, same outputs.)
    A for-each step calls once per item (``call_for_each``, which stops at ``deadline``).
    """
    check_window(step_run)
    refuse_bad_condition(step_run)
    action = get_action(step_run.action_key)
    if is_http_action(action):  # a credential is a literal name, also in older steps
        outbound.refuse_credential_reference(step_run.input_mapping)
    if step_run.for_each:
        return call_for_each(step_run, run, action, outputs, deadline)
    if step_run.input is None:
        context = build_context(run.trigger_data(), outputs)
        with render_limits():  # one render deadline for all the step's fields
            rendered = render_input(step_run.input_mapping, context)
        step_run.input = bounded_input(rendered.values)
        record_left_out(step_run, rendered.left_out)
        refuse_empty_write(action, rendered)
    cleaned = action.validate(step_run.input)
    check_owner(run.workflow)
    client = client_for(action, run.workflow)
    result = action.send_validated(client, cleaned, idempotency_key=step_run.idempotency_key)
    return json_safe(result.output), result.request_id


def refuse_bad_condition(step_run: StepRun) -> None:
    """MappingError on ``condition`` when it is not a list of valid rules (not saved
    through the checks of ``services.check_steps``): such a step fails, never runs."""
    if step_run.condition:
        problems = check_filters(step_run.condition, label="Rule")
        if problems:
            raise MappingError(f"condition: {problems[0]}", field="condition")


# -- for each -------------------------------------------------------------------


def item_key(idempotency_key: str, index: int) -> str:
    """The idempotency key of a for-each step's item ``index`` (0-based)."""
    return f"{idempotency_key}-item-{index}"


def resolve_items(
    for_each: str, context: dict[str, Any], outputs: dict[str, Any] | None = None
) -> list:
    """The list a for-each step repeats for: ``for_each`` looked up in ``context``
    ({"trigger", "steps"}, ``data_context``). MappingError on field ``for_each`` when it
    is missing or not a list; a path into a step skipped by its condition (``outputs``,
    as ``outputs_before`` gives them) says that step was skipped and why."""
    items = lookup(context, for_each)
    skipped = skipped_step(for_each, {"steps": outputs or {}})
    if items is _ABSENT and skipped is not None:
        raise MappingError(
            f"for_each: {for_each}: step {skipped.step_name} was skipped "
            f"({skipped.reason.rstrip('.')}), so there is no list to repeat the step for "
            f"(give this step the condition {for_each} exists to skip it too).",
            field="for_each",
        )
    if items is _ABSENT:
        raise MappingError(
            f"for_each: {for_each} does not exist in the data, so there is no list to repeat "
            "the step for (give the step a condition such as "
            f"{for_each} exists to skip it then).",
            field="for_each",
        )
    if not isinstance(items, list):
        kind = "null" if items is None else JSON_KINDS.get(type(items), "text")
        raise MappingError(f"for_each: {for_each} is {kind}, not a list.", field="for_each")
    return items


def check_item_count(count: int, max_items: int) -> None:
    """MappingError on ``for_each`` when a list of ``count`` items is longer than the
    step's ``max_items`` (or ``FOR_EACH_CEILING``): the step fails before any call."""
    limit = min(max_items, FOR_EACH_CEILING)
    if count > limit:
        raise MappingError(
            f"for_each: {count} items, more than the step's maximum of {limit}; nothing was sent.",
            field="for_each",
        )


def render_items(
    mapping: Any, context: dict[str, Any], items: list, action: Any, start: int = 0
) -> tuple[list, list[str]]:
    """Each item's input from ``start`` on (``item``, ``item_index`` in the context),
    and the fields left out as ``[i].field``. MappingError for item i is marked as
    that item's (``about_item``)."""
    inputs, left_out = [], []
    with render_limits():  # one render deadline for all the items' fields
        for index in range(start, len(items)):
            with about_item(index, len(items)):
                rendered = render_input(mapping, item_context(context, items[index], index))
                inputs.append(bounded_input(rendered.values))
                refuse_empty_write(action, rendered)
            left_out += [
                f"[{index}]{'' if path.startswith('[') else '.'}{path}"
                for path in rendered.left_out
            ]
    return inputs, left_out


def bounded_inputs(inputs: list, done: int) -> list:
    """The items' inputs, at most ``MAX_INPUT_BYTES`` of JSON together (MappingError)."""
    try:
        check_input_size(inputs)
    except VALUE_ERRORS as exc:
        sent = "nothing more was sent" if done else "nothing was sent"
        raise MappingError(
            f"for_each: the inputs of the {len(inputs)} items together: {exc} {sent.capitalize()}.",
            field="for_each",
        ) from None
    return inputs


def call_for_each(
    step_run: StepRun,
    run: Run,
    action: Any,
    outputs: dict[str, Any],
    deadline: datetime | None = None,
) -> tuple[list, str | None]:
    """A for-each step's attempt: one call per item not done yet, in order.

    The list is resolved (``resolve_items``) and its length fixed in ``item_count`` at
    the first attempt. Every item's input is rendered and validated before any call,
    so a bad item fails the step with nothing sent; the inputs are kept as the step's
    ``input`` (a list). Item i is sent with ``item_key(key, i)``; after each answer the
    outputs so far are written (``output``, under the claim), so a later attempt or a
    recovered crash continues at the first item not done, with that item's same key.
    Once ``deadline`` has passed, after at least one item of this attempt, it raises
    HandOff before the next item (the items done are recorded): a new task goes on.
    Returns (the items' outputs, the last answer's Request-Id).
    """
    context = data_context(run, outputs)
    items = resolve_items(step_run.for_each, context, outputs)
    fix_item_count(step_run, len(items))
    check_item_count(len(items), step_run.max_items)
    done = list(step_run.output) if isinstance(step_run.output, list) else []
    stored = step_run.input if isinstance(step_run.input, list) else []
    stored = stored[: len(items)]
    mapping_context = build_context(context["trigger"], outputs)
    rendered, left_out = render_items(
        step_run.input_mapping, mapping_context, items, action, len(stored)
    )
    step_run.input = bounded_inputs(stored + rendered, len(done))
    if rendered:
        kept = [path for path in step_run.left_out_fields or [] if path not in left_out]
        record_inputs(step_run, kept + left_out)
    cleaned = {}
    for index in range(len(done), len(items)):
        with about_item(index, len(items)):
            cleaned[index] = action.validate(step_run.input[index])
    request_id = None
    client = client_for(action, run.workflow) if len(done) < len(items) else None
    first = len(done)
    for index in range(first, len(items)):
        if index > first and deadline is not None and clock.now() >= deadline:
            raise HandOff(request_id)
        with about_item(index, len(items)):
            check_owner(run.workflow)
            key = item_key(step_run.idempotency_key, index)
            result = action.send_validated(client, cleaned[index], idempotency_key=key)
            done.append(json_safe(result.output))
        request_id = result.request_id
        record_items_done(step_run, done)
    return done, request_id


def fix_item_count(step_run: StepRun, count: int) -> None:
    """Fix the list's length at the first attempt; later attempts must see the same.

    Written at once (under the claim): the run page shows how many items there are.
    """
    if step_run.item_count is None:
        if not _ours(step_run).update(item_count=count):
            raise ClaimLost()
        step_run.item_count = count
    elif step_run.item_count != count:
        raise MappingError(
            f"for_each: the list has {count} items now, {step_run.item_count} when the step "
            "began; not continued (the items done so far are kept).",
            field="for_each",
        )


def record_inputs(step_run: StepRun, left_out: list[str]) -> None:
    """Write a for-each step's rendered inputs (before any call) and the fields left out,
    while the claim is ours: the run page shows them while the items are sent."""
    if not _ours(step_run).update(input=step_run.input, left_out_fields=left_out):
        raise ClaimLost()
    step_run.left_out_fields = left_out


def record_items_done(step_run: StepRun, done: list) -> None:
    """Write the outputs of the items done, in order, while the claim is ours.

    Retries count per item: with an item still to send, the step's attempts start
    again at this one (1) and its key's window at now, so the attempt ceiling, the
    backoff and the 24 h idempotency window (``check_window``, ``retry_later``) apply
    to the next item, whose key (``item_key``) is first sent after this. One-off
    errors on different items never add up to the step's ceiling.
    """
    fields: dict[str, Any] = {"output": done}
    if len(done) < (step_run.item_count or 0):
        fields.update(attempts=1, created_at=clock.now())
    if not _ours(step_run).update(**fields):
        raise ClaimLost()
    step_run.output = done
    step_run.attempts = fields.get("attempts", step_run.attempts)
    step_run.created_at = fields.get("created_at", step_run.created_at)


def client_for(action: Any, workflow: Workflow) -> Any:
    """What the step sends with (``connections.outbound.client_for``): the connection's
    Stripe client, or for an HTTP request step an ``HttpClient`` sending for the workflow's
    owner, who must still hold the right to use the step's credential (no owner: the
    operator)."""
    owner = None
    if is_http_action(action) and workflow.owner_id is not None:
        owner = get_user_model().objects.filter(pk=workflow.owner_id).first()
    return outbound.client_for(
        action, workflow.connection, user=owner, operator=workflow.owner_id is None
    )


def record_left_out(step_run: StepRun, left_out: list[str]) -> None:
    """Keep which fields rendered empty and were left out (while the claim is ours)."""
    step_run.left_out_fields = left_out
    if left_out:
        _ours(step_run).update(left_out_fields=left_out)


def check_owner(workflow: Workflow) -> None:
    """Refuse the call when the workflow's owner may no longer use its connection.

    The owner (who last saved the steps or activated the workflow in admin or
    the API) must still be active and hold the right to use the connection
    (``connections.permissions.can_use``); a workflow without owner was set up
    by the operator and may. The refusal is permanent: no request is sent.
    """
    if workflow.owner_id is None:
        return
    # Read afresh: a permission revoked since the run started must count now.
    owner = get_user_model().objects.filter(pk=workflow.owner_id).first()
    if owner is None or not can_use(owner, workflow.connection):
        name = owner or f"user {workflow.owner_id}"
        raise StripeError(
            f"{name} may no longer use connection {workflow.connection.name!r}; "
            "not sent (a user who may use it must save or activate the workflow again).",
            type="connection_not_allowed",
        )


def check_window(step_run: StepRun) -> None:
    """Refuse a retry past Stripe's idempotency window: the key may be forgotten.

    ``created_at`` is when the key about to be sent was fixed: the step's, or for a
    for-each step the current item's (``record_items_done`` moves it when an item
    is done), and ``attempts`` > 1 means that key was sent before."""
    deadline = step_run.created_at + IDEMPOTENCY_WINDOW - WINDOW_MARGIN
    if step_run.attempts > 1 and clock.now() > deadline:
        raise StripeError(
            "Not retried: the 24 h idempotency window of this step's key has passed.",
            type="idempotency_window_passed",
        )


def bounded_input(values: Any) -> Any:
    """``json_safe(values)`` when at most ``MAX_INPUT_BYTES`` of JSON; MappingError otherwise.

    Checked before the input is kept: an oversized input is neither stored nor sent.
    A value JSON cannot write (an integer past Python's 4,300 digits) is a
    MappingError naming its field too, never an internal error.
    """
    try:
        safe = json_safe(values)
    except (ValueError, OverflowError, RecursionError):
        check_rendered_input(values)  # raises MappingError naming the field
        raise
    check_rendered_input(safe)
    return safe


def json_safe(value: Any) -> Any:
    """What a JSONField stores: Jinja may produce values JSON cannot hold as such."""
    return json.loads(json.dumps(value, default=str))


# -- recording outcomes ---------------------------------------------------------


def _ours(step_run: StepRun):
    """Only while our claim stands: the sweeper may have handed the step to another."""
    return StepRun.objects.filter(
        pk=step_run.pk, status=RunStatus.RUNNING, claimed_at=step_run.claimed_at
    )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def succeed(step_run: StepRun, output: dict, request_id: str | None, started: float) -> bool:
    updated = _ours(step_run).update(
        status=RunStatus.SUCCEEDED,
        input=step_run.input,
        output=output,
        error=None,
        request_id=request_id or "",
        duration_ms=_elapsed_ms(started),
        finished_at=clock.now(),
        claimed_at=None,
    )
    metrics.step_attempted(RunStatus.SUCCEEDED, time.monotonic() - started)
    if updated:
        metrics.step_finished(RunStatus.SUCCEEDED, step_run.attempts)
    step_run.status, step_run.output = RunStatus.SUCCEEDED, output
    return bool(updated)


def retry_later(step_run: StepRun, exc: StripeError, started: float) -> bool:
    now = clock.now()
    when = RetryPolicy.from_settings().next_attempt_at(
        attempts=step_run.attempts,
        created_at=step_run.created_at,
        now=now,
        retry_after=exc.retry_after,
    )
    error = error_of(exc, exc.to_dict())
    if when is None:
        error["message"] = f"{error['message']} (gave up after {step_run.attempts} attempts)"
        return fail(step_run, error, started)
    updated = _ours(step_run).update(
        status=RunStatus.RETRYING,
        input=step_run.input,
        next_attempt_at=when,
        error=error,
        request_id=exc.request_id or "",
        duration_ms=_elapsed_ms(started),
        claimed_at=None,
    )
    metrics.step_attempted(RunStatus.RETRYING, time.monotonic() - started)
    if updated:
        step_run.status, step_run.next_attempt_at = RunStatus.RETRYING, when
        Run.objects.filter(pk=step_run.run_id).exclude(status__in=Run.FINAL).update(
            status=RunStatus.RETRYING, updated_at=now
        )
    return False


def hand_off(step_run: StepRun, run: Run, request_id: str | None, started: float) -> bool:
    """Give a for-each step whose task budget is used to a new task; always False.

    While the claim is ours the step becomes pending again with its attempt given
    back (a hand-off is no failure: a long list never nears ``WORKFLOW_MAX_ATTEMPTS``),
    its items done kept in ``output`` and no error; the run is pending too (waiting
    for a worker, so it can be canceled), and a new task is enqueued once this
    commits. That task claims the step and goes on at the first item not done, with
    the same keys. A stale claim writes nothing.
    """
    now = clock.now()
    with transaction.atomic():
        updated = _ours(step_run).update(
            status=RunStatus.PENDING,
            attempts=F("attempts") - 1,
            claimed_at=None,
            next_attempt_at=None,
            error=None,
            request_id=request_id or "",
            duration_ms=_elapsed_ms(started),
        )
        if not updated:
            return False
        Run.objects.filter(pk=step_run.run_id).exclude(status__in=Run.FINAL).update(
            status=RunStatus.PENDING, updated_at=now
        )
        enqueue_run_on_commit(step_run.run_id)
    step_run.status, step_run.claimed_at, step_run.error = RunStatus.PENDING, None, None
    step_run.attempts -= 1
    run.status = RunStatus.PENDING
    logger.info("Run %s: step %s handed to a new task", step_run.run_id, step_run.step_name)
    return False


def fail(step_run: StepRun, error: dict, started: float) -> bool:
    """Fail the step; True when the run continues (on_failure == continue)."""
    now = clock.now()
    updated = _ours(step_run).update(
        status=RunStatus.FAILED,
        input=step_run.input,
        error=error,
        request_id=error.get("request_id") or "",
        duration_ms=_elapsed_ms(started),
        finished_at=now,
        claimed_at=None,
    )
    metrics.step_attempted(RunStatus.FAILED, time.monotonic() - started)
    if not updated:
        return False
    metrics.step_finished(RunStatus.FAILED, step_run.attempts)
    step_run.status = RunStatus.FAILED
    return after_failure(step_run, now)


def stop_disabled(step_run: StepRun, exc: ConnectionDisabled, started: float) -> bool:
    """Fail the step (``connection_disabled``) and stop the run, whatever on_failure says.

    Every later step would use the same key; staff enable the connection, then resume.
    """
    step_run.on_failure = Step.OnFailure.STOP
    return fail(step_run, error_of(exc, exc.to_dict()), started)


def after_failure(step_run: StepRun, now: datetime) -> bool:
    """The run after a failed step: True when it goes on (on_failure == continue)."""
    if step_run.on_failure == Step.OnFailure.CONTINUE:
        return True
    StepRun.objects.filter(run_id=step_run.run_id, status=RunStatus.PENDING).update(
        status=RunStatus.SKIPPED, finished_at=now
    )
    finish_run(step_run.run_id)
    return False


def give_up(step_run: StepRun) -> bool:
    """Fail a step that has used ``max_attempts()`` attempts, sending nothing again.

    True when the run goes on. The error keeps the last attempt's (often
    ``worker_lost``: its outcome is unknown, Stripe may have applied it).
    """
    now = clock.now()
    last = (step_run.error or {}).get("message", "")
    error = {
        "type": "attempts_exhausted",
        "message": f"Stopped after {step_run.attempts} attempts (WORKFLOW_MAX_ATTEMPTS); "
        "no request is sent again." + (f" Last attempt: {last}" if last else ""),
    }
    updated = StepRun.objects.filter(
        pk=step_run.pk,
        status__in=[RunStatus.PENDING, RunStatus.RETRYING],
        attempts__gte=max_attempts(),
    ).update(status=RunStatus.FAILED, error=error, next_attempt_at=None, finished_at=now)
    if not updated:
        return False
    metrics.step_finished(RunStatus.FAILED, step_run.attempts)
    step_run.status, step_run.error = RunStatus.FAILED, error
    return after_failure(step_run, now)


def finish_run(run_id: int, failed: list[StepRun] | None = None) -> None:
    """Record the run's outcome from its steps: failed if any step failed.

    The one place a run ends failed: its alert is enqueued after commit (workflows.alerts).
    """
    if failed is None:
        failed = list(
            StepRun.objects.filter(run_id=run_id, status=RunStatus.FAILED).order_by("order", "id")
        )
    summary = "; ".join(f"{s.step_name}: {s.error_message}" for s in failed)
    now = clock.now()
    unfinished = Run.objects.filter(pk=run_id).exclude(status__in=Run.FINAL)
    ended = unfinished.update(
        status=RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
        error=summary[:2000],
        finished_at=now,
        updated_at=now,
    )
    if ended and failed:
        alerts.alert_on_commit(run_id)
    if ended:
        metrics.run_finished(RunStatus.FAILED if failed else RunStatus.SUCCEEDED)


# -- the sweeper ----------------------------------------------------------------


def sweep() -> dict[str, int]:
    """Recover stale claims, then wake runs with due retries or lost wake-ups."""
    now = clock.now()
    recovered = recover_stale_claims(now)
    due = set(
        StepRun.objects.filter(status=RunStatus.RETRYING, next_attempt_at__lte=now)
        .values_list("run_id", flat=True)
        .distinct()[:1000]
    )
    # A run whose wake-up was lost (a crash between commit and enqueue, a
    # dropped task): pending or between steps, and untouched for a lease.
    lost = set(
        Run.objects.filter(
            status__in=[RunStatus.PENDING, RunStatus.RUNNING], updated_at__lt=now - claim_lease()
        )
        .exclude(step_runs__status=RunStatus.RUNNING)
        .values_list("id", flat=True)[:1000]
    )
    for run_id in sorted(due | lost):
        enqueue_run(run_id)
    return {"recovered": recovered, "woken": len(due | lost)}


def recover_stale_claims(now: datetime) -> int:
    """Hand steps claimed by a dead worker back for a retry with the same key.

    The lost attempt was counted when it was claimed: a step at the ceiling is
    handed back only to be failed by ``give_up``, with no request.
    """
    stale = StepRun.objects.filter(status=RunStatus.RUNNING, claimed_at__lt=now - claim_lease())
    recovered = 0
    for step_run in stale.only("id", "claimed_at")[:1000]:
        recovered += StepRun.objects.filter(
            pk=step_run.pk, status=RunStatus.RUNNING, claimed_at=step_run.claimed_at
        ).update(
            status=RunStatus.RETRYING,
            next_attempt_at=now,
            claimed_at=None,
            error={
                "type": "worker_lost",
                "message": "The worker stopped during this step; "
                "it is retried with the same idempotency key.",
            },
        )
    return recovered
