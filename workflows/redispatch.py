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

from connections.models import InboxEvent
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
        existing = Run.objects.filter(workflow=workflow, event=event).order_by("replay").first()
        return outcome(
            ALREADY_RAN,
            existing.pk if existing else None,
            "The event already started a run of this workflow (re-run that run to run it again).",
        )
    if run.status == RunStatus.SKIPPED:
        return outcome(FILTERED_OUT, run.pk, run.error)
    return outcome(CREATED, run.pk, "A run was created and queued.")


def dispatch_again_from_admin(event: InboxEvent) -> list[str]:
    """``dispatch_again`` for admin's "Dispatch again": one line per workflow, for people
    (``Workflow 'Sync' (#3): created run 12.``), or one saying no workflow waits."""
    outcomes = dispatch_again(event, via="admin")
    if not outcomes:
        return [f"No workflow of its connection waits for {event.type}."]
    return [f"Workflow {o.workflow_name!r} (#{o.workflow}): {describe(o)}" for o in outcomes]


def describe(outcome: Outcome) -> str:
    """What happened for one workflow, in a few words."""
    if outcome.result == CREATED:
        return f"created run {outcome.run}."
    if outcome.result == ALREADY_RAN:
        return f"already ran as run {outcome.run} (re-run that run to run it again)."
    if outcome.result == FILTERED_OUT:
        return f"filtered out, recorded as skipped run {outcome.run}: {outcome.message}"
    return "inactive: activate it first."
