"""Top-level URLs: admin, healthcheck, metrics, the REST API, the Stripe webhook receiver."""

from django.contrib import admin
from django.urls import include, path

from konnectify.health import healthz
from konnectify.platform.metrics import MetricsView

admin.site.site_header = "Konnectify: Stripe automation"
admin.site.site_title = "Konnectify"
admin.site.index_title = "Back-office"
# The product has no public site: admin's "View site" link would lead to a 404.
admin.site.site_url = None

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("konnectify.api.urls")),
    path("", include("connections.urls")),
]
