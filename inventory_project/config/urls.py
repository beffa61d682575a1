"""Routes of the inventory service: the API, its docs, the admin, health and metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.metrics import metrics_view
from drivenow_contracts.server import health

urlpatterns = [
    path("", RedirectView.as_view(url="/docs", permanent=False)),
    path("api/v1/", include("fleet.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("metrics", metrics_view, name="metrics"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
]

handler400 = "drivenow_contracts.server.errors.handler400"
handler403 = "drivenow_contracts.server.errors.handler403"
handler404 = "drivenow_contracts.server.errors.handler404"
handler500 = "drivenow_contracts.server.errors.handler500"
