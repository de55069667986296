"""``/api/v1/`` and the OpenAPI schema with its documentation pages."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from connections.api import ConnectionViewSet
from connections.credentials_api import CredentialViewSet
from konnectify.api import catalog
from konnectify.api.index import ApiIndex, RedocPage, SwaggerPage
from konnectify.platform.api.base import NoSuchEndpoint
from workflows.api import AutomationViewSet, EventViewSet, RunViewSet, WorkflowViewSet

router = SimpleRouter(trailing_slash=True)
router.register("catalog/triggers", catalog.TriggerViewSet, basename="trigger")
router.register("catalog/actions", catalog.ActionViewSet, basename="action")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("credentials", CredentialViewSet, basename="credential")
router.register("automations", AutomationViewSet, basename="automation")
router.register("events", EventViewSet, basename="event")
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("runs", RunViewSet, basename="run")

urlpatterns = [
    path("v1/", ApiIndex.as_view(), name="api-index"),
    path("v1/", include(router.urls)),
    # Like every API endpoint, the schema is for authenticated callers (SERVE_PERMISSIONS);
    # its pages tell an anonymous visitor how to authenticate.
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SwaggerPage.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocPage.as_view(url_name="api-schema"), name="api-redoc"),
    # Anything else under /api/ answers 404 in the error format, not Django's HTML page.
    re_path(r"^", NoSuchEndpoint.as_view()),
]
