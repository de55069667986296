"""Trying a workflow before going live: the sample event, a test step, field help."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from django.db.models import Q
from jinja2 import TemplateSyntaxError

from connections.outbound import client_for, refuse_credential_reference
from stripe_connector.catalog import get_action, get_trigger
from stripe_connector.catalog.http import is_http_action
from stripe_connector.errors import ActionInputError, StripeError
from workflows import clock
from workflows.engine import (
    about_item,
    bounded_input,
    bounded_inputs,
    check_item_count,
    error_of,
    item_key,
    json_safe,
    refuse_bad_condition,
    render_items,
    resolve_items,
)
from workflows.filters import check_filters, condition_holds
from workflows.mapping import (
    MappingError,
    build_context,
    references,
    refuse_empty_write,
    render_input,
)
from workflows.models import RunStatus, Step, StepRun, Workflow
from workflows.sandbox import render_limits

logger = logging.getLogger(__name__)
MAX_SAMPLE_ROWS = 2000
SAMPLE_VALUE_CHARS = 200
CATALOG_SAMPLE_HINT = (
    "The sample event is the catalog's made-up example: its ids do not exist in your "
    "Stripe account, so Stripe answered that the object is missing. Load a sample event "
    "(the latest of this type from Stripe), then test again."
)


def load_sample_event(workflow: Workflow) -> str:
    """Store the latest event of the trigger's type from Stripe, else the catalog's sample.

    Returns where it came from ("Stripe" or "the catalog").
    """
    sample, source = None, "the catalog"
    if workflow.event_type:
        try:
            response = workflow.connection.client().get(
                "/v1/events", {"type": workflow.event_type, "limit": 1}
            )
            events = response.data.get("data") or []
            if events:
                sample, source = events[0], "Stripe"
        except StripeError as exc:
            logger.info("No sample from Stripe for workflow %s: %s", workflow.pk, exc)
    if sample is None:
        sample = catalog_sample(workflow)
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=sample)
    workflow.sample_event = sample
    return source


def catalog_sample(workflow: Workflow) -> dict:
    if workflow.is_scheduled:
        return workflow.sample()
    try:
        return get_trigger(workflow.trigger_key).sample_event(workflow.custom_event_type or None)
    except KeyError:
        return {}


def uses_catalog_sample(workflow: Workflow) -> bool:
    """Whether the sample is the catalog's invented event, whose ids Stripe does not know.

    So it is while nothing was loaded (``sample_event`` empty), and after a load that
    found no event of the type in Stripe. A schedule's sample holds no Stripe ids.
    """
    if workflow.is_scheduled:
        return False
    return not workflow.sample_event or workflow.sample_event == catalog_sample(workflow)


def latest_outputs(workflow: Workflow) -> dict[str, Any]:
    """Each step's output to test and check later steps with, by step name.

    The output recorded by its last successful Test a step (``Step.sample_output``),
    else its most recent successful run's, when that run's step had the step's current
    action and its event came from the workflow's current connection (another account's
    ids would be sent with this account's key).
    """
    outputs: dict[str, Any] = {}
    actions = dict(workflow.steps.values_list("name", "action_key"))
    rows = StepRun.objects.filter(run__workflow=workflow, status=RunStatus.SUCCEEDED).filter(
        Q(run__event__isnull=True) | Q(run__event__connection_id=workflow.connection_id)
    )
    for row in rows.order_by("finished_at", "id").only("step_name", "action_key", "output"):
        if actions.get(row.step_name) == row.action_key:
            outputs[row.step_name] = row.output
    for name, output in workflow.steps.filter(sample_output_at__isnull=False).values_list(
        "name", "sample_output"
    ):
        outputs[name] = output
    return outputs


def untested_steps(step: Step, outputs: dict[str, Any]) -> list[str]:
    """Earlier steps that ``step``'s mapping references but that have no output yet."""
    earlier = set(
        step.workflow.steps.filter(order__lt=step.order)
        .exclude(pk=step.pk)
        .values_list("name", flat=True)
    )
    missing: list[str] = []
    for reference in _step_references(step):
        parts = reference.replace("[", ".").split(".")
        name = parts[1] if parts[0] == "steps" and len(parts) > 1 else None
        if name in earlier and name not in outputs and name not in missing:
            missing.append(name)
    return missing


def _step_references(step: Step) -> Iterator[str]:
    """The paths ``step`` reads: its mapping's references, its condition's rule paths and
    its for-each path."""
    for text in _strings(step.input_mapping):
        try:
            yield from references(text)
        except TemplateSyntaxError:
            continue  # rendering names the syntax error and its field
    if isinstance(step.condition, list):
        for rule in step.condition:
            if isinstance(rule, dict) and isinstance(rule.get("path"), str):
                yield rule["path"]
    if step.for_each:
        yield step.for_each


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def is_missing_object(error: StripeError) -> bool:
    """Stripe's answer for an id it does not know: code ``resource_missing``, HTTP 404
    ("The requested resource doesn't exist", https://docs.stripe.com/api/errors)."""
    return error.code == "resource_missing" or error.http_status == 404


def test_step(step: Step, *, user=None) -> dict[str, Any]:
    """Run one step FOR REAL with the sample event; nothing is recorded as a run.

    Earlier steps' references resolve against their outputs (``latest_outputs``):
    an earlier step referenced but never tested nor run is an ``untested_step``
    error naming it. A success records its output on the step
    (``Step.sample_output``, ``sample_output_at``) for later steps' tests. A fresh
    idempotency key: a test is its own request.

    Returns {"input", "left_out_fields", "output", "error", "request_id", "ok",
    "hint", "skipped"}: ``error`` is a dict (type or error, message, ...); ``request_id`` is
    Stripe's Request-Id of the answer, an error's too (None when nothing was sent or
    Stripe sent none); ``hint`` a sentence
    or "" (``CATALOG_SAMPLE_HINT`` when Stripe does not know an id of the catalog's
    invented sample). An HTTP request step sends for ``user`` (who must hold
    ``connections.use_credential`` to use its credential); None is the operator.

    A step whose condition does not hold over the sample and the earlier steps'
    outputs sends nothing: ``ok`` False, ``error`` {"type": "condition_not_met",
    "message": "Skipped: <reason> Nothing was sent."} and ``skipped`` the reason (""
    otherwise), as a run would skip it. A for-each step runs for each item of its list
    in the sample (at most ``max_items``; every item's input is checked before the
    first call): ``input`` and ``output`` are lists (the outputs of the items done),
    ``left_out_fields`` name their item (``[1].metadata.x``), and an item's failure
    stops the test with its message prefixed ``Item i+1 of N: `` and ``"item": i``.
    """
    workflow = step.workflow
    outputs = latest_outputs(workflow)
    outputs.pop(step.name, None)
    result: dict[str, Any] = {
        "input": None,
        "left_out_fields": [],
        "output": None,
        "error": None,
        "request_id": None,
        "hint": "",
        "skipped": "",
    }
    untested = untested_steps(step, outputs)
    if untested:
        names = ", ".join(untested)
        result["error"] = {
            "type": "untested_step",
            "message": f"Test step {names} first: this step uses its output "
            f"(steps.{untested[0]}), and it has not been tested yet.",
            "steps": untested,
        }
        result["ok"] = False
        return result
    reason = condition_not_met(step, workflow.sample(), outputs)
    if reason:
        result["skipped"] = reason
        result["error"] = {
            "type": "condition_not_met",
            "message": f"Skipped: {reason} Nothing was sent.",
        }
        result["ok"] = False
        return result
    try:
        refuse_bad_condition(step)
        action = get_action(step.action_key)
        if is_http_action(action):  # a credential is a literal name, also in older steps
            refuse_credential_reference(step.input_mapping)
        if step.for_each:
            try_each_item(step, action, outputs, result, user=user)
        else:
            with render_limits():
                context = build_context(workflow.sample(), outputs)
                rendered = render_input(step.input_mapping, context)
            result["input"] = bounded_input(rendered.values)
            result["left_out_fields"] = rendered.left_out
            refuse_empty_write(action, rendered)
            done = action.run(
                client_for(action, workflow.connection, user=user, operator=user is None),
                result["input"],
                idempotency_key=f"konnectify-test-{uuid.uuid4()}",
            )
            result["output"], result["request_id"] = json_safe(done.output), done.request_id
        Step.objects.filter(pk=step.pk).update(
            sample_output=result["output"], sample_output_at=clock.now()
        )
    except StripeError as exc:
        result["error"], result["request_id"] = error_of(exc, exc.to_dict()), exc.request_id
        if is_missing_object(exc) and uses_catalog_sample(workflow):
            result["hint"] = CATALOG_SAMPLE_HINT
    except (MappingError, ActionInputError) as exc:
        result["error"] = error_of(exc, exc.to_dict())
    except KeyError as exc:
        result["error"] = {"type": "unknown_action", "message": str(exc)}
    except (ValueError, OverflowError, RecursionError) as exc:
        # What the mapping module did not foresee is shown as the engine records it, never a 500.
        logger.exception("Test of step %s failed unexpectedly", step.pk)
        result["error"] = {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
    result["ok"] = result["error"] is None
    return result


def condition_not_met(step: Step, sample: Any, outputs: dict[str, Any]) -> str:
    """Why ``step``'s condition does not hold over the sample and the earlier steps'
    outputs ("" when it holds, is empty, or is malformed: then the test names it)."""
    if not step.condition or check_filters(step.condition):
        return ""
    context = {"trigger": sample, "steps": outputs}
    return condition_holds(step.condition, context, step.condition_match)[1]


def try_each_item(
    step: Step, action: Any, outputs: dict[str, Any], result: dict, *, user=None
) -> None:
    """Test a for-each step: every item of its list in the sample, in order, each with its
    own test key (``konnectify-test-<uuid>-item-<i>``), sent for ``user``. Fills
    ``result``'s input, left_out_fields, output (the items done) and request_id; raises
    the first failure, marked as its item's (``engine.about_item``)."""
    workflow = step.workflow
    sample = workflow.sample()
    items = resolve_items(step.for_each, {"trigger": sample, "steps": outputs})
    check_item_count(len(items), step.max_items)
    context = build_context(sample, outputs)
    inputs, result["left_out_fields"] = render_items(step.input_mapping, context, items, action)
    result["input"] = bounded_inputs(inputs, 0)
    cleaned = []
    for index, values in enumerate(result["input"]):
        with about_item(index, len(items)):
            cleaned.append(action.validate(values))
    client = client_for(action, workflow.connection, user=user, operator=user is None)
    key = f"konnectify-test-{uuid.uuid4()}"
    result["output"] = []
    for index, values in enumerate(cleaned):
        with about_item(index, len(items)):
            done = action.send_validated(client, values, idempotency_key=item_key(key, index))
        result["output"].append(json_safe(done.output))
        result["request_id"] = done.request_id


def sample_rows(value: Any, prefix: str = "trigger") -> list[tuple[str, str]]:
    """(reference, JSON value) for every leaf of the sample, every list item included.

    The rows a person searches to map a field: ``("trigger.data.object.email",
    '"jenny@example.com"')``. Values are cut at ``SAMPLE_VALUE_CHARS`` characters,
    the rows at ``MAX_SAMPLE_ROWS``.
    """
    rows: list[tuple[str, str]] = []

    def walk(item: Any, path: str) -> None:
        if len(rows) >= MAX_SAMPLE_ROWS:
            return
        if isinstance(item, dict) and item:
            for key, child in item.items():
                walk(child, f"{path}.{key}" if str(key).isidentifier() else f"{path}['{key}']")
        elif isinstance(item, list) and item:
            for index, child in enumerate(item):
                walk(child, f"{path}[{index}]")
        else:
            text = json.dumps(item, ensure_ascii=False, default=str)
            cut = text[:SAMPLE_VALUE_CHARS] + ("…" if len(text) > SAMPLE_VALUE_CHARS else "")
            rows.append((path, cut))

    walk(value, prefix)
    return rows
