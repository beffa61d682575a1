"""Customer routes; config/urls.py mounts this router's registry under /api/v1/."""

from rest_framework.routers import SimpleRouter

from .api import CustomerViewSet

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
