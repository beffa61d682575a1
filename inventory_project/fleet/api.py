"""HTTP endpoints of the fleet: thin — parse, call a service or selector, render."""

from __future__ import annotations

from datetime import timedelta
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
from .permissions import CanManageReservations, IsStaff, IsStaffOrReadOnly
from .serializers import (
    AvailabilityOutput,
    AvailabilityQuery,
    BlockInput,
    CarCreateInput,
    CarOutput,
    CarUpdateInput,
    ExtendInput,
    LocationCreateInput,
    LocationOutput,
    LocationUpdateInput,
    PickUpInput,
    ReassignInput,
    ReleaseInput,
    ReservationCreateInput,
    ReservationOutput,
    ScheduleEntryOutput,
    ScheduleQuery,
    VehicleClassCreateInput,
    VehicleClassOutput,
    VehicleClassUpdateInput,
)

NOT_FOUND = problem_docs("`car_not_found`")
SCHEDULE_MAX_WINDOW = timedelta(days=366)
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

    @extend_schema(
        summary="Block the car for a window: maintenance or any planned absence (staff)",
        request=BlockInput,
        responses={
            201: ScheduleEntryOutput,
            400: INVALID,
            404: NOT_FOUND,
            409: problem_docs("`car_unavailable`: a hold or another block overlaps the window, or the car is retired"),
            422: problem_docs("`return_before_pickup`: the block does not end after it starts"),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def blocks(self, request: Request, pk: str) -> Response:
        data = BlockInput(data=request.data)
        data.is_valid(raise_exception=True)
        block = services.block_create(car_id=_uuid_or(pk, errors.CarNotFound), **data.validated_data)
        return Response(ScheduleEntryOutput(block).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Lift a block (staff); lifting it twice is a no-op",
        request=None,
        responses={204: None, 404: problem_docs("`car_not_found` or `block_not_found`")},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"blocks/(?P<block_id>[^/]+)",
        url_name="block-detail",
        permission_classes=[IsStaff],
    )
    def block(self, request: Request, pk: str, block_id: str) -> Response:
        car_id = _uuid_or(pk, errors.CarNotFound)
        selectors.car_get(car_id=car_id)
        services.block_delete(car_id=car_id, block_id=_uuid_or(block_id, errors.BlockNotFound))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The car's holds and blocks in a window, earliest first: the planning board's row (staff)",
        parameters=[ScheduleQuery],
        responses={
            200: ScheduleEntryOutput(many=True),
            400: INVALID,
            404: NOT_FOUND,
            422: problem_docs("`return_before_pickup`: `until` is not after `from`, or the window is over a year"),
        },
    )
    # No list filters, ordering or pages: the schedule is one window, earliest first (the schema must not offer an
    # `ordering` the view would ignore; random-seed fuzzing sent an invalid one and got 200).
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[IsStaff],
        filterset_class=None,
        filter_backends=[],
        pagination_class=None,
    )
    def schedule(self, request: Request, pk: str) -> Response:
        query = ScheduleQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        starts_at, ends_at = query.validated_data["from"], query.validated_data["until"]
        if ends_at <= starts_at:
            raise errors.ReturnBeforePickup("`until` must come after `from`.")
        if ends_at - starts_at > SCHEDULE_MAX_WINDOW:
            raise errors.ReturnBeforePickup("A schedule covers at most 366 days.")
        holds = selectors.car_schedule(car_id=_uuid_or(pk, errors.CarNotFound), starts_at=starts_at, ends_at=ends_at)
        return Response(ScheduleEntryOutput(holds, many=True).data)


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
                "`location_not_found` or `vehicle_class_not_found` (no branch or class has this code), "
                "`return_before_pickup` (the window does not end after it starts), or `outside_opening_hours` "
                "(a branch is closed at pick-up or at return)"
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
            return_location=query.validated_data.get("return_location"),
        )
        return Response(AvailabilityOutput(found, many=True).data)


RES_NOT_FOUND = problem_docs("`reservation_not_found`")


RESERVE_422 = problem_docs(
    "`car_not_found`, `vehicle_class_not_found` or `location_not_found` (nothing has this id or code); "
    "`return_before_pickup` (the window does not end after it starts, or is over); `invalid` (a class without a "
    "branch, a window without both ends, both a car and a class)"
)
HOLD_409 = "`reservation_conflict` (this hold was released)"


@extend_schema_view(
    create=extend_schema(
        summary="Hold a car (booking service): now and open-ended (v1), or for a window, by car or by class",
        request=ReservationCreateInput,
        responses={
            201: ReservationOutput,
            200: ReservationOutput,
            400: INVALID,
            409: problem_docs(
                "`car_unavailable` / `class_unavailable` (nothing free for the window), or `reservation_conflict` "
                "(this id holds another car or window, or was already released)"
            ),
            422: RESERVE_422,
        },
        description=(
            "Idempotent by `id`: replaying an id with the same request answers 200 with its hold. By class, "
            "inventory picks the best-fitting free car of the class at the branch and answers its `car_id`."
        ),
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
        body = dict(data.validated_data)
        reservation, created = services.reservation_create(reservation_id=body.pop("id"), **body)
        return Response(ReservationOutput(reservation).data, status=201 if created else 200)

    @extend_schema(
        summary="Release a hold (idempotent); a picked-up car comes back with its odometer, at its return branch",
        request=ReleaseInput,
        responses={
            200: ReservationOutput,
            400: INVALID,
            404: problem_docs(
                "`reservation_not_found`: inventory never held this id. The id is spent all the same: a reserve "
                "with it that arrives later is refused (409 `reservation_conflict`)."
            ),
            409: problem_docs(
                "`odometer_decrease` (the car's odometer reads more), or `reservation_conflict` (`unless_picked_up` "
                "and the car was picked up)"
            ),
            422: problem_docs("`location_not_found`: no branch has this code"),
        },
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        data = ReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        reservation = services.reservation_release(
            reservation_id=_uuid_or(pk, errors.ReservationNotFound), **data.validated_data
        )
        return Response(ReservationOutput(reservation).data)

    @extend_schema(
        summary="The car leaves for this hold: it becomes rented (idempotent)",
        request=PickUpInput,
        responses={
            200: ReservationOutput,
            400: INVALID,
            404: RES_NOT_FOUND,
            409: problem_docs(
                "`car_not_returned` (the car is still out on an earlier rental: reassign), `not_started` (too "
                f"early), `car_unavailable` (in maintenance or retired), `odometer_decrease`, {HOLD_409}"
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="pick-up")
    def pick_up(self, request: Request, pk: str) -> Response:
        data = PickUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.reservation_pick_up(
            reservation_id=_uuid_or(pk, errors.ReservationNotFound), **data.validated_data
        )
        return Response(ReservationOutput(hold).data)

    @extend_schema(
        summary="Move the hold's end (later or earlier)",
        request=ExtendInput,
        responses={
            200: ReservationOutput,
            400: INVALID,
            404: RES_NOT_FOUND,
            409: problem_docs(f"`extension_conflict` (the car is held or blocked after; nothing changed), {HOLD_409}"),
            422: problem_docs("`return_before_pickup`: the new end is not after the start, or is past"),
        },
    )
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk: str) -> Response:
        data = ExtendInput(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.reservation_extend(
            reservation_id=_uuid_or(pk, errors.ReservationNotFound), ends_at=data.validated_data["ends_at"]
        )
        return Response(ReservationOutput(hold).data)

    @extend_schema(
        summary="Move a hold not yet picked up to another free car of its class at its branch",
        request=ReassignInput,
        responses={
            200: ReservationOutput,
            400: INVALID,
            404: RES_NOT_FOUND,
            409: problem_docs(
                f"`class_unavailable` (no other car is free; nothing changed), or {HOLD_409} (or picked up)"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        data = ReassignInput(data=request.data)
        data.is_valid(raise_exception=True)
        hold = services.reservation_reassign(
            reservation_id=_uuid_or(pk, errors.ReservationNotFound), **data.validated_data
        )
        return Response(ReservationOutput(hold).data)
