"""``/api/v1/catalog/``: the triggers and actions, read straight from the registry."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from konnectify.platform.api import examples
from konnectify.platform.api.base import KnownQueryParameters
from stripe_connector.catalog import ACTIONS, TRIGGERS


class TriggerSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stripe event type, or 'custom'.")
    label = serializers.CharField()
    group = serializers.CharField()
    description = serializers.CharField()
    event_type = serializers.CharField(allow_null=True)
    sample = examples.json_object(
        examples.EVENT, help_text="An example event in Stripe's current shape."
    )


class ActionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    group = serializers.CharField()
    description = serializers.CharField()
    method = serializers.CharField(help_text="The Stripe call's HTTP method.")
    path = serializers.CharField(help_text="The Stripe call's path, e.g. /v1/customers/{id}.")
    mutates = serializers.BooleanField(help_text="Whether the action writes in Stripe.")
    input_schema = examples.json_object(
        examples.INPUT_SCHEMA, help_text="JSON Schema of the action's input."
    )


class CatalogViewSet(KnownQueryParameters, viewsets.ViewSet):
    """Read-only listing of one registry; any authenticated caller may read the catalog."""

    permission_classes = [IsAuthenticated]
    pagination_class = None
    lookup_value_regex = r"[^/]+"
    registry: dict = {}

    def list(self, request):
        return Response(self.serializer_class(self.registry.values(), many=True).data)

    def retrieve(self, request, pk: str):
        if pk not in self.registry:
            raise NotFound(f"No {self.basename} with key {pk!r}.")
        return Response(self.serializer_class(self.registry[pk]).data)


@extend_schema(tags=["catalog"])
@extend_schema_view(
    list=extend_schema(summary="List the triggers (Stripe event types) a workflow can start on"),
    retrieve=extend_schema(summary="One trigger, with a sample event"),
)
class TriggerViewSet(CatalogViewSet):
    serializer_class = TriggerSerializer
    registry = TRIGGERS


@extend_schema(tags=["catalog"])
@extend_schema_view(
    list=extend_schema(summary="List the actions (Stripe calls) a step can make"),
    retrieve=extend_schema(summary="One action, with the JSON Schema of its input"),
)
class ActionViewSet(CatalogViewSet):
    serializer_class = ActionSerializer
    registry = ACTIONS
