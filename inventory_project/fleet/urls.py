from rest_framework.routers import DefaultRouter

from .api import CarViewSet, LocationViewSet, ReservationViewSet, VehicleClassViewSet

router = DefaultRouter()
router.register("cars", CarViewSet, basename="car")
router.register("reservations", ReservationViewSet, basename="reservation")
router.register("locations", LocationViewSet, basename="location")
router.register("vehicle-classes", VehicleClassViewSet, basename="vehicle-class")

urlpatterns = router.urls
