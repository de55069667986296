"""``/api/v1/`` and the OpenAPI schema with its documentation pages."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import SimpleRouter

from connections.api import ConnectionViewSet, InboxEventViewSet
from konnectify.api import catalog
from konnectify.platform.api.base import NoSuchEndpoint
from workflows.api import RunViewSet, WorkflowViewSet

router = SimpleRouter(trailing_slash=True)
router.register("catalog/triggers", catalog.TriggerViewSet, basename="trigger")
router.register("catalog/actions", catalog.ActionViewSet, basename="action")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("events", InboxEventViewSet, basename="event")
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("runs", RunViewSet, basename="run")

# Like every API endpoint, the schema and its pages are for authenticated callers.
DOCS = {"url_name": "api-schema", "permission_classes": [IsAuthenticated]}

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(**DOCS), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(**DOCS), name="api-redoc"),
    # Anything else under /api/ answers 404 in the error format, not Django's HTML page.
    re_path(r"^", NoSuchEndpoint.as_view()),
]
