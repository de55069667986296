"""REST API for workflows (with their steps) and runs (with their step runs).

A workflow is validated as admin validates it: the model's ``clean`` (trigger,
schedule, filters, the custom trigger's event type), and
``services.check_steps`` for every step's mapping. Errors name the bad field by
its path (``steps[1].input.customer``); doubtful references come back as
``warnings`` in the success body, as admin shows them as warning messages.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connections.models import Connection
from connections.permissions import require_use
from konnectify.platform.api.base import (
    IntegerIds,
    JsonOnly,
    StrictFields,
    conflict,
    date_range_parameters,
    filter_choice,
    filter_date_range,
    filter_id,
)
from konnectify.platform.api.permissions import requires
from konnectify.platform.api.schema import FieldErrorSerializer, errors
from stripe_connector.catalog import ACTIONS, TRIGGERS
from workflows import services
from workflows.models import SCHEDULE_TRIGGER, Run, RunStatus, Step, StepRun, Workflow

# --- workflows and steps -------------------------------------------------------------


class StepSerializer(StrictFields, serializers.ModelSerializer):
    """One step; its position in ``steps`` is its order."""

    action_key = serializers.ChoiceField(
        choices=list(ACTIONS), help_text="An action from /api/v1/catalog/actions/."
    )
    input = serializers.DictField(
        source="input_mapping",
        required=False,
        default=dict,
        help_text="The action's input: literals, or references like "
        "{{ trigger.data.object.customer }} and {{ steps.<earlier step>.id }}.",
    )

    class Meta:
        model = Step
        fields = ["id", "order", "name", "action_key", "input", "on_failure"]
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
        attrs.setdefault("input_mapping", {})
        attrs.setdefault("on_failure", Step.OnFailure.STOP)
        return attrs


@extend_schema_field(FieldErrorSerializer(many=True))
class WarningsField(serializers.SerializerMethodField):
    """Doubtful references found while saving (only in create/update answers)."""


class WorkflowSerializer(StrictFields, serializers.ModelSerializer):
    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(),
        pk_field=serializers.UUIDField(),
        help_text="The connection whose events start the workflow and whose key its steps use.",
    )
    trigger_key = serializers.ChoiceField(
        choices=[*TRIGGERS, SCHEDULE_TRIGGER],
        help_text="A trigger from /api/v1/catalog/triggers/, 'custom' (with custom_event_type) "
        "or 'schedule' (with schedule_cron or schedule_minutes).",
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
        "sample event (create and update answers; empty otherwise)."
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
            "steps",
            "warnings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["event_type"]

    def get_warnings(self, workflow: Workflow) -> list[dict]:
        return getattr(workflow, "api_warnings", [])

    def validate(self, attrs: dict) -> dict:
        candidate = self._candidate(attrs)
        steps = attrs.get("steps")
        if steps is None and self.instance is not None:
            steps = [self._as_data(step) for step in self.instance.steps.all()]
        # 403 naming the connection: steps or activation spend its key as this user.
        services.authorize_save(self.context["request"].user, candidate, has_steps=bool(steps))
        if candidate.owner_id is not None:
            attrs["owner"] = candidate.owner
        self._check_workflow(candidate, attrs)
        attrs["warnings"] = self._check_steps(candidate, steps or [])
        return attrs

    def _candidate(self, attrs: dict) -> Workflow:
        """An unsaved workflow with the new values, to validate (the instance stays as it was)."""
        candidate = copy.copy(self.instance) if self.instance is not None else Workflow()
        for name, value in attrs.items():
            if name != "steps":
                setattr(candidate, name, value)
        return candidate

    @staticmethod
    def _as_data(step: Step) -> dict[str, Any]:
        return {
            "name": step.name,
            "action_key": step.action_key,
            "input_mapping": step.input_mapping,
        }

    @staticmethod
    def _check_workflow(candidate: Workflow, attrs: dict) -> None:
        """Admin's checks: the model's ``clean``, errors by field."""
        found: dict[str, list[str]] = {}
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            for field, messages in detail.items():
                key = "non_field_errors" if field in ("", "__all__") else field
                found.setdefault(key, []).extend(messages)
        if found:
            raise exceptions.ValidationError(found)

    @staticmethod
    def _check_steps(candidate: Workflow, steps: list[dict]) -> list[dict]:
        """Names unique, every mapping checked by ``services.check_steps``; returns warnings."""
        problems: list[dict[str, list[str]]] = [{} for _ in steps]
        seen: set[str] = set()
        for index, step in enumerate(steps):
            if step["name"] in seen:
                problems[index]["name"] = ["Another step of this workflow has this name."]
            seen.add(step["name"])
        warnings = []
        for index, report in enumerate(services.check_steps(candidate, steps)):
            for error in report.errors:
                key = "action_key" if step_action_missing(steps[index]) else _input_path(error)
                problems[index].setdefault(key, []).append(error["message"])
            warnings += [
                {"field": f"steps[{index}].{_input_path(w)}", "message": w["message"]}
                for w in report.warnings
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
        if steps is not None:
            replace_steps(workflow, steps)
        workflow.api_warnings = warnings
        return workflow


def step_action_missing(step: dict) -> bool:
    return step.get("action_key") not in ACTIONS


def _input_path(problem: dict) -> str:
    """``check_mapping``'s field (relative to the input) as a path from the step."""
    return f"input.{problem['field']}" if problem["field"] else "input"


def replace_steps(workflow: Workflow, steps: list[dict]) -> None:
    """Make the workflow's steps exactly ``steps``, in order.

    A step keeps its row (and so its runs' link to it) when a step of the same
    name is still there; others are deleted first, so no two rows ever share a
    name, even for a moment.
    """
    wanted = [step["name"] for step in steps]
    workflow.steps.exclude(name__in=wanted).delete()
    existing = {step.name: step for step in workflow.steps.all()}
    for order, data in enumerate(steps, start=1):
        step = existing.get(data["name"]) or Step(workflow=workflow, name=data["name"])
        step.order = order
        step.action_key = data["action_key"]
        step.input_mapping = data.get("input_mapping") or {}
        step.on_failure = data.get("on_failure", Step.OnFailure.STOP)
        step.save()


WORKFLOW_FILTERS = [
    OpenApiParameter("connection", OpenApiTypes.UUID, description="A connection's id."),
    OpenApiParameter("active", OpenApiTypes.BOOL),
    OpenApiParameter("trigger_key", OpenApiTypes.STR),
]


@extend_schema(tags=["workflows"])
@extend_schema_view(
    list=extend_schema(summary="List workflows with their steps", parameters=WORKFLOW_FILTERS),
    create=extend_schema(summary="Create a workflow with its steps"),
    update=extend_schema(summary="Replace a workflow and all its steps"),
    partial_update=extend_schema(summary="Change a workflow (steps, when given, are replaced)"),
    destroy=extend_schema(summary="Delete a workflow and its runs"),
)
class WorkflowViewSet(IntegerIds, JsonOnly, viewsets.ModelViewSet):
    """Workflows: a trigger on one connection, and the steps it runs."""

    queryset = Workflow.objects.prefetch_related("steps")
    serializer_class = WorkflowSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        params = self.request.query_params
        queryset = filter_id(queryset, params, "connection", "connection_id", parse=uuid.UUID)
        active = params.get("active")
        if active not in (None, "", "true", "false"):
            raise exceptions.ValidationError({"active": ["Must be true or false."]})
        if active:
            queryset = queryset.filter(active=active == "true")
        if params.get("trigger_key"):
            queryset = queryset.filter(trigger_key=params["trigger_key"])
        return queryset

    @extend_schema(summary="Activate a workflow", request=None, responses={200: WorkflowSerializer})
    @action(
        detail=True, methods=["post"], permission_classes=[requires("workflows.change_workflow")]
    )
    def activate(self, request, pk=None) -> Response:
        return self._set_active(True)

    @extend_schema(
        summary="Deactivate a workflow", request=None, responses={200: WorkflowSerializer}
    )
    @action(
        detail=True, methods=["post"], permission_classes=[requires("workflows.change_workflow")]
    )
    def deactivate(self, request, pk=None) -> Response:
        return self._set_active(False)

    def _set_active(self, active: bool) -> Response:
        """As admin's actions (``services.set_active``): the schedule and the endpoint follow.

        Activating acts with the connection's key: the caller must be allowed to use it
        and becomes the owner (403 otherwise). Deactivating needs no such right.
        """
        workflow = services.set_active(self.get_object(), active, self.request.user)
        return Response(WorkflowSerializer(workflow).data)


# --- runs ------------------------------------------------------------------------------


class StepRunSerializer(serializers.ModelSerializer):
    input_mapping = serializers.JSONField(help_text="The step's mapping, copied at creation.")
    input = serializers.JSONField(help_text="The rendered input, fixed at the first attempt.")
    left_out_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="Fields whose reference rendered null or empty and were left out of the "
        'request (e.g. "metadata.source"); a literal "" is sent, to clear a field.',
    )
    output = serializers.JSONField(help_text="What Stripe answered.")
    error = serializers.JSONField(
        help_text="Stripe's type, code, message, param, HTTP status and Request-Id."
    )

    class Meta:
        model = StepRun
        fields = [
            "id",
            "order",
            "step",
            "step_name",
            "action_key",
            "input_mapping",
            "on_failure",
            "status",
            "attempts",
            "next_attempt_at",
            "idempotency_key",
            "input",
            "left_out_fields",
            "output",
            "error",
            "request_id",
            "duration_ms",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    connection = serializers.UUIDField(source="workflow.connection_id", read_only=True)
    stripe_event_id = serializers.CharField(
        source="event.stripe_event_id", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "connection",
            "event",
            "stripe_event_id",
            "scheduled_for",
            "replay",
            "status",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    step_runs = StepRunSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "step_runs"]
        read_only_fields = fields


RUN_FILTERS = [
    OpenApiParameter("workflow", OpenApiTypes.INT, description="A workflow's id."),
    OpenApiParameter("connection", OpenApiTypes.UUID, description="A connection's id."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=RunStatus.values),
    *date_range_parameters("creation time", "created"),
]
REPLAY_ERRORS = errors(409, _409="The run's state does not allow this (e.g. it did not fail).")


@extend_schema(tags=["runs"])
@extend_schema_view(
    list=extend_schema(summary="List runs, newest first", parameters=RUN_FILTERS),
    retrieve=extend_schema(summary="One run with its step runs"),
)
class RunViewSet(
    IntegerIds, JsonOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Runs of workflows: one per event (or schedule tick), with each step's attempts."""

    queryset = Run.objects.select_related("workflow", "event").defer("event__payload")
    serializer_class = RunSerializer

    def get_serializer_class(self):
        return RunSerializer if self.action == "list" else RunDetailSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset.prefetch_related("step_runs")
        params = self.request.query_params
        queryset = filter_id(queryset, params, "workflow", "workflow_id")
        queryset = filter_id(
            queryset, params, "connection", "workflow__connection_id", parse=uuid.UUID
        )
        queryset = filter_choice(queryset, params, "status", "status", RunStatus.values)
        return filter_date_range(queryset, params, "created_at", "created")

    @extend_schema(
        summary="Resume a failed run from its failed step",
        request=None,
        responses={200: RunDetailSerializer, **REPLAY_ERRORS},
    )
    @action(detail=True, methods=["post"], permission_classes=[requires("workflows.change_run")])
    def resume(self, request, pk=None) -> Response:
        """Needs the right to use the run's connection too: its steps call Stripe again."""
        replayed = self.get_object()
        require_use(request.user, replayed.workflow.connection)
        try:
            run = services.resume_run(replayed)
        except services.ReplayError as exc:
            return conflict(str(exc))
        return Response(RunDetailSerializer(self._fresh(run)).data)

    @extend_schema(
        summary="Run the workflow again from the start, as a new run",
        description="Idempotent: a run is re-run once. 201 with the new run; 200 with the "
        "run that already re-runs it when it was re-run before (or by a concurrent request). "
        "409 when the run is in progress or its connection is disabled.",
        request=None,
        responses={201: RunDetailSerializer, 200: RunDetailSerializer, **REPLAY_ERRORS},
    )
    @action(detail=True, methods=["post"], permission_classes=[requires("workflows.add_run")])
    def rerun(self, request, pk=None) -> Response:
        """Creates a run (``add_run``) whose steps call Stripe (use of the connection)."""
        replayed = self.get_object()
        require_use(request.user, replayed.workflow.connection)
        try:
            run, created = services.start_rerun(replayed)
        except services.ReplayError as exc:
            return conflict(str(exc))
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(RunDetailSerializer(self._fresh(run)).data, answer)

    @staticmethod
    def _fresh(run: Run) -> Run:
        return Run.objects.select_related("workflow", "event").get(pk=run.pk)
