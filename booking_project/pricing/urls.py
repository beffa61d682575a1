"""Price routes; config/urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from .api import ExtraViewSet, QuoteViewSet, RatePlanViewSet

router = SimpleRouter()
router.register("rate-plans", RatePlanViewSet, basename="rate-plan")
router.register("extras", ExtraViewSet, basename="extra")
router.register("quotes", QuoteViewSet, basename="quote")

urlpatterns = router.urls
