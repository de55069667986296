"""REST API for workflows (with their steps) and runs (with their step runs).

A workflow is validated as admin validates it: the model's ``clean`` (trigger,
schedule, filters, the custom trigger's event type), and
``services.check_steps`` for every step's mapping. Errors name the bad field by
its path (``steps[1].input.customer``); doubtful references come back as
``warnings`` in the success body, as admin shows them as warning messages.
"""

from __future__ import annotations

import copy
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
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from connections.api import InboxEventViewSet
from connections.inbox import undispatchable
from connections.models import Connection
from connections.permissions import USE_CONNECTION, require_use
from konnectify.platform.api import examples
from konnectify.platform.api.base import (
    IntegerIds,
    JsonOnly,
    KnownQueryParameters,
    StrictFields,
    conflict,
)
from konnectify.platform.api.permissions import requires
from konnectify.platform.api.schema import FieldErrorSerializer, errors
from stripe_connector.catalog import ACTIONS, TRIGGERS
from workflows import redispatch, services, tryout
from workflows.automations import AUTOMATIONS, create_from_automation
from workflows.list_filters import RunFilter, WorkflowFilter
from workflows.models import (
    MAX_ALERT_EMAILS,
    SCHEDULE_TRIGGER,
    Run,
    Step,
    StepRun,
    Workflow,
    validate_alert_emails,
)

# Dispatching an event again creates runs, whose steps spend the connection's key.
CREATE_RUNS = "workflows.add_run"

# --- workflows and steps -------------------------------------------------------------


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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["event_type"]

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
        services.authorize_save(
            self.context["request"].user, candidate, has_steps=bool(steps), steps=steps
        )
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
            "input_mapping": step.input_mapping,
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


def _input_path(problem: dict) -> str:
    """``check_mapping``'s field (relative to the input) as a path from the step."""
    return f"input.{problem['field']}" if problem["field"] else "input"


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
        step.on_failure = data.get("on_failure", Step.OnFailure.STOP)
        step.save()
        saved.append(step)
    return saved


class WebhookNeedsSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(
        Connection.WebhookMode.choices, help_text="The connection's webhook mode."
    )
    event_types = serializers.ListField(
        child=serializers.CharField(),
        help_text="Every event type the connection's active workflows wait for.",
    )
    event_types_to_enable = serializers.ListField(
        child=serializers.CharField(),
        help_text="Manual mode: those the endpoint is not known to send yet; enable them on "
        "the endpoint in Stripe's dashboard. Automatic mode: empty (Konnectify updates the "
        "endpoint itself, in the background).",
    )
    message = serializers.CharField()


class ActivatedSerializer(WorkflowSerializer):
    """The activated workflow, and what its connection's webhook endpoint must send."""

    webhook = WebhookNeedsSerializer(
        read_only=True, help_text="What the connection's webhook endpoint must send now."
    )

    class Meta(WorkflowSerializer.Meta):
        fields = [*WorkflowSerializer.Meta.fields, "webhook"]


def webhook_needs(workflow: Workflow) -> dict[str, Any]:
    """``WebhookNeedsSerializer``'s body for the workflow's connection, as it is now.

    A manual-mode endpoint was made by hand in Stripe's dashboard: Konnectify cannot add
    event types to it, so the caller is told which ones it lacks ("*" sends all).
    """
    connection = workflow.connection
    needed = sorted(services.active_event_types(connection))
    missing: list[str] = []
    if connection.webhook_mode != Connection.WebhookMode.MANUAL:
        message = "Konnectify updates the connection's webhook endpoint in Stripe."
    else:
        enabled = set(connection.webhook_enabled_events or [])
        missing = [] if "*" in enabled else [name for name in needed if name not in enabled]
        message = (
            f"Enable these event types on the endpoint in Stripe's dashboard: {', '.join(missing)}."
            if missing
            else "The endpoint is known to send every event type in use."
        )
    return {
        "mode": connection.webhook_mode,
        "event_types": needed,
        "event_types_to_enable": missing,
        "message": message,
    }


class TestStepRequestSerializer(StrictFields, serializers.Serializer):
    """Which step to test, and the confirmation a live-mode connection needs."""

    step = serializers.CharField(help_text="The step's name, e.g. find_customer.")
    confirm_live = serializers.BooleanField(
        default=False,
        help_text="Required true when the connection is in live mode: the step changes your "
        "live Stripe account.",
    )


class TestStepResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether the step succeeded.")
    step = serializers.CharField(help_text="The step tested.")
    input = examples.json_object(
        examples.RENDERED,
        allow_null=True,
        help_text="The rendered input; null if rendering failed.",
    )
    left_out_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="Fields whose reference rendered null or empty, left out of the request.",
    )
    output = examples.json_object(
        examples.CUSTOMER,
        allow_null=True,
        help_text="What Stripe answered; recorded on the step (later steps' tests use it).",
    )
    error = examples.json_object(
        examples.STRIPE_ERROR,
        allow_null=True,
        help_text="Why it failed: Stripe's error, a mapping error, or `untested_step` naming "
        "the earlier steps (`steps`) to test first. Null on success.",
    )
    request_id = serializers.CharField(
        allow_null=True,
        help_text="Stripe's Request-Id of its answer, an error's too; null when nothing was sent.",
    )
    hint = serializers.CharField(
        allow_blank=True,
        help_text="When Stripe does not know an id of the catalog's made-up sample event: "
        "load a sample (load-sample), then test again. Empty otherwise.",
    )


class LoadedSampleSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        ["Stripe", "the catalog"],
        help_text="Stripe: the latest event of the trigger's type; the catalog: there was none.",
    )
    sample_event = examples.json_object(
        examples.EVENT, help_text="The sample event now stored on the workflow."
    )


@extend_schema(tags=["workflows"])
@extend_schema_view(
    list=extend_schema(summary="List workflows with their steps"),
    retrieve=extend_schema(summary="One workflow with its steps"),
    create=extend_schema(summary="Create a workflow with its steps"),
    update=extend_schema(summary="Replace a workflow and all its steps"),
    partial_update=extend_schema(summary="Change a workflow (steps, when given, are replaced)"),
    destroy=extend_schema(summary="Delete a workflow and its runs"),
)
class WorkflowViewSet(KnownQueryParameters, IntegerIds, JsonOnly, viewsets.ModelViewSet):
    """Workflows: a trigger on one connection, and the steps it runs."""

    queryset = Workflow.objects.prefetch_related("steps")
    serializer_class = WorkflowSerializer
    filterset_class = WorkflowFilter
    body_actions = ("test_step",)

    def perform_destroy(self, instance: Workflow) -> None:
        services.delete_workflow(instance)

    @extend_schema(
        summary="Activate a workflow",
        description="The answer says, under `webhook`, which event types the connection's "
        "webhook endpoint must send: a manual-mode connection's endpoint is set up in "
        "Stripe's dashboard by you.",
        request=None,
        responses={200: ActivatedSerializer},
    )
    @action(
        detail=True, methods=["post"], permission_classes=[requires("workflows.change_workflow")]
    )
    def activate(self, request, pk=None) -> Response:
        workflow = self._set_active(True)
        return Response({**WorkflowSerializer(workflow).data, "webhook": webhook_needs(workflow)})

    @extend_schema(
        summary="Deactivate a workflow", request=None, responses={200: WorkflowSerializer}
    )
    @action(
        detail=True, methods=["post"], permission_classes=[requires("workflows.change_workflow")]
    )
    def deactivate(self, request, pk=None) -> Response:
        return Response(WorkflowSerializer(self._set_active(False)).data)

    def _set_active(self, active: bool) -> Workflow:
        """As admin's actions (``services.set_active``): the schedule and the endpoint follow.

        Activating acts with the connection's key: the caller must be allowed to use it
        and becomes the owner (403 otherwise). Deactivating needs no such right.
        """
        return services.set_active(self.get_object(), active, self.request.user)

    @extend_schema(
        summary="Test one step for real with the sample event",
        description="As admin's Test a step: the step runs against Stripe with the "
        "workflow's sample event (nothing is recorded as a run). A success is recorded on "
        "the step, and later steps' tests resolve `steps.<name>` with it. 200 with `ok` "
        "false when the step failed; 400 naming `step` or `confirm_live` otherwise.",
        request=TestStepRequestSerializer,
        responses={200: TestStepResultSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="test-step",
        permission_classes=[requires("workflows.change_workflow", USE_CONNECTION)],
    )
    def test_step(self, request, pk=None) -> Response:
        """Spends the connection's key: changing the workflow and using its connection."""
        workflow = self.get_object()
        require_use(request.user, workflow.connection)
        body = TestStepRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["step"]
        step = workflow.steps.filter(name=name).first()
        if step is None:
            raise exceptions.ValidationError({"step": [f"This workflow has no step {name!r}."]})
        live = workflow.connection.mode == Connection.Mode.LIVE
        if live and not body.validated_data["confirm_live"]:
            raise exceptions.ValidationError(
                {"confirm_live": ["The connection is in live mode: set confirm_live to true."]}
            )
        return Response({**tryout.test_step(step, user=request.user), "step": step.name})

    @extend_schema(
        summary="Load the workflow's sample event from Stripe",
        description="As admin's Load sample event: the latest event of the trigger's type in "
        "Stripe becomes the sample that tests and checks use; the catalog's made-up one when "
        "Stripe has none.",
        request=None,
        responses={200: LoadedSampleSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="load-sample",
        permission_classes=[requires("workflows.change_workflow", USE_CONNECTION)],
    )
    def load_sample(self, request, pk=None) -> Response:
        """Calls Stripe with the connection's key: changing the workflow and using it."""
        workflow = self.get_object()
        require_use(request.user, workflow.connection)
        source = tryout.load_sample_event(workflow)
        return Response({"source": source, "sample_event": workflow.sample_event})


# --- runs ------------------------------------------------------------------------------


class StepRunSerializer(serializers.ModelSerializer):
    input_mapping = examples.json_object(
        examples.MAPPING, help_text="The step's mapping, copied at creation."
    )
    input = examples.json_object(
        examples.RENDERED,
        allow_null=True,
        help_text="The rendered input, fixed at the first attempt; null before it.",
    )
    left_out_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="Fields whose reference rendered null or empty and were left out of the "
        'request (e.g. "metadata.source"); a literal "" is sent, to clear a field.',
    )
    output = examples.json_object(
        examples.CUSTOMER, allow_null=True, help_text="What Stripe answered; null until then."
    )
    error = examples.json_object(
        examples.STRIPE_ERROR,
        allow_null=True,
        help_text="Stripe's type, code, message, param, HTTP status and Request-Id; null "
        "unless the step failed.",
    )
    idempotency_key = examples.string(
        examples.STEP_IDEMPOTENCY_KEY,
        help_text="Sent with every attempt, so Stripe never applies this step twice.",
    )
    request_id = examples.string(examples.REQUEST_ID, help_text="Stripe's Request-Id.")

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
    object_id = serializers.CharField(
        source="event.object_id",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The id of the object the run's event is about (data.object.id); null for "
        "scheduled runs.",
    )
    # Not read_only, so that the schema marks it optional: lists carry it only when asked.
    step_runs = StepRunSerializer(
        many=True,
        required=False,
        help_text="Each step's attempt: input, output, error. In lists only with ?expand=steps.",
    )

    def get_fields(self) -> dict:
        fields = super().get_fields()
        if not self.context.get("expand_steps", True):
            del fields["step_runs"]
        return fields

    class Meta:
        model = Run
        fields = [
            "id",
            "workflow",
            "workflow_name",
            "connection",
            "event",
            "stripe_event_id",
            "object_id",
            "scheduled_for",
            "replay",
            "status",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "step_runs",
        ]
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    """A run with its step runs, always."""

    step_runs = StepRunSerializer(many=True, read_only=True)


EXPAND_STEPS = "steps"
REPLAY_ERRORS = errors(409, _409="The run's state does not allow this (e.g. it did not fail).")


@extend_schema(tags=["runs"])
@extend_schema_view(
    list=extend_schema(
        summary="List runs, newest first",
        parameters=[
            OpenApiParameter(
                "expand",
                OpenApiTypes.STR,
                enum=[EXPAND_STEPS],
                description="`steps`: each run with its step runs (inputs, outputs, errors), "
                "so one request reads a page of runs whole.",
            )
        ],
    ),
    retrieve=extend_schema(summary="One run with its step runs"),
)
class RunViewSet(
    KnownQueryParameters,
    IntegerIds,
    JsonOnly,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Runs of workflows: one per event (or schedule tick), with each step's attempts."""

    queryset = Run.objects.select_related("workflow", "event").defer("event__payload")
    serializer_class = RunSerializer
    filterset_class = RunFilter
    list_query_parameters = ("expand",)

    def get_serializer_class(self):
        return RunSerializer if self.action == "list" else RunDetailSerializer

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "expand_steps": self.expands_steps()}

    def expands_steps(self) -> bool:
        """Whether step runs are in the answer: always, except in lists without expand."""
        if self.action != "list":
            return True
        expand = self.request.query_params.get("expand")
        if expand not in (None, EXPAND_STEPS):
            raise exceptions.ValidationError({"expand": [f"Must be {EXPAND_STEPS!r}."]})
        return expand == EXPAND_STEPS

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.expands_steps():
            return queryset.prefetch_related("step_runs")
        return queryset

    @extend_schema(
        summary="Resume a failed run from its failed step",
        request=None,
        responses={200: RunDetailSerializer, **REPLAY_ERRORS},
    )
    @action(detail=True, methods=["post"], permission_classes=[requires("workflows.change_run")])
    def resume(self, request, pk=None) -> Response:
        """Needs the right to use the run's connection and its steps' credentials too: its
        steps call Stripe again (``services.require_replay``)."""
        replayed = self.get_object()
        services.require_replay(request.user, replayed.workflow)
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
        """Creates a run (``add_run``) whose steps call Stripe (use of the connection and of
        its steps' credentials, ``services.require_replay``)."""
        replayed = self.get_object()
        services.require_replay(request.user, replayed.workflow)
        try:
            run, created = services.start_rerun(replayed)
        except services.ReplayError as exc:
            return conflict(str(exc))
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(RunDetailSerializer(self._fresh(run)).data, answer)

    @extend_schema(
        summary="Cancel a pending or retrying run",
        description="Nothing more of the run is sent to Stripe: the run and its pending and "
        "retrying step runs become `canceled`, and the run's `error` says who canceled it "
        "and when. Steps that succeeded are not undone. Needs to change runs only (canceling "
        "spends no key). 409 when the run has ended already, or while one of its steps is "
        "being sent to Stripe (try again once it waits). A canceled run is not resumed; it "
        "may be re-run.",
        request=None,
        responses={
            200: RunDetailSerializer,
            **errors(409, _409="The run has ended already, or a step is being sent right now."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[requires("workflows.change_run")])
    def cancel(self, request, pk=None) -> Response:
        """Answers the canceled run, as resume and rerun answer theirs."""
        try:
            run = services.cancel_run(self.get_object(), request.user)
        except services.CancelError as exc:
            return conflict(str(exc))
        return Response(RunDetailSerializer(self._fresh(run)).data)

    @staticmethod
    def _fresh(run: Run) -> Run:
        return Run.objects.select_related("workflow", "event").get(pk=run.pk)


# --- popular automations -----------------------------------------------------------------


class AutomationStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    action_key = serializers.CharField(help_text="An action from /api/v1/catalog/actions/.")
    input = serializers.DictField(
        source="input_mapping", help_text="The step's input mapping, as a workflow step's."
    )


class AutomationSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    trigger_key = serializers.CharField(help_text="A trigger from /api/v1/catalog/triggers/.")
    filters = serializers.ListField(child=serializers.DictField())
    steps = AutomationStepSerializer(many=True)


class ApplyAutomationSerializer(StrictFields, serializers.Serializer):
    """Where to create the automation's workflow."""

    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(),
        pk_field=serializers.UUIDField(),
        help_text="The connection the new workflow starts on and whose key its steps use.",
    )


@extend_schema(tags=["automations"])
@extend_schema_view(
    list=extend_schema(summary="List the popular automations (ready-made workflows)"),
    retrieve=extend_schema(summary="One popular automation"),
)
class AutomationViewSet(KnownQueryParameters, JsonOnly, viewsets.ViewSet):
    """Popular automations, as admin offers them: applying one creates an inactive workflow."""

    permission_classes = [IsAuthenticated]
    pagination_class = None
    lookup_value_regex = r"[^/]+"
    body_actions = ("apply",)
    serializer_class = AutomationSerializer

    def list(self, request) -> Response:
        return Response(AutomationSerializer(AUTOMATIONS.values(), many=True).data)

    @extend_schema(responses={200: AutomationSerializer})
    def retrieve(self, request, pk: str) -> Response:
        return Response(AutomationSerializer(self._automation(pk)).data)

    @extend_schema(
        summary="Create an inactive workflow from a popular automation",
        description="As admin's Popular automations page: needs to add workflows and to use "
        "the connection (its steps will spend its key); the caller owns the workflow. Review "
        "it, then activate it.",
        request=ApplyAutomationSerializer,
        responses={201: WorkflowSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[requires("workflows.add_workflow", USE_CONNECTION)],
    )
    def apply(self, request, pk: str) -> Response:
        automation = self._automation(pk)
        body = ApplyAutomationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = body.validated_data["connection"]
        require_use(request.user, connection)
        workflow = create_from_automation(automation.key, connection, owner=request.user)
        return Response(WorkflowSerializer(workflow).data, status.HTTP_201_CREATED)

    @staticmethod
    def _automation(key: str):
        if key not in AUTOMATIONS:
            raise exceptions.NotFound(f"No popular automation with key {key!r}.")
        return AUTOMATIONS[key]


# --- the inbox, with dispatching to workflows ---------------------------------------------


class OutcomeSerializer(serializers.Serializer):
    workflow = serializers.IntegerField()
    workflow_name = serializers.CharField()
    result = serializers.ChoiceField(
        redispatch.RESULTS,
        help_text="created: a run was created and queued; filtered_out: the workflow's filters "
        "left the event out (a skipped run records why); already_ran: the event had started "
        "a run of this workflow before (re-run it to run again); inactive: no run.",
    )
    run = serializers.IntegerField(allow_null=True, help_text="The run's id; null if inactive.")
    message = serializers.CharField()


class DispatchedSerializer(serializers.Serializer):
    workflows = OutcomeSerializer(
        many=True,
        help_text="Every workflow of the event's connection waiting for its type, by id.",
    )
    message = serializers.CharField()


@extend_schema(tags=["events"])
class EventViewSet(InboxEventViewSet):
    """The inbox (``connections.api``), plus dispatching an event to its workflows again."""

    @extend_schema(
        summary="Dispatch the event to its workflows again, now",
        description="Answers what happened for each workflow waiting for the event's type. "
        "An event starts one run per workflow: a workflow it already ran answers "
        "`already_ran` with that run (re-run it to run again).",
        request=None,
        responses={
            200: DispatchedSerializer,
            **errors(
                409,
                _409="A mode-mismatch event belongs to the other mode's connection; a pruned "
                "event (payload_pruned_at) has only its id left; a disabled connection runs "
                "nothing.",
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="dispatch-again",
        permission_classes=[requires(CREATE_RUNS, USE_CONNECTION)],
    )
    def dispatch_again(self, request, pk=None) -> Response:
        """Creates runs whose steps call Stripe: ``workflows.add_run``, use of the connection
        and of the credentials the active workflows' steps name."""
        event = self.get_object()
        services.require_redispatch(request.user, event)
        refusal = undispatchable(event)
        if refusal:
            return conflict(refusal)
        outcomes = redispatch.dispatch_again(event)
        created = sum(outcome.result == redispatch.CREATED for outcome in outcomes)
        body = {
            "workflows": [outcome.as_dict() for outcome in outcomes],
            "message": f"{created} run(s) created for {len(outcomes)} workflow(s).",
        }
        return Response(body)
