from rest_framework.routers import DefaultRouter

from .api import CarViewSet, ReservationViewSet

router = DefaultRouter()
router.register("cars", CarViewSet, basename="car")
router.register("reservations", ReservationViewSet, basename="reservation")

urlpatterns = router.urls
