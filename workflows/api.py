"""REST API for workflows (with their steps) and runs (with their step runs).

A workflow is validated as admin validates it: the model's ``clean`` (trigger,
schedule, filters, the custom trigger's event type), and
``services.check_steps`` for every step's mapping. Errors name the bad field by
its path (``steps[1].input.customer``); doubtful references come back as
``warnings`` in the success body, as admin shows them as warning messages.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
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
from konnectify.platform.api.schema import errors
from workflows import portable, redispatch, services, tryout
from workflows.automations import AUTOMATIONS, create_from_automation
from workflows.list_filters import RunFilter, WorkflowFilter
from workflows.models import FOR_EACH_CEILING, Match, Run, Step, StepRun, Workflow
from workflows.serializers import (  # noqa: F401 (the API's serializers, from one place)
    StepSerializer,
    WorkflowSerializer,
    replace_steps,
)

# Dispatching an event again creates runs, whose steps spend the connection's key.
CREATE_RUNS = "workflows.add_run"

# --- workflows and steps (their serializers: workflows.serializers) -------------------


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


# --- export, import, copy to a live connection (workflows.portable) --------------------

DOCUMENT_EXAMPLE = {
    "format": portable.FORMAT,
    "version": portable.VERSION,
    "workflow": {
        "name": "Invoice new customers",
        "description": "",
        "trigger_key": "customer.created",
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": None,
        "filters": [{"path": "data.object.email", "op": "exists"}],
        "alert_emails": ["ops@example.com"],
        "alert_chat": True,
        "steps": [
            {
                "name": "invoice",
                "action_key": "create_invoice",
                "input": {"customer": "{{ trigger.data.object.id }}"},
                "on_failure": "stop",
                "condition": [],
                "condition_match": "all",
                "for_each": "",
                "max_items": 100,
            },
            {
                "name": "add_item",
                "action_key": "create_invoice_item",
                "input": {
                    "customer": "{{ trigger.data.object.id }}",
                    "invoice": "{{ steps.invoice.id }}",
                    "price": "price_1PgafmB7WZ01zgkW",
                },
                "on_failure": "stop",
                "condition": [
                    {"path": "trigger.data.object.metadata.plan", "op": "equals", "value": "pro"}
                ],
                "condition_match": "all",
                "for_each": "",
                "max_items": 100,
            },
        ],
    },
}


class StepDocumentSerializer(StrictFields, serializers.Serializer):
    """A step in a workflow document: its fields as the API's, without ids or samples."""

    name = serializers.CharField(help_text=Step._meta.get_field("name").help_text)
    action_key = serializers.CharField(help_text="An action from /api/v1/catalog/actions/.")
    input = examples.json_object(examples.MAPPING, help_text="The action's input mapping.")
    on_failure = serializers.ChoiceField(Step.OnFailure.choices)
    condition = serializers.ListField(
        child=serializers.DictField(), help_text=Step._meta.get_field("condition").help_text
    )
    condition_match = serializers.ChoiceField(Match.choices)
    for_each = serializers.CharField(
        allow_blank=True, help_text=Step._meta.get_field("for_each").help_text
    )
    max_items = serializers.IntegerField(min_value=1, max_value=FOR_EACH_CEILING)


class WorkflowPartSerializer(StrictFields, serializers.Serializer):
    """The workflow in a document: what the API saves, without connection, owner or state."""

    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    trigger_key = serializers.CharField(help_text="A trigger key, 'custom' or 'schedule'.")
    custom_event_type = serializers.CharField(allow_blank=True)
    schedule_cron = serializers.CharField(allow_blank=True)
    schedule_minutes = serializers.IntegerField(allow_null=True)
    filters = serializers.ListField(child=serializers.DictField())
    alert_emails = serializers.ListField(child=serializers.EmailField())
    alert_chat = serializers.BooleanField()
    steps = StepDocumentSerializer(many=True)


class WorkflowDocumentSerializer(StrictFields, serializers.Serializer):
    """A workflow as a file (``workflows.portable``): nothing of the account it came from
    (no key, secret, connection, owner, sample, id, nor whether it was active)."""

    format = serializers.ChoiceField([portable.FORMAT])
    version = serializers.ChoiceField([portable.VERSION])
    workflow = WorkflowPartSerializer()


@extend_schema_field(WorkflowDocumentSerializer)
class DocumentField(serializers.JSONField):
    """Any JSON in; ``portable.import_workflow`` checks it and names each bad key's path."""


class ImportSerializer(StrictFields, serializers.Serializer):
    """A document and the connection the new workflow runs on."""

    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(),
        pk_field=serializers.UUIDField(),
        help_text="The connection the imported workflow starts on and whose key its steps use.",
    )
    document = DocumentField(
        help_text="A workflow document as exported (GET /api/v1/workflows/{id}/export/). "
        "Errors name its fields as document.workflow.steps[1].action_key."
    )
    keep_alert_emails = serializers.BooleanField(
        default=False,
        help_text="true: keep the document's alert_emails (who gets failed runs' alerts, "
        "with customer data). Left false, they are not imported and a warning "
        "(field alert_emails) lists them: a document from elsewhere names its author's "
        "addresses.",
    )


class PromoteSerializer(StrictFields, serializers.Serializer):
    """Where to copy a test-mode workflow, and the live ids for its test ids."""

    connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(),
        pk_field=serializers.UUIDField(),
        help_text="A live-mode connection: the live copy runs on it.",
    )
    replacements = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=255),
        required=False,
        default=dict,
        help_text="The live-mode id for each test-mode id the preview lists under stripe_ids "
        '({"price_1Test...": "price_1Live..."}); every one is needed to copy. The id itself '
        "is accepted (objects copied to live mode in Stripe's dashboard keep their ids). "
        "Each id is replaced where it is written literally: a whole value, a word inside "
        "text (/v1/customers/cus_...), a quoted default inside a reference.",
    )
    preview = serializers.BooleanField(
        default=False,
        help_text="true: answer what copying would do (differences with the live copy, the "
        "ids to replace) and change nothing.",
    )
    confirm_live = serializers.BooleanField(
        default=False,
        help_text="Required true to copy (not to preview): the copy is a workflow of your "
        "live Stripe account.",
    )


class PromotionTargetSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    mode = serializers.CharField(help_text="live (a test-mode target is refused).")


class LiveCopySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    active = serializers.BooleanField()


class DifferenceSerializer(serializers.Serializer):
    path = serializers.CharField(
        help_text="Where, in the workflow document: name, filters[0].value, "
        "steps[<step name>].input.customer (steps are matched by name), steps[<name>] for a "
        "step only one side has, steps for another order."
    )
    live = serializers.JSONField(allow_null=True, help_text="The live copy's value; null: none.")
    test = serializers.JSONField(
        allow_null=True,
        help_text="The test workflow's value as it would be copied (the replacements given "
        "applied, and for an id not given, its suggestion); null: none.",
    )


class StripeIdSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="A test-mode Stripe id written literally in the steps.")
    paths = serializers.ListField(
        child=serializers.CharField(),
        help_text="Where it is: steps[<name>].input..., steps[<name>].condition[i].value, "
        "filters[i].value.",
    )
    suggestion = serializers.CharField(
        allow_null=True,
        help_text="The live copy's id at those places, when it has one; null otherwise.",
    )


class PromotionPreviewSerializer(serializers.Serializer):
    """What copying to the live connection would do (``preview: true``)."""

    target = PromotionTargetSerializer()
    live_copy = LiveCopySerializer(
        allow_null=True,
        help_text="The workflow's copy on this connection (copying updates it); null: copying "
        "creates one.",
    )
    differences = DifferenceSerializer(
        many=True, help_text="Where the live copy differs from the test workflow; empty if none."
    )
    stripe_ids = StripeIdSerializer(
        many=True, help_text="Test-mode ids to replace with live ones (replacements)."
    )
    will_deactivate = serializers.BooleanField(
        help_text="The live copy is active: copying makes it inactive until you activate it."
    )


PROMOTION_ANSWER = PolymorphicProxySerializer(
    component_name="PromotionAnswer",
    serializers=[PromotionPreviewSerializer, WorkflowSerializer],
    resource_type_field_name=None,
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
    body_actions = ("test_step", "import_document", "promote")

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

    @extend_schema(
        summary="Export a workflow as a JSON document",
        description="The workflow and its steps as a file to import elsewhere "
        "(POST /api/v1/workflows/import/): no key, secret, connection, owner, sample, id, "
        "nor whether it is active. The same workflow gives the same bytes (keys sorted, "
        "indented, whole numbers as integers). An HTTP request step names its credential "
        "by name only; anything typed into a step (a header, a URL's query) is exported as "
        "written. Needs to view the workflow, as reading it (with its steps) does.",
        parameters=[
            OpenApiParameter(
                "Content-Disposition",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200],
                description='attachment; filename="<workflow name>.workflow.json"',
            )
        ],
        responses={
            200: OpenApiResponse(
                WorkflowDocumentSerializer,
                description="The document.",
                examples=[OpenApiExample("A workflow", DOCUMENT_EXAMPLE)],
            )
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None) -> HttpResponse:
        """Needs to view the workflow, as reading it does: the API's workflow holds its
        steps (admin, which shows steps apart, also asks to view steps)."""
        workflow = self.get_object()
        response = HttpResponse(portable.export_text(workflow), content_type="application/json")
        response["Content-Disposition"] = (
            f'attachment; filename="{portable.export_filename(workflow)}"'
        )
        return response

    @extend_schema(
        summary="Import a workflow document onto a connection",
        description="Creates an inactive workflow from an exported document, checked as "
        "creating one through this API is; the caller owns it. An HTTP request step must "
        "name a credential that exists here. The document's alert_emails are kept only with "
        "keep_alert_emails (otherwise a warning lists them). Needs to add workflows and to "
        "use the connection (and the credentials its HTTP steps name: 403 otherwise). 400 "
        "names each problem by its path: document.version, "
        "document.workflow.steps[1].action_key, document.workflow.steps[2].input.credential, "
        "connection.",
        request=ImportSerializer,
        responses={201: WorkflowSerializer},
        examples=[
            OpenApiExample(
                "Import",
                {
                    "connection": "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f",
                    "document": DOCUMENT_EXAMPLE,
                },
                request_only=True,
            )
        ],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        permission_classes=[requires("workflows.add_workflow", USE_CONNECTION)],
    )
    def import_document(self, request) -> Response:
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = body.validated_data["connection"]
        require_use(request.user, connection)
        document = body.validated_data["document"]
        try:
            workflow = portable.import_workflow(
                document,
                connection,
                request.user,
                keep_alert_emails=body.validated_data["keep_alert_emails"],
            )
        except portable.PortableError as exc:
            raise exceptions.ValidationError(in_body(exc.errors)) from None
        return Response(WorkflowSerializer(workflow).data, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Copy a test-mode workflow to a live connection",
        description="With preview true: what copying would do (the live copy's differences, "
        "the literal test-mode Stripe ids to replace), nothing changed. Otherwise, with "
        "confirm_live true and a live id for every listed test id under replacements: the "
        "live copy (a workflow on the live connection that remembers this one as "
        "copied_from) is created (201) or updated (200), inactive: an active copy is "
        "deactivated. Needs to add and change workflows and to use the live connection. "
        "400 names connection (not live mode), replacements (ids missing or unknown), "
        "replacements.<id> (not a live id of that kind), confirm_live, or workflow (not in "
        "test mode).",
        request=PromoteSerializer,
        responses={
            200: OpenApiResponse(
                PROMOTION_ANSWER, description="The preview, or the updated live copy."
            ),
            201: OpenApiResponse(WorkflowSerializer, description="The new live copy."),
        },
        examples=[
            OpenApiExample(
                "Preview",
                {"connection": "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a", "preview": True},
                request_only=True,
            ),
            OpenApiExample(
                "Copy",
                {
                    "connection": "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a",
                    "replacements": {"price_1PgafmB7WZ01zgkW": "price_1QhbgnC8XA12ahlX"},
                    "confirm_live": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Preview answer",
                {
                    "target": {
                        "id": "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a",
                        "name": "Shop (live)",
                        "mode": "live",
                    },
                    "live_copy": {"id": 12, "name": "Invoice new customers", "active": True},
                    "differences": [
                        {
                            "path": "steps[add_item].input.price",
                            "live": "price_1QhbgnC8XA12ahlX",
                            "test": "price_1PgafmB7WZ01zgkW",
                        }
                    ],
                    "stripe_ids": [
                        {
                            "id": "price_1PgafmB7WZ01zgkW",
                            "paths": ["steps[add_item].input.price"],
                            "suggestion": "price_1QhbgnC8XA12ahlX",
                        }
                    ],
                    "will_deactivate": True,
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[
            requires("workflows.add_workflow", "workflows.change_workflow", USE_CONNECTION)
        ],
    )
    def promote(self, request, pk=None) -> Response:
        """The live copy is saved as a create or update through this API is
        (``portable.promote``)."""
        workflow = self.get_object()
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target, replacements = (
            body.validated_data["connection"],
            body.validated_data["replacements"],
        )
        try:
            if body.validated_data["preview"]:
                return Response(portable.promotion_preview(workflow, target, replacements))
            portable.check_promotion(workflow, target)
            if not body.validated_data["confirm_live"]:
                raise exceptions.ValidationError(
                    {
                        "confirm_live": [
                            "The copy goes to a live-mode connection: set confirm_live to true."
                        ]
                    }
                )
            live = portable.promote(workflow, target, request.user, replacements)
        except portable.PortableError as exc:
            raise exceptions.ValidationError(exc.errors) from None
        answer = status.HTTP_201_CREATED if live.copy_created else status.HTTP_200_OK
        return Response(WorkflowSerializer(live).data, answer)


def in_body(problems: dict[str, list[str]]) -> dict[str, list[str]]:
    """An import's problems by path in the request body: the document's under
    ``document`` (``document.workflow.name``), the connection's as they are."""
    found: dict[str, list[str]] = {}
    for path, messages in problems.items():
        if path != "connection":
            path = f"document.{path}" if path else "document"
        found.setdefault(path, []).extend(messages)
    return found


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
    condition = serializers.ListField(
        child=serializers.DictField(),
        help_text="The step's condition (run only if), copied at creation.",
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
            "condition",
            "condition_match",
            "for_each",
            "max_items",
            "status",
            "skip_reason",
            "item_count",
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
