"""HTTP endpoints of the fleet: thin — parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drivenow_contracts.server.errors import DomainError, problem_docs
from drivenow_contracts.server.fields import parse_uuid

from . import errors, selectors, services
from .filters import CarFilter, ReservationFilter
from .models import Car, Location, Reservation, VehicleClass
from .permissions import CanManageReservations, IsStaffOrReadOnly
from .serializers import (
    AvailabilityOutput,
    AvailabilityQuery,
    CarCreateInput,
    CarOutput,
    CarUpdateInput,
    LocationCreateInput,
    LocationOutput,
    LocationUpdateInput,
    ReservationCreateInput,
    ReservationOutput,
    VehicleClassCreateInput,
    VehicleClassOutput,
    VehicleClassUpdateInput,
)

NOT_FOUND = problem_docs("`car_not_found`")
INVALID = problem_docs("`invalid` with `errors` per field, or `parse_error`")


@extend_schema_view(
    list=extend_schema(
        summary="List cars",
        responses={
            200: CarOutput(many=True),
            400: INVALID,
            422: problem_docs("`return_before_pickup`: available_until is not after available_from (or now)"),
        },
    ),
    retrieve=extend_schema(summary="Get a car", responses={200: CarOutput, 404: NOT_FOUND}),
    create=extend_schema(
        summary="Add a car (staff)",
        request=CarCreateInput,
        responses={
            201: CarOutput,
            400: INVALID,
            409: problem_docs("`car_exists` (same id or plate)"),
            422: problem_docs("`vehicle_class_not_found` or `location_not_found`: no class or branch has this code"),
        },
    ),
    partial_update=extend_schema(
        summary="Change a car (staff)",
        request=CarUpdateInput,
        responses={
            200: CarOutput,
            400: INVALID,
            404: NOT_FOUND,
            409: problem_docs(
                "`invalid_status_transition`, `car_exists` (plate taken) or `odometer_decrease` (it never goes down)"
            ),
            422: problem_docs("`vehicle_class_not_found` or `location_not_found`: no class or branch has this code"),
        },
    ),
    destroy=extend_schema(
        summary="Delete a car that was never reserved (staff)",
        responses={204: None, 404: NOT_FOUND, 409: problem_docs("`car_has_history`: retire it instead")},
    ),
)
class CarViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The fleet. Anyone may read it; staff change it. `rented` is set only by reservations."""

    serializer_class = CarOutput
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = CarFilter
    ordering_fields = ["model", "year", "status", "created_at", "updated_at"]
    ordering = ["created_at", "id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.car_list()

    def get_object(self) -> Car:
        return selectors.car_get(car_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = CarCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        car = services.car_create(**data.validated_data)
        return Response(CarOutput(car).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        car_id = _uuid_or(pk, errors.CarNotFound)
        data = CarUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        car = services.car_update(car_id=car_id, **data.validated_data)
        return Response(CarOutput(car).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.car_delete(car_id=_uuid_or(pk, errors.CarNotFound))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _uuid_or(value: str, not_found: type[DomainError]) -> UUID:
    """A path id that is no UUID (in its 8-4-4-4-12 form) names nothing: the resource's own 404, not a validation
    error."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise not_found()
    return parsed


class _CodedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Branches and vehicle classes: anyone reads them, staff add and change them through their services."""

    permission_classes = [IsStaffOrReadOnly]
    ordering = ["code"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    create_input: type[serializers.Serializer]  # type: ignore[type-arg]
    update_input: type[serializers.Serializer]  # type: ignore[type-arg]
    not_found: type[DomainError]

    def _create(self, **data: Any) -> Any:
        raise NotImplementedError

    def _update(self, pk: UUID, **changes: Any) -> Any:
        raise NotImplementedError

    def create(self, request: Request) -> Response:
        data = self.create_input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self.get_serializer(self._create(**data.validated_data)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        row_id = _uuid_or(pk, self.not_found)
        data = self.update_input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(self.get_serializer(self._update(row_id, **data.validated_data)).data)


LOCATION_NOT_FOUND = problem_docs("`location_not_found`")


@extend_schema_view(
    list=extend_schema(summary="List branches", responses={200: LocationOutput(many=True), 400: INVALID}),
    retrieve=extend_schema(summary="Get a branch", responses={200: LocationOutput, 404: LOCATION_NOT_FOUND}),
    create=extend_schema(
        summary="Add a branch (staff)",
        request=LocationCreateInput,
        responses={201: LocationOutput, 400: INVALID, 409: problem_docs("`location_exists` (same id or code)")},
    ),
    partial_update=extend_schema(
        summary="Change a branch (staff)",
        request=LocationUpdateInput,
        responses={
            200: LocationOutput,
            400: INVALID,
            404: LOCATION_NOT_FOUND,
            409: problem_docs("`location_exists` (code taken)"),
        },
    ),
)
class LocationViewSet(_CodedViewSet):
    """Branches: where cars are picked up and returned. Anyone may read them; staff change them."""

    serializer_class = LocationOutput
    create_input, update_input, not_found = LocationCreateInput, LocationUpdateInput, errors.LocationNotFound
    ordering_fields = ["code", "name", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.location_list()

    def get_object(self) -> Location:
        return selectors.location_get(location_id=self.kwargs["pk"])

    def _create(self, **data: Any) -> Location:
        return services.location_create(**data)

    def _update(self, pk: UUID, **changes: Any) -> Location:
        return services.location_update(location_id=pk, **changes)


VEHICLE_CLASS_NOT_FOUND = problem_docs("`vehicle_class_not_found`")


@extend_schema_view(
    list=extend_schema(summary="List vehicle classes", responses={200: VehicleClassOutput(many=True), 400: INVALID}),
    retrieve=extend_schema(
        summary="Get a vehicle class", responses={200: VehicleClassOutput, 404: VEHICLE_CLASS_NOT_FOUND}
    ),
    create=extend_schema(
        summary="Add a vehicle class (staff)",
        request=VehicleClassCreateInput,
        responses={
            201: VehicleClassOutput,
            400: INVALID,
            409: problem_docs("`vehicle_class_exists` (same id or code)"),
        },
    ),
    partial_update=extend_schema(
        summary="Change a vehicle class (staff)",
        request=VehicleClassUpdateInput,
        responses={
            200: VehicleClassOutput,
            400: INVALID,
            404: VEHICLE_CLASS_NOT_FOUND,
            409: problem_docs("`vehicle_class_exists` (code taken)"),
        },
    ),
)
class VehicleClassViewSet(_CodedViewSet):
    """What customers book: a kind of car, and the turnaround its cars need between holds."""

    serializer_class = VehicleClassOutput
    create_input, update_input = VehicleClassCreateInput, VehicleClassUpdateInput
    not_found = errors.VehicleClassNotFound
    ordering_fields = ["code", "name", "seats", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.vehicle_class_list()

    def get_object(self) -> VehicleClass:
        return selectors.vehicle_class_get(vehicle_class_id=self.kwargs["pk"])

    def _create(self, **data: Any) -> VehicleClass:
        return services.vehicle_class_create(**data)

    def _update(self, pk: UUID, **changes: Any) -> VehicleClass:
        return services.vehicle_class_update(vehicle_class_id=pk, **changes)


class AvailabilityView(APIView):
    """How many cars of each class a branch has free for a window: the question a booking asks first."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Cars free for a window at a branch, per vehicle class",
        parameters=[AvailabilityQuery],
        responses={
            200: AvailabilityOutput(many=True),
            400: INVALID,
            422: problem_docs(
                "`location_not_found` or `vehicle_class_not_found` (no branch or class has this code), or "
                "`return_before_pickup` (the window does not end after it starts)"
            ),
        },
    )
    def get(self, request: Request) -> Response:
        # An optional parameter sent empty is one left out, as on every list (the schema says so).
        query = AvailabilityQuery(data={name: value for name, value in request.query_params.items() if value})
        query.is_valid(raise_exception=True)
        if query.validated_data["return_at"] <= query.validated_data["pickup_at"]:
            raise errors.ReturnBeforePickup("The return must come after the pick-up.")
        found = selectors.availability(
            location=query.validated_data["location"],
            starts_at=query.validated_data["pickup_at"],
            ends_at=query.validated_data["return_at"],
            vehicle_class=query.validated_data.get("vehicle_class"),
        )
        return Response(AvailabilityOutput(found, many=True).data)


RES_NOT_FOUND = problem_docs("`reservation_not_found`")


@extend_schema_view(
    create=extend_schema(
        summary="Hold a car (booking service)",
        request=ReservationCreateInput,
        responses={
            201: ReservationOutput,
            200: ReservationOutput,
            400: INVALID,
            409: problem_docs(
                "`car_unavailable`, or `reservation_conflict` (this id holds another car, or was already released)"
            ),
            422: problem_docs("`car_not_found`"),
        },
        description="Idempotent by `id`: replaying an id that already holds this car answers 200 with it.",
    ),
    retrieve=extend_schema(summary="Get a reservation", responses={200: ReservationOutput, 404: RES_NOT_FOUND}),
    list=extend_schema(
        summary="List holds (booking service): what its reconciler compares with its rentals",
        responses={200: ReservationOutput(many=True), 400: INVALID},
    ),
)
class ReservationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Holds on cars. Only the booking service's account may use them."""

    queryset = Reservation.objects.all()  # for the schema's path parameter type; reads go through selectors
    serializer_class = ReservationOutput
    permission_classes = [CanManageReservations]
    filterset_class = ReservationFilter
    ordering_fields = ["created_at"]
    ordering = ["created_at", "id"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.reservation_list()

    def get_object(self):  # type: ignore[no-untyped-def]
        return selectors.reservation_get(reservation_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = ReservationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation, created = services.reservation_create(
            reservation_id=data.validated_data["id"], car_id=data.validated_data["car_id"]
        )
        return Response(ReservationOutput(reservation).data, status=201 if created else 200)

    @extend_schema(
        summary="Release a hold (idempotent)",
        request=None,
        responses={
            200: ReservationOutput,
            404: problem_docs(
                "`reservation_not_found`: inventory never held this id. The id is spent all the same: a reserve "
                "with it that arrives later is refused (409 `reservation_conflict`)."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        reservation = services.reservation_release(reservation_id=_uuid_or(pk, errors.ReservationNotFound))
        return Response(ReservationOutput(reservation).data)
