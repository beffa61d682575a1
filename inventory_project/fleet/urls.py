from django.urls import path
from rest_framework.routers import DefaultRouter

from .api import AvailabilityView, CarViewSet, LocationViewSet, ReservationViewSet, VehicleClassViewSet

router = DefaultRouter()
router.register("cars", CarViewSet, basename="car")
router.register("reservations", ReservationViewSet, basename="reservation")
router.register("locations", LocationViewSet, basename="location")
router.register("vehicle-classes", VehicleClassViewSet, basename="vehicle-class")

urlpatterns = [path("availability/", AvailabilityView.as_view(), name="availability"), *router.urls]
