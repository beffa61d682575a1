"""Rental routes; config/urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from .api import RentalViewSet

router = SimpleRouter()
router.register("rentals", RentalViewSet, basename="rental")

urlpatterns = router.urls
