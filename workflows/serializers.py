"""The workflow serializer: the one validation of a workflow with its steps.

Used by the REST API (``workflows.api``) and by importing and copying workflows
(``workflows.portable``), so a workflow saved any of these ways is checked alike: the
model's ``clean`` (trigger, schedule, filters, the custom trigger's event type), and
``services.check_steps`` for every step (mapping, condition, for-each). Errors name the
bad field by its path (``steps[1].input.customer``, ``steps[0].condition``); doubtful
references come back as ``warnings``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from connections.models import Connection
from konnectify.platform.api import examples
from konnectify.platform.api.base import StrictFields
from konnectify.platform.api.schema import FieldErrorSerializer
from stripe_connector.catalog import ACTIONS, TRIGGERS
from workflows import hints, services
from workflows.models import (
    DEFAULT_MAX_ITEMS,
    FOR_EACH_CEILING,
    MAX_ALERT_EMAILS,
    SCHEDULE_TRIGGER,
    Match,
    Step,
    Workflow,
    validate_alert_emails,
)


class StepSerializer(StrictFields, serializers.ModelSerializer):
    """One step; its position in ``steps`` is its order."""

    action_key = serializers.ChoiceField(
        choices=list(ACTIONS), help_text="An action from /api/v1/catalog/actions/."
    )
    input = examples.json_object(
        examples.MAPPING,
        serializers.DictField,
        source="input_mapping",
        required=False,
        default=dict,
        help_text="The action's input: literals, or references like "
        "{{ trigger.data.object.customer }} and {{ steps.<earlier step>.id }}.",
    )
    condition = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text=Step._meta.get_field("condition").help_text,
    )
    condition_match = serializers.ChoiceField(
        Match.choices, required=False, help_text=Step._meta.get_field("condition_match").help_text
    )
    for_each = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=Step._meta.get_field("for_each").max_length,
        help_text=Step._meta.get_field("for_each").help_text,
    )
    max_items = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=FOR_EACH_CEILING,
        help_text=Step._meta.get_field("max_items").help_text,
    )

    class Meta:
        model = Step
        fields = [
            "id",
            "order",
            "name",
            "action_key",
            "input",
            "on_failure",
            "condition",
            "condition_match",
            "for_each",
            "max_items",
        ]
        read_only_fields = ["id", "order"]

    def validate(self, attrs: dict) -> dict:
        """Steps are always given whole, even in a PATCH (which DRF would make partial)."""
        missing = {
            name: [self.error_messages.get("required", "This field is required.")]
            for name in ("name", "action_key")
            if name not in attrs
        }
        if missing:
            raise exceptions.ValidationError(missing)
        for name, value in step_defaults().items():
            attrs.setdefault(name, value)
        return attrs


def step_defaults() -> dict[str, Any]:
    """A step's optional fields as a step given without them gets them (new values each)."""
    return {
        "input_mapping": {},
        "on_failure": Step.OnFailure.STOP,
        "condition": [],
        "condition_match": Match.ALL,
        "for_each": "",
        "max_items": DEFAULT_MAX_ITEMS,
    }


@extend_schema_field(FieldErrorSerializer(many=True))
class WarningsField(serializers.SerializerMethodField):
    """Doubtful references found while saving (only in create/update answers)."""


class WorkflowSerializer(StrictFields, serializers.ModelSerializer):
    """A workflow: a trigger on one connection, optional filters, and its steps in order."""

    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(),
        pk_field=serializers.UUIDField(),
        help_text="The connection whose events start the workflow and whose key its steps use.",
    )
    trigger_key = serializers.ChoiceField(
        choices=[*TRIGGERS, SCHEDULE_TRIGGER],
        help_text="A trigger from /api/v1/catalog/triggers/, 'custom' (with custom_event_type) "
        "or 'schedule' (with schedule_cron or schedule_minutes). A field of another trigger "
        "kind given with a value is refused on that field; changing the trigger clears the "
        "stored ones.",
    )
    filters = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text=Workflow._meta.get_field("filters").help_text,
    )
    steps = StepSerializer(
        many=True,
        required=False,
        help_text="The steps in order. On update the list replaces all steps (steps keep their "
        "identity by name); leave it out to keep them.",
    )
    warnings = WarningsField(
        help_text="Doubtful references found when saving, e.g. a trigger path absent from the "
        "sample event, and samples a save cleared (field sample_event: the trigger or the "
        "connection changed; steps[i].action_key: the step's action changed, so its Test a "
        "step output went) (create and update answers; empty otherwise)."
    )
    alert_emails = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=MAX_ALERT_EMAILS,
        help_text=Workflow._meta.get_field("alert_emails").help_text,
    )

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "connection",
            "trigger_key",
            "custom_event_type",
            "event_type",
            "schedule_cron",
            "schedule_minutes",
            "filters",
            "active",
            "alert_emails",
            "alert_chat",
            "steps",
            "warnings",
            "copied_from",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["event_type", "copied_from"]

    def get_warnings(self, workflow: Workflow) -> list[dict]:
        return getattr(workflow, "api_warnings", [])

    def validate_alert_emails(self, value: list[str]) -> list[str]:
        """Each address checked by the child field; the model's rule (no address twice)."""
        try:
            validate_alert_emails(value)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs: dict) -> dict:
        candidate = self._candidate(attrs)
        steps = attrs.get("steps")
        if steps is None and self.instance is not None:
            steps = [self._as_data(step) for step in self.instance.steps.all()]
        # 403 naming the connection: steps or activation spend its key as this user.
        services.authorize_save(self._user(), candidate, has_steps=bool(steps), steps=steps)
        if candidate.owner_id is not None:
            attrs["owner"] = candidate.owner
        # Every problem at once: the workflow's own and its steps'.
        found = self._workflow_errors(candidate)
        try:
            attrs["warnings"] = self._check_steps(candidate, steps or [])
        except exceptions.ValidationError as exc:
            found.update(exc.detail)
        if found:
            raise exceptions.ValidationError(found)
        return attrs

    def _user(self):
        """Who saves: the context's ``user`` (imports, copies), else the request's."""
        if "user" in self.context:
            return self.context["user"]
        return self.context["request"].user

    def _candidate(self, attrs: dict) -> Workflow:
        """An unsaved workflow with the new values, to validate (the instance stays as it was).

        A trigger field the new trigger kind does not use is cleared when it comes from
        the stored workflow (a PATCH changing the trigger only); given in this request
        with a value, ``Workflow.clean`` refuses it on its field.
        """
        candidate = copy.copy(self.instance) if self.instance is not None else Workflow()
        for name, value in attrs.items():
            if name != "steps":
                setattr(candidate, name, value)
        for name in candidate.fields_not_for_trigger():
            if name not in attrs:
                attrs[name] = Workflow._meta.get_field(name).get_default()
                setattr(candidate, name, attrs[name])
        return candidate

    @staticmethod
    def _as_data(step: Step) -> dict[str, Any]:
        return {
            "name": step.name,
            "action_key": step.action_key,
            **{name: getattr(step, name) for name in step_defaults()},
        }

    @staticmethod
    def _workflow_errors(candidate: Workflow) -> dict[str, list[str]]:
        """Admin's checks: the model's ``clean``, errors by field (empty when it passes)."""
        found: dict[str, list[str]] = {}
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            for field, messages in detail.items():
                key = "non_field_errors" if field in ("", "__all__") else field
                found.setdefault(key, []).extend(messages)
        return found

    @staticmethod
    def _check_steps(candidate: Workflow, steps: list[dict]) -> list[dict]:
        """Names unique, every mapping checked by ``services.check_steps``; returns warnings
        (theirs, and ``hints.step_warnings``: a credential that does not exist, a secret
        typed into an HTTP request step)."""
        problems: list[dict[str, list[str]]] = [{} for _ in steps]
        seen: set[str] = set()
        for index, step in enumerate(steps):
            if step["name"] in seen:
                problems[index]["name"] = ["Another step of this workflow has this name."]
            seen.add(step["name"])
        warnings = []
        for index, report in enumerate(services.check_steps(candidate, steps)):
            for error in report.errors:
                key = "action_key" if step_action_missing(steps[index]) else step_path(error)
                problems[index].setdefault(key, []).append(error["message"])
            warnings += [
                {"field": f"steps[{index}].{step_path(w)}", "message": w["message"]}
                for w in report.warnings
            ]
        for index, found in enumerate(hints.step_warnings(steps)):
            warnings += [
                {"field": f"steps[{index}].input.{w['field']}", "message": w["message"]}
                for w in found
            ]
        if any(problems):
            raise exceptions.ValidationError({"steps": problems})
        return warnings

    @transaction.atomic
    def create(self, validated_data: dict) -> Workflow:
        return self._save(Workflow(), validated_data)

    @transaction.atomic
    def update(self, instance: Workflow, validated_data: dict) -> Workflow:
        return self._save(instance, validated_data)

    @staticmethod
    def _save(workflow: Workflow, data: dict) -> Workflow:
        """Save the workflow, then replace its steps; one transaction, nothing half-written."""
        steps, warnings = data.pop("steps", None), data.pop("warnings", [])
        for name, value in data.items():
            setattr(workflow, name, value)
        services.save_workflow(workflow)
        if workflow.samples_cleared:
            warnings.append({"field": "sample_event", "message": workflow.samples_cleared})
        if steps is not None:
            for index, step in enumerate(replace_steps(workflow, steps)):
                if step.sample_cleared:
                    message = services.step_sample_cleared(step)
                    warnings.append({"field": f"steps[{index}].action_key", "message": message})
        workflow.api_warnings = warnings
        return workflow


def step_action_missing(step: dict) -> bool:
    return step.get("action_key") not in ACTIONS


def step_path(problem: dict) -> str:
    """Where a ``services.check_steps`` problem is, as a path from the step.

    A step-level field (``services.STEP_FIELDS``: ``condition``, ``for_each``,
    ``max_items``...) stays as it is; any other field is the input's
    (``check_mapping`` names it relative to the input): ``input.customer``, or ``input``.
    """
    field = problem["field"]
    if re.split(r"[.\[]", field, maxsplit=1)[0] in services.STEP_FIELDS:
        return field
    return f"input.{field}" if field else "input"


def replace_steps(workflow: Workflow, steps: list[dict]) -> list[Step]:
    """Make the workflow's steps exactly ``steps``, in order; returns the saved rows.

    A step keeps its row (and so its runs' link to it) when a step of the same
    name is still there; others are deleted first, so no two rows ever share a
    name, even for a moment. A kept row whose action changes loses its Test a
    step output (``Step.save``, ``sample_cleared``).
    """
    wanted = [step["name"] for step in steps]
    workflow.steps.exclude(name__in=wanted).delete()
    existing = {step.name: step for step in workflow.steps.all()}
    saved: list[Step] = []
    for order, data in enumerate(steps, start=1):
        step = existing.get(data["name"]) or Step(workflow=workflow, name=data["name"])
        step.order = order
        step.action_key = data["action_key"]
        step.input_mapping = data.get("input_mapping") or {}
        for name, default in step_defaults().items():
            if name != "input_mapping":
                setattr(step, name, data.get(name, default))
        step.save()
        saved.append(step)
    return saved
