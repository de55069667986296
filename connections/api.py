"""REST API for connections, running one action with a connection, and the event inbox.

The key and the webhook signing secret are write-only: responses carry only
``key_hint``. Validation goes through the same service functions as admin
(``services.validate_connection_write`` and ``save_connection``), so both accept
and refuse the same keys with the same messages.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connections.list_filters import ConnectionFilter, InboxEventFilter
from connections.models import (
    Connection,
    InboxEvent,
    normalized_api_base,
    validate_api_base,
)
from connections.outbound import client_for
from connections.permissions import USE_CONNECTION, require_use
from connections.services import (
    ConnectionInUse,
    delete_connection,
    save_connection,
    validate_connection_write,
)
from connections.services import recheck_connection as recheck
from connections.webhooks import event_types_in_use, sync_webhook_endpoint
from konnectify.platform.api import examples
from konnectify.platform.api.base import (
    IntegerIds,
    JsonOnly,
    KnownQueryParameters,
    StrictFields,
    conflict,
    error_response,
)
from konnectify.platform.api.permissions import requires
from konnectify.platform.api.schema import StripeErrorSerializer, errors
from konnectify.platform.ratelimit import THROTTLED_TYPE
from stripe_connector.catalog import ACTIONS, get_action
from stripe_connector.errors import ActionInputError, StripeError

ENCRYPTED = ("secret_key", "webhook_secret", "previous_webhook_secret")
CONNECTION_STATUS = Connection.Status
EVENT_STATUS = InboxEvent.Status
WRITABLE_STATUS = [Connection.Status.ACTIVE, Connection.Status.DISABLED]
PASSED_THROUGH = (400, 402, 404, 409)


# --- connections -------------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "writeOnly": True, "pattern": r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$"}
)
class StripeKeyField(serializers.CharField):
    """A Stripe key; its format and validity are checked by ``check_key`` (as in admin)."""


@extend_schema_field({"type": "string", "writeOnly": True, "pattern": r"^whsec_[A-Za-z0-9_]{10,}$"})
class SigningSecretField(serializers.CharField):
    """A webhook signing secret; checked by ``check_manual_secret`` (as in admin)."""


class ConnectionSerializer(StrictFields, serializers.ModelSerializer):
    """A connection; ``secret_key`` and ``webhook_secret`` are accepted, never returned."""

    secret_key = StripeKeyField(
        write_only=True,
        required=False,
        trim_whitespace=True,
        max_length=500,
        style={"input_type": "password"},
        help_text="A secret (sk_...) or restricted (rk_...) key, checked with Stripe "
        "(GET /v1/account) and stored encrypted; never returned. Required on create; on "
        "update only to replace the key.",
    )
    webhook_secret = SigningSecretField(
        write_only=True,
        required=False,
        trim_whitespace=True,
        max_length=500,
        style={"input_type": "password"},
        help_text="Manual mode only: the endpoint's whsec_... signing secret from Stripe's "
        "dashboard; never returned. A replaced secret stays valid for the grace period.",
    )
    status = serializers.ChoiceField(
        choices=Connection.Status.choices,
        required=False,
        help_text="active or disabled (a disabled connection's webhook URL answers 404). "
        "'invalid' is Stripe's verdict on the key: it is read, never set.",
    )
    api_base = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        validators=[validate_api_base],
        help_text=Connection._meta.get_field("api_base").help_text
        + " Changing it requires secret_key in the same request.",
    )
    webhook_url = serializers.CharField(
        read_only=True, help_text="Where Stripe posts this connection's events."
    )
    # Empty until a key has been checked.
    mode = serializers.ChoiceField(Connection.Mode.choices, read_only=True, allow_blank=True)
    key_kind = serializers.ChoiceField(Connection.KeyKind.choices, read_only=True, allow_blank=True)

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "secret_key",
            "key_hint",
            "mode",
            "key_kind",
            "account_id",
            "account_name",
            "api_version",
            "api_base",
            "status",
            "status_message",
            "webhook_mode",
            "webhook_secret",
            "webhook_url",
            "webhook_endpoint_id",
            "webhook_status",
            "webhook_enabled_events",
            "webhook_error",
            "webhook_synced_at",
            "previous_secret_expires_at",
            "last_event_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status_message",
            "webhook_endpoint_id",
            "webhook_status",
            "webhook_enabled_events",
            "webhook_error",
            "webhook_synced_at",
            "previous_secret_expires_at",
            "last_event_at",
        ]

    def validate_api_base(self, value: str) -> str:
        """Stored as a bare origin, as admin's choices give it (validated by the model's rule)."""
        return normalized_api_base(value)

    def validate_status(self, value: str) -> str:
        if value not in WRITABLE_STATUS:
            raise exceptions.ValidationError("Only active or disabled can be set.")
        return value

    def validate(self, attrs: dict) -> dict:
        """``services.validate_connection_write``: the rules admin's form applies too."""
        adding = self.instance is None
        key = attrs.get("secret_key")
        # Reported with the other problems of the body, not alone first.
        missing = {"secret_key": ["This field is required."]} if adding and not key else {}
        current = self.instance or Connection()
        try:
            attrs["key_check"] = validate_connection_write(
                current,
                key=key,
                webhook_mode=attrs.get("webhook_mode", current.webhook_mode),
                webhook_secret=attrs.get("webhook_secret"),
                api_version=attrs.get("api_version", current.api_version),
                api_base=attrs.get("api_base"),
                key_field="secret_key",
                secret_field="webhook_secret",
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({**exc.message_dict, **missing}) from None
        if missing:
            raise exceptions.ValidationError(missing)
        return attrs

    def save_connection(self, connection: Connection, attrs: dict) -> Connection:
        """``services.save_connection``, as admin's form saves."""
        key, check = attrs.pop("secret_key", None), attrs.pop("key_check", None)
        secret = attrs.pop("webhook_secret", None)
        for name, value in attrs.items():
            setattr(connection, name, value)
        return save_connection(connection, key=key, key_check=check, webhook_secret=secret)

    def create(self, validated_data: dict) -> Connection:
        return self.save_connection(Connection(), validated_data)

    def update(self, instance: Connection, validated_data: dict) -> Connection:
        return self.save_connection(instance, validated_data)


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether it worked.")
    message = serializers.CharField(help_text="What happened, for people.")
    connection = ConnectionSerializer(help_text="The connection as recorded after the check.")


class SyncResultSerializer(CheckResultSerializer):
    action = serializers.CharField(
        help_text="created, updated, repaired, deleted, unchanged, manual or failed."
    )


class DeletedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
    warning = serializers.CharField(
        allow_blank=True,
        help_text="Empty when all went well; otherwise why the webhook endpoint could not be "
        "deleted in Stripe (delete it in Stripe's dashboard).",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Create a customer",
            value={"input": examples.CUSTOMER_INPUT, "idempotency_key": examples.IDEMPOTENCY_KEY},
        )
    ]
)
class ExecuteSerializer(StrictFields, serializers.Serializer):
    """The input of one catalog action, and optionally the Idempotency-Key to send."""

    input = examples.json_object(
        examples.CUSTOMER_INPUT,
        serializers.DictField,
        help_text="The action's input (`{}` when it takes none); see its input_schema in "
        "/api/v1/catalog/actions/.",
    )
    idempotency_key = examples.string(
        examples.IDEMPOTENCY_KEY,
        required=False,
        allow_blank=False,
        max_length=255,
        # It travels as an HTTP header: printable ASCII only.
        validators=[RegexValidator(r"^[ -~]+\Z", "Use printable ASCII characters only.")],
        help_text="Sent to Stripe as Idempotency-Key (writes only): retrying with the same key "
        "never applies the action twice. A fresh key is used when absent.",
    )


class ExecuteResultSerializer(serializers.Serializer):
    action = examples.string("create_customer")
    output = examples.json_object(
        examples.CUSTOMER, help_text="Stripe's object (or the action's result)."
    )
    request_id = examples.string(
        examples.REQUEST_ID, allow_null=True, help_text="Stripe's Request-Id."
    )


def stripe_status(exc: StripeError) -> int:
    """Our answer's status for a failed Stripe call.

    Stripe's answers about the request itself pass through (400, 402 declined,
    404 no such object, 409 conflict), so a caller can tell them apart; any
    other 4xx is a 400. 401/403 mean the connection's key was refused: 502, so
    that 401/403 keep meaning the caller's own credentials. Stripe's rate limit
    (429) becomes 503 with Retry-After: Stripe is limiting us, we are not
    limiting the caller; so does our own pacing of calls to Stripe when its
    budget is booked too far ahead (konnectify.platform.ratelimit's Throttled). 5xx, 424
    and network failures: 502.
    """
    code = exc.http_status
    if code in PASSED_THROUGH:
        return code
    if code == 429 or exc.type == THROTTLED_TYPE:
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if code is not None and 400 <= code < 500 and code not in (401, 403, 424):
        return status.HTTP_400_BAD_REQUEST
    return status.HTTP_502_BAD_GATEWAY


def stripe_error_response(exc: StripeError) -> Response:
    code = stripe_status(exc)
    headers = None
    if code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after or 1)))}
    return error_response(
        "stripe_error", str(exc), code, extra={"stripe": exc.to_dict()}, headers=headers
    )


EXECUTE_ERRORS = errors(
    400,
    402,
    404,
    409,
    502,
    503,
    serializer=StripeErrorSerializer,
    _400="The input does not fit the action (`errors` names fields as `input.<field>`), or "
    "Stripe refused the request (type stripe_error).",
    _402="Stripe: the card was declined.",
    _404="No such connection or action, or Stripe found no such object.",
    _409="The connection is disabled or has no key, or Stripe reported a conflict.",
    _502="Stripe failed (5xx), could not be reached, or refused the connection's key (401/403).",
    _503="Stripe's rate limit: retry after the Retry-After header's seconds.",
)


@extend_schema(tags=["connections"])
@extend_schema_view(
    list=extend_schema(summary="List connections"),
    retrieve=extend_schema(summary="One connection (its key and secrets are never returned)"),
    create=extend_schema(summary="Create a connection (the key is checked with Stripe)"),
    update=extend_schema(summary="Replace a connection's settings (a new key is re-checked)"),
    partial_update=extend_schema(summary="Change some of a connection's settings"),
)
class ConnectionViewSet(KnownQueryParameters, JsonOnly, viewsets.ModelViewSet):
    """Stripe connections: one key for one account, and its webhook endpoint."""

    queryset = Connection.objects.all()
    serializer_class = ConnectionSerializer
    filterset_class = ConnectionFilter
    body_actions = ("execute",)  # ExecuteSerializer; the other actions take no body

    def get_queryset(self):
        queryset = super().get_queryset()
        # Lists need no secret: do not decrypt them for every row.
        return queryset.defer(*ENCRYPTED) if self.action == "list" else queryset

    @extend_schema(
        summary="Delete a connection (its webhook endpoint in Stripe first)",
        responses={
            200: DeletedSerializer,
            **errors(409, _409="Workflows still use this connection."),
        },
    )
    def destroy(self, request, *args, **kwargs) -> Response:
        """Deleting the endpoint in Stripe spends the stored key: delete and use the connection.

        (Leaving the endpoint behind would have Stripe retry events to a dead URL for days.)
        """
        connection = self.get_object()
        require_use(request.user, connection)
        try:
            warning = delete_connection(connection)
        except ConnectionInUse as exc:
            return conflict(str(exc))
        return Response({"deleted": True, "warning": warning})

    @extend_schema(
        summary="Check the stored key with Stripe again",
        request=None,
        responses={200: CheckResultSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[requires("connections.change_connection", USE_CONNECTION)],
    )
    def test(self, request, pk=None) -> Response:
        """A refused key marks the connection invalid; the answer is 200 with ok=false.

        It sends the stored key to Stripe: it needs the right to use the connection, besides
        changing it (the check records Stripe's verdict on the connection).
        """
        connection = self.get_object()
        require_use(request.user, connection)
        ok, message = recheck(connection)
        return Response(
            {"ok": ok, "message": message, "connection": ConnectionSerializer(connection).data}
        )

    @extend_schema(
        summary="Make Stripe's webhook endpoint match the event types in use",
        request=None,
        responses={200: SyncResultSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="sync-webhook",
        permission_classes=[requires("connections.change_connection", USE_CONNECTION)],
    )
    def sync_webhook(self, request, pk=None) -> Response:
        """A failure is recorded on the connection and answered 200 with ok=false.

        It sends the stored key to Stripe's webhook_endpoints: changing the connection and
        using it, as for ``test``.
        """
        connection = self.get_object()
        require_use(request.user, connection)
        result = sync_webhook_endpoint(connection, event_types_in_use(connection))
        body = {"ok": result.ok, "action": result.action, "message": result.message}
        return Response({**body, "connection": ConnectionSerializer(connection).data})

    @extend_schema(
        summary="Run one catalog action with this connection",
        request=ExecuteSerializer,
        responses={200: ExecuteResultSerializer, **EXECUTE_ERRORS},
        parameters=[
            OpenApiParameter(
                "action_key",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(ACTIONS),
                description="An action key from /api/v1/catalog/actions/.",
            ),
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                response=[503],
                description="Seconds to wait before retrying.",
            ),
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"actions/(?P<action_key>[^/.]+)",
        permission_classes=[requires(USE_CONNECTION)],
    )
    def execute(self, request, pk=None, action_key: str = "") -> Response:
        """Validate the input, call Stripe once, answer Stripe's object or its typed error."""
        connection = self.get_object()
        require_use(request.user, connection)
        try:
            chosen = get_action(action_key)
        except KeyError:
            raise exceptions.NotFound(f"No action with key {action_key!r}.") from None
        body = ExecuteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        refusal = self._unusable(connection)
        if refusal:
            return conflict(refusal)
        return self._run(chosen, connection, body.validated_data, request.user)

    @staticmethod
    def _unusable(connection: Connection) -> str:
        if connection.status == Connection.Status.DISABLED:
            return f"Connection {connection.name!r} is disabled."
        if not connection.secret_key:
            return f"Connection {connection.name!r} has no key."
        return ""

    @staticmethod
    def _run(chosen, connection: Connection, data: dict[str, Any], user) -> Response:
        try:
            result = chosen.run(
                client_for(chosen, connection, user=user),
                data["input"],
                idempotency_key=data.get("idempotency_key"),
            )
        except ActionInputError as exc:
            fields = [
                {"field": f"input.{e['field']}" if e["field"] else "input", "message": e["message"]}
                for e in exc.errors
            ]
            raise exceptions.ValidationError(_nested(fields)) from None
        except StripeError as exc:
            return stripe_error_response(exc)
        return Response(
            {"action": chosen.key, "output": result.output, "request_id": result.request_id}
        )


def _nested(fields: list[dict]) -> dict:
    """DRF detail whose flattened paths are ``fields``' (the handler flattens it again)."""
    detail: dict[str, list[str]] = {}
    for item in fields:
        detail.setdefault(item["field"], []).append(item["message"])
    return detail


# --- the inbox ------------------------------------------------------------------


class InboxEventSerializer(serializers.ModelSerializer):
    connection = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = InboxEvent
        fields = [
            "id",
            "stripe_event_id",
            "type",
            "object_id",
            "connection",
            "status",
            "status_detail",
            "livemode",
            "api_version",
            "source",
            "created",
            "received_at",
            "payload_pruned_at",
        ]
        read_only_fields = fields


class InboxEventDetailSerializer(InboxEventSerializer):
    payload = examples.json_object(
        examples.EVENT,
        read_only=True,
        help_text="The event envelope as Stripe sent it; {} once pruned (payload_pruned_at).",
    )

    class Meta(InboxEventSerializer.Meta):
        fields = [*InboxEventSerializer.Meta.fields, "payload"]
        read_only_fields = fields


@extend_schema(tags=["events"])
@extend_schema_view(
    list=extend_schema(summary="List inbox events, newest first"),
    retrieve=extend_schema(summary="One inbox event with its payload"),
)
class InboxEventViewSet(
    KnownQueryParameters,
    IntegerIds,
    JsonOnly,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The event inbox: every Stripe event as received, newest first.

    Read-only here; ``workflows.api.EventViewSet`` adds dispatching an event to the
    workflows (a layer above connections).
    """

    queryset = InboxEvent.objects.all()
    serializer_class = InboxEventSerializer
    filterset_class = InboxEventFilter

    def get_serializer_class(self):
        return InboxEventDetailSerializer if self.action == "retrieve" else InboxEventSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.defer("payload") if self.action == "list" else queryset
