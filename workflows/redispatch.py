"""Dispatching an inbox event again, now, with what happened for each workflow.

The queue's ``engine.dispatch`` creates runs and answers nobody; an integrator who
asks for an event to be dispatched again wants to know, per workflow waiting for its
type: a run was created (and is queued), the workflow's filters left the event out
(a skipped run records why), the event already started a run of it (its id), or the
workflow is inactive. Runs are created by ``engine.create_run``, under the same
unique constraint, so a concurrent dispatch still creates each run once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import transaction

from connections.inbox import Dispatched
from connections.models import InboxEvent
from workflows import services
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Workflow

CREATED = "created"
FILTERED_OUT = "filtered_out"
ALREADY_RAN = "already_ran"
INACTIVE = "inactive"
RESULTS = (CREATED, FILTERED_OUT, ALREADY_RAN, INACTIVE)


@dataclass(frozen=True)
class Outcome:
    """What dispatching did for one workflow; ``run`` is the run's id (None if inactive)."""

    workflow: int
    workflow_name: str
    result: str  # one of RESULTS
    run: int | None
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def dispatch_again(event: InboxEvent, *, via: str = "the API") -> list[Outcome]:
    """Create the runs ``event`` should start, now; one Outcome per workflow, by id.

    The workflows are those of the event's connection waiting for its type, active
    or not. The caller checks that the event can be dispatched
    (``connections.inbox.undispatchable``) and the user's rights. New runs are queued
    after commit. ``via`` names who asked, in the event's status detail.
    """
    workflows = Workflow.objects.filter(
        connection_id=event.connection_id, event_type=event.type
    ).order_by("pk")
    with transaction.atomic():
        outcomes = [outcome_for(workflow, event) for workflow in workflows]
        created = sum(outcome.result == CREATED for outcome in outcomes)
        matched = any(outcome.result != INACTIVE for outcome in outcomes)
        InboxEvent.objects.filter(pk=event.pk).update(
            status=InboxEvent.Status.DISPATCHED if matched else InboxEvent.Status.IGNORED,
            status_detail=f"Dispatched again through {via}: {created} run(s) created."
            if matched
            else f"Dispatched again through {via}: no active workflow.",
        )
    return outcomes


def outcome_for(workflow: Workflow, event: InboxEvent) -> Outcome:
    """Create the workflow's run for ``event`` unless it is inactive or has one already."""

    def outcome(result: str, run: int | None, message: str) -> Outcome:
        return Outcome(workflow.pk, workflow.name, result, run, message)

    if not workflow.active:
        return outcome(INACTIVE, None, "The workflow is inactive: activate it first.")
    run = create_run(workflow, event=event)
    if run is None:
        # The latest: a run is re-run once, and its re-run in turn.
        existing = Run.objects.filter(workflow=workflow, event=event).order_by("-replay").first()
        if existing is not None and existing.status not in Run.FINAL:
            message = (
                f"The event already started a run of this workflow, still "
                f"{existing.get_status_display().lower()}: it can be re-run once it has ended."
            )
        else:
            message = (
                "The event already started a run of this workflow (re-run that run to run "
                "it again)."
            )
        return outcome(ALREADY_RAN, existing.pk if existing else None, message)
    if run.status == RunStatus.SKIPPED:
        return outcome(FILTERED_OUT, run.pk, run.error)
    return outcome(CREATED, run.pk, "A run was created and queued.")


def dispatch_again_from_admin(event: InboxEvent) -> list[Dispatched]:
    """``dispatch_again`` for admin's "Dispatch again": one Dispatched per workflow, by id
    (``str()`` of each reads ``Workflow 'Sync' (#3): created run 12.``); [] when no
    workflow of the event's connection waits for its type."""
    outcomes = dispatch_again(event, via="admin")
    statuses = dict(
        Run.objects.filter(pk__in=[o.run for o in outcomes if o.run]).values_list("pk", "status")
    )
    return [
        Dispatched(
            workflow=o.workflow,
            workflow_name=o.workflow_name,
            result=o.result,
            what=describe(o, statuses.get(o.run, "")),
            run=o.run,
            run_status=statuses.get(o.run, ""),
            rerunnable=o.result == ALREADY_RAN and statuses.get(o.run) in Run.FINAL,
        )
        for o in outcomes
    ]


def rerun_event_runs(event: InboxEvent, run_ids: list[int]) -> list[str]:
    """Re-run, from the first step, those of ``run_ids`` that ``event`` started: one line
    per run, for people (``Run 12 re-run as run 15.``).

    ``services.start_rerun``, as the runs' "Re-run from the start" action: a run is re-run
    once; one in progress, or of a disabled connection, is refused with the reason. Ids
    of other events' runs are ignored. The caller checks the user's rights (``add_run``
    and use of the event's connection).
    """
    lines = []
    for run in Run.objects.filter(event=event, pk__in=run_ids).select_related("workflow"):
        try:
            new, created = services.start_rerun(run)
        except services.ReplayError as exc:
            lines.append(f"Run {run.pk} not re-run: {exc}")
            continue
        if created:
            lines.append(f"Run {run.pk} ({run.workflow.name}) re-run as run {new.pk}.")
        else:
            lines.append(f"Run {run.pk} was re-run already, as run {new.pk}.")
    return lines


def describe(outcome: Outcome, run_status: str = "") -> str:
    """What happened for one workflow, in a few words; ``run_status`` is the status value
    of the run it names: only a finished run is offered for a re-run."""
    if outcome.result == CREATED:
        return f"created run {outcome.run}."
    if outcome.result == ALREADY_RAN:
        if run_status and run_status not in Run.FINAL:
            label = RunStatus(run_status).label.lower()
            return (
                f"already started run {outcome.run}, still {label}: "
                "it can be re-run once it has ended."
            )
        return f"already ran as run {outcome.run} (re-run that run to run it again)."
    if outcome.result == FILTERED_OUT:
        return f"filtered out, recorded as skipped run {outcome.run}: {outcome.message}"
    return "inactive: activate it first."
