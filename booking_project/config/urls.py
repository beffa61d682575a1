"""Routes of the booking service: the API, its docs, the admin, health and metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from config.metrics import metrics_view
from customers.urls import router as customers_router
from drivenow_contracts.server import health
from payments.urls import router as payments_router
from payments.urls import webhook_urls
from pricing.urls import router as pricing_router
from rentals.urls import router as rentals_router

# One browsable API root listing both apps' resources.
api = DefaultRouter()
api.registry.extend(
    [*customers_router.registry, *rentals_router.registry, *pricing_router.registry, *payments_router.registry]
)

urlpatterns = [
    path("", RedirectView.as_view(url="/docs", permanent=False)),
    path("api/v1/", include(webhook_urls)),  # before the router: its payments/{pk}/ would take the path
    path("api/v1/", include(api.urls)),
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
