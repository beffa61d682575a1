"""Payment routes; config/urls.py mounts this router's registry and the webhook under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import PaymentViewSet, WebhookView

router = SimpleRouter()
router.register("payments", PaymentViewSet, basename="payment")

webhook_urls = [path("payments/webhooks/<str:provider>/", WebhookView.as_view(), name="payment-webhook")]
