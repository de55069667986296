"""Trying a workflow before going live: the sample event, a test step, field help."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from stripe_connector.catalog import get_action, get_trigger
from stripe_connector.errors import ActionInputError, StripeError
from workflows.engine import bounded_input, json_safe
from workflows.mapping import MappingError, build_context, refuse_empty_write, render_input
from workflows.models import RunStatus, Step, StepRun, Workflow
from workflows.sandbox import render_limits

logger = logging.getLogger(__name__)
MAX_PATHS = 300


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


def latest_outputs(workflow: Workflow) -> dict[str, Any]:
    """Each step's most recent successful output, by step name."""
    outputs: dict[str, Any] = {}
    rows = StepRun.objects.filter(run__workflow=workflow, status=RunStatus.SUCCEEDED)
    for row in rows.order_by("finished_at", "id").only("step_name", "output"):
        outputs[row.step_name] = row.output
    return outputs


def test_step(step: Step) -> dict[str, Any]:
    """Run one step FOR REAL with the sample event; nothing is recorded as a run.

    Earlier steps' references use their latest successful outputs. A fresh
    idempotency key: a test is its own request.
    """
    workflow = step.workflow
    outputs = {k: v for k, v in latest_outputs(workflow).items() if k != step.name}
    result: dict[str, Any] = {
        "input": None,
        "left_out_fields": [],
        "output": None,
        "error": None,
        "request_id": None,
    }
    try:
        action = get_action(step.action_key)
        with render_limits():
            rendered = render_input(step.input_mapping, build_context(workflow.sample(), outputs))
        result["input"] = bounded_input(rendered.values)
        result["left_out_fields"] = rendered.left_out
        refuse_empty_write(action, rendered)
        done = action.run(
            workflow.connection.client(),
            result["input"],
            idempotency_key=f"konnectify-test-{uuid.uuid4()}",
        )
        result["output"], result["request_id"] = json_safe(done.output), done.request_id
    except (MappingError, ActionInputError, StripeError) as exc:
        result["error"] = exc.to_dict()
    except KeyError as exc:
        result["error"] = {"type": "unknown_action", "message": str(exc)}
    except (ValueError, OverflowError, RecursionError) as exc:
        # What the mapping module did not foresee is shown as the engine records it, never a 500.
        logger.exception("Test of step %s failed unexpectedly", step.pk)
        result["error"] = {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
    result["ok"] = result["error"] is None
    return result


def action_fields(action_key: str) -> list[dict[str, Any]]:
    """The action's input fields for the admin: name, type, required, help."""
    try:
        schema = get_action(action_key).input_schema
    except KeyError:
        return []
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": describe_type(spec),
            "required": name in required,
            "help": spec.get("description", ""),
        }
        for name, spec in schema.get("properties", {}).items()
    ]


def describe_type(spec: dict) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind:
        return kind + (f" ({', '.join(map(str, spec['enum']))})" if "enum" in spec else "")
    options = spec.get("anyOf") or spec.get("oneOf") or []
    return " or ".join(describe_type(option) for option in options) or "any"


def available_paths(step: Step) -> list[tuple[str, str]]:
    """(reference, example) pairs from the trigger's sample and earlier steps' outputs."""
    paths = flatten(step.workflow.sample(), "trigger")
    outputs = latest_outputs(step.workflow)
    earlier = step.workflow.steps.filter(order__lt=step.order).exclude(pk=step.pk)
    for other in earlier:
        if other.name in outputs:
            paths += flatten(outputs[other.name], f"steps.{other.name}")
        else:
            paths.append((f"steps.{other.name}", "(its fields appear after a first run)"))
    return paths[:MAX_PATHS]


def flatten(value: Any, prefix: str) -> list[tuple[str, str]]:
    """Leaf paths of a JSON value with short example values; lists show their first item."""
    if isinstance(value, dict):
        items: list[tuple[str, str]] = []
        for key, item in value.items():
            items += flatten(
                item, f"{prefix}.{key}" if key.isidentifier() else f"{prefix}['{key}']"
            )
        return items
    if isinstance(value, list):
        return flatten(value[0], f"{prefix}[0]") if value else [(prefix, "[]")]
    return [(prefix, repr(value)[:40])]
