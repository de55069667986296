"""``/api/v1/``: an index of the API's resources, and the documentation pages.

The documentation pages (Swagger UI, Redoc) are HTML for people signed in to admin;
an anonymous visitor gets a page saying how to authenticate instead of a bare 401.
Everything they load is served by the product (drf-spectacular-sidecar): no CDN, no
web fonts.
"""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from konnectify.platform.api.base import KnownQueryParameters
from konnectify.platform.api.errors import AUTHENTICATE

# (path under /api/v1/, URL name of its list, what it is), in the order a newcomer needs them.
RESOURCES = (
    ("connections", "connection-list", "Stripe accounts: one key each, and its webhook."),
    ("credentials", "credential-list", "Secrets HTTP request steps send to other systems."),
    ("catalog/triggers", "trigger-list", "The Stripe event types a workflow can start on."),
    ("catalog/actions", "action-list", "The calls a step can make, with input schemas."),
    ("automations", "automation-list", "Popular automations: ready-made workflows to apply."),
    ("workflows", "workflow-list", "A trigger on one connection and the steps it runs."),
    ("runs", "run-list", "Each run of a workflow, with its steps' inputs and outputs."),
    ("events", "event-list", "The inbox: every Stripe event received, once per connection."),
)


class ResourceSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The resource's path under /api/v1/.")
    url = serializers.URLField(help_text="Its list.")
    description = serializers.CharField()


class IndexSerializer(serializers.Serializer):
    resources = ResourceSerializer(many=True)
    schema = serializers.URLField(
        help_text="The OpenAPI schema (JSON with Accept: application/json, YAML otherwise)."
    )
    docs = serializers.URLField(help_text="Swagger UI, for people signed in to admin.")
    redoc = serializers.URLField(help_text="Redoc, for people signed in to admin.")
    authentication = serializers.CharField(help_text="How to authenticate.")


class ApiIndex(KnownQueryParameters, APIView):
    """What the API holds and where its schema and documentation are."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="List the API's resources",
        tags=["index"],
        responses={200: IndexSerializer},
    )
    def get(self, request) -> Response:
        def url(name: str) -> str:
            return request.build_absolute_uri(reverse(name))

        body = {
            "resources": [
                {"name": name, "url": url(list_name), "description": text}
                for name, list_name, text in RESOURCES
            ],
            "schema": url("api-schema"),
            "docs": url("api-docs"),
            "redoc": url("api-redoc"),
            "authentication": AUTHENTICATE,
        }
        return Response(body)


class SignInFirst:
    """An anonymous visitor gets a page saying how to authenticate (401), not a bare 401.

    The page itself holds nothing: the documentation reads the schema with the
    visitor's credentials, which /api/schema/ checks.
    """

    permission_classes = [AllowAny]

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return super().get(request, *args, **kwargs)
        login = reverse("admin:login") + "?next=" + request.path
        context = {"login_url": login, "schema_url": reverse("api-schema")}
        return TemplateResponse(
            request, "api/sign_in.html", context, status=status.HTTP_401_UNAUTHORIZED
        )


@extend_schema(exclude=True)
class SwaggerPage(SignInFirst, SpectacularSwaggerView):
    """Swagger UI (served from the product's static files)."""


@extend_schema(exclude=True)
class RedocPage(SignInFirst, SpectacularRedocView):
    """Redoc (served from the product's static files, without web fonts from Google)."""

    template_name = "api/redoc.html"
