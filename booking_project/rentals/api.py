"""HTTP endpoints of rentals: thin — parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from customers.permissions import IsStaff
from drivenow_contracts.server.errors import problem_docs
from drivenow_contracts.server.fields import parse_uuid
from payments import services as payment_services
from payments.errors import PaymentUnavailable
from payments.models import Payment
from payments.serializers import PaymentInput, PaymentOutput
from pricing import selectors as pricing_selectors
from pricing import services as pricing_services
from pricing.invoice import InvoiceHTMLRenderer, InvoicePDFRenderer, invoice_context
from pricing.serializers import ChargeInput, ChargeOutput

from . import errors, selectors, services
from .filters import RentalFilter
from .idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_HEADER, header_key, idempotent_start
from .models import Rental
from .serializers import (
    BOOKING_FIELDS,
    EndInput,
    ExtendInput,
    PickUpInput,
    RentalCreateInput,
    RentalOutput,
    rental_create_canonical,
)

NOT_FOUND = problem_docs("`rental_not_found`")
INVALID = problem_docs("`invalid` with `errors` per field, or `parse_error`")
AUTH = {
    401: problem_docs("`not_authenticated` or `authentication_failed`"),
    403: problem_docs("`permission_denied`: booking is for staff accounts"),
}


@extend_schema_view(
    list=extend_schema(summary="List rentals", responses={200: RentalOutput(many=True), 400: INVALID, **AUTH}),
    retrieve=extend_schema(summary="Get a rental", responses={200: RentalOutput, 404: NOT_FOUND, **AUTH}),
    create=extend_schema(
        summary="Start a rental now (a walk-in: `active`), or book a class or a car ahead for a window (`reserved`)",
        request=RentalCreateInput,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: RentalOutput,
            400: INVALID,
            409: problem_docs("`car_unavailable`, `class_unavailable`, or `idempotency_key_in_use`"),
            422: problem_docs(
                "`car_not_found`, `customer_not_found`, `customer_inactive`, `idempotency_key_reused`; for a "
                "booking `pickup_in_past`, `return_before_pickup`, `outside_opening_hours`, `window_too_short`, "
                "`vehicle_class_not_found`, `location_not_found`, or `invalid` (neither a walk-in nor a booking)"
            ),
            503: problem_docs(
                "`inventory_unavailable`: inventory could not be reached in time; `Retry-After` says when to try "
                "again. Without an Idempotency-Key the rental is `failed` and no car stays held (a release is "
                "queued). With one, the rental stays `pending`: a retry with the same key carries on with it, "
                "and if nobody retries, the relay's sweep fails it and releases its car."
            ),
            **AUTH,
        },
    ),
)
class RentalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rentals: a customer's use of a car, taken through inventory's reservation API."""

    queryset = Rental.objects.all()  # for the schema's path parameter type; reads go through selectors
    serializer_class = RentalOutput
    permission_classes = [IsStaff]
    filterset_class = RentalFilter
    ordering_fields = ["created_at", "started_at", "ended_at", "expected_return_at", "pickup_at", "return_at"]
    ordering = ["-created_at", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.rental_list()

    def get_object(self) -> Rental:
        return selectors.rental_get(rental_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = RentalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        start = _start_arguments(data.validated_data)
        return idempotent_start(
            request,
            body=rental_create_canonical(data.validated_data),
            render=lambda rental: RentalOutput(rental).data,
            start=lambda idempotency: services.rental_start(**start, idempotency=idempotency),
        )

    @extend_schema(
        summary="End a rental, with the return's readings (frees the car now, or through the outbox once inventory "
        "answers)",
        request=EndInput,
        responses={
            200: RentalOutput,
            400: INVALID,
            404: NOT_FOUND,
            409: problem_docs("`rental_not_active`: a pending, reserved or failed rental cannot be ended"),
            **AUTH,
        },
        description="Answers 200 even while inventory is down; ending a completed rental again answers it unchanged.",
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        data = EndInput(data=request.data)
        data.is_valid(raise_exception=True)
        readings = None
        if data.validated_data:
            given = dict(data.validated_data)
            readings = services.Readings(
                odometer_km=given.get("odometer_km"),
                fuel_eighths=given.get("fuel_eighths"),
                damage=given.get("damage", ""),
                location=given.get("return_location"),
                staff_user=request.user.get_username(),
            )
        return Response(RentalOutput(services.rental_end(rental_id=_rental_id(pk), readings=readings)).data)

    @extend_schema(
        summary="Hand the car over: the booking becomes active (another car of the class if the booked one is late)",
        request=PickUpInput,
        responses={
            200: RentalOutput,
            400: INVALID,
            404: NOT_FOUND,
            409: problem_docs(
                "`rental_not_reserved`, `class_unavailable` (the booked car is still out and no other is free), "
                "`not_started` (too early), `car_unavailable`, `odometer_decrease`"
            ),
            402: problem_docs(
                "`payment_required` (BOOKING_DEPOSIT_REQUIRED: no deposit authorised, and no `payment_method`, or "
                "it awaits 3-D Secure) or `payment_declined`: the car is not handed out"
            ),
            503: problem_docs("`inventory_unavailable` or `payment_unavailable`: nothing changed; try again"),
            **AUTH,
        },
    )
    @action(detail=True, methods=["post"], url_path="pick-up")
    def pick_up(self, request: Request, pk: str) -> Response:
        data = PickUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        readings = services.Readings(
            odometer_km=given["odometer_km"],
            fuel_eighths=given["fuel_eighths"],
            damage=given.get("damage", ""),
            staff_user=request.user.get_username(),
        )
        rental = services.rental_pick_up(
            rental_id=_rental_id(pk),
            readings=readings,
            car_id=given.get("car_id"),
            payment_method=given.get("payment_method"),
        )
        return Response(RentalOutput(rental).data)

    @extend_schema(
        summary="Cancel a booking not yet picked up; its car is released",
        request=None,
        responses={
            200: RentalOutput,
            404: NOT_FOUND,
            409: problem_docs("`rental_not_reserved`: only a reserved rental can be cancelled"),
            **AUTH,
        },
        description="Answers 200 even while inventory is down (the release goes through the outbox); twice: a no-op.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return Response(RentalOutput(services.rental_cancel(rental_id=_rental_id(pk))).data)

    @extend_schema(
        summary="Move the return time of a booking or an active rental",
        request=ExtendInput,
        responses={
            200: RentalOutput,
            400: INVALID,
            404: NOT_FOUND,
            409: problem_docs("`extension_conflict` (the car is booked after; nothing changed), `rental_not_active`"),
            422: problem_docs("`return_before_pickup`: the new return is not after the pick-up, or has passed"),
            503: problem_docs("`inventory_unavailable`: nothing changed; try again"),
            **AUTH,
        },
    )
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk: str) -> Response:
        data = ExtendInput(data=request.data)
        data.is_valid(raise_exception=True)
        rental = services.rental_extend(rental_id=_rental_id(pk), return_at=data.validated_data["return_at"])
        return Response(RentalOutput(rental).data)

    @extend_schema(
        methods=["GET"],
        summary="The rental's charges: its ledger, line by line (append-only; `price` is their sum)",
        request=None,
        responses={200: ChargeOutput(many=True), 404: NOT_FOUND, **AUTH},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a staff line to the ledger: an adjustment (negative: a credit) or a damage charge",
        request=ChargeInput,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: ChargeOutput,
            200: ChargeOutput,
            400: INVALID,
            404: NOT_FOUND,
            422: problem_docs(
                "`currency_mismatch` (the rental is billed in another currency) or `invalid` (a first line "
                "without a currency)"
            ),
            **AUTH,
        },
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, filter_backends=[], pagination_class=None)
    def charges(self, request: Request, pk: str) -> Response:
        rental_id = selectors.rental_get(rental_id=_rental_id(pk)).id
        if request.method == "GET":
            return Response(ChargeOutput(pricing_selectors.charge_list(rental_id=rental_id), many=True).data)
        data = ChargeInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = header_key(request)
        line, created = pricing_services.charge_add(
            rental_id=rental_id,
            source=f"staff:{key}" if key else f"staff:{uuid4()}",
            created_by=request.user.get_username(),
            **data.validated_data,
        )
        return Response(ChargeOutput(line).data, status=201 if created else 200)

    @extend_schema(
        methods=["GET"],
        summary="The rental's payments: deposits and charges, with their events",
        request=None,
        responses={200: PaymentOutput(many=True), 404: NOT_FOUND, **AUTH},
    )
    @extend_schema(
        methods=["POST"],
        summary="Authorise a deposit or take a charge on the customer's card, now",
        request=PaymentInput,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: PaymentOutput,
            200: PaymentOutput,
            400: INVALID,
            402: problem_docs("`payment_declined`, with the provider's `decline_code`: nothing was taken"),
            404: NOT_FOUND,
            409: problem_docs(
                "`payment_state`: a live payment of this purpose exists, nothing is due, or the rental "
                "is not in a state to pay"
            ),
            422: problem_docs(
                "`currency_mismatch`, `idempotency_key_reused`, or `invalid` (no price and no amount, "
                "no payment_method where the provider needs one)"
            ),
            503: problem_docs("`payment_unavailable`: the provider did not answer; nothing was taken"),
            **AUTH,
        },
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, filter_backends=[], pagination_class=None)
    def payments(self, request: Request, pk: str) -> Response:
        rental_id = selectors.rental_get(rental_id=_rental_id(pk)).id
        if request.method == "GET":
            listed = Payment.objects.filter(rental_id=rental_id).prefetch_related("events")
            return Response(PaymentOutput(listed, many=True).data)
        data = PaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment, created = payment_services.payment_create(
            rental_id=rental_id,
            idempotency_key=header_key(request) or "",
            created_by=request.user.get_username(),
            **data.validated_data,
        )
        return Response(PaymentOutput(payment).data, status=201 if created else 200)

    @extend_schema(
        summary="The rental's invoice: its charges ledger as a page, or as PDF with Accept: application/pdf",
        request=None,
        responses={
            (200, "text/html"): OpenApiTypes.STR,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: NOT_FOUND,
            503: problem_docs("`pdf_unavailable`: this host cannot render PDF; the page can be had"),
            **AUTH,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[InvoiceHTMLRenderer, InvoicePDFRenderer])
    def invoice(self, request: Request, pk: str) -> Response:
        rental = selectors.rental_get(rental_id=_rental_id(pk))
        return Response(invoice_context(rental))

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, (errors.RentalInventoryUnavailable, PaymentUnavailable)):
            response["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, errors.ReplayedProblem):
            response[REPLAYED_HEADER] = "true"
        return response


def _start_arguments(validated: dict[str, Any]) -> dict[str, Any]:
    """The start request as rental_start takes it: a walk-in, or a booking's window (422 if it is neither)."""
    booking = {name: validated[name] for name in BOOKING_FIELDS if name in validated}
    common = {"customer_id": validated["customer_id"], "car_id": validated.get("car_id")}
    if not booking:
        if validated.get("car_id") is None:
            raise errors.IncompleteBooking("Name the car (car_id) for a walk-in, or book a window.")
        return {**common, "expected_return_at": validated.get("expected_return_at")}
    missing = [name for name in ("pickup_location", "pickup_at", "return_at") if name not in booking]
    if missing:
        raise errors.IncompleteBooking(f"A booking needs {', '.join(missing)} as well.")
    if (validated.get("car_id") is None) == ("vehicle_class" not in booking):
        raise errors.IncompleteBooking("A booking names either the class (vehicle_class) or the car (car_id).")
    if validated.get("expected_return_at") is not None:
        raise errors.IncompleteBooking("A booking's return is return_at; expected_return_at is for a walk-in.")
    window = services.Window(
        pickup_location=booking["pickup_location"],
        pickup_at=booking["pickup_at"],
        return_at=booking["return_at"],
        vehicle_class=booking.get("vehicle_class"),
        return_location=booking.get("return_location"),
        quote_id=booking.get("quote_id"),
    )
    return {**common, "window": window}


def _rental_id(value: str) -> UUID:
    """A path id that is no UUID (in its 8-4-4-4-12 form) names no rental: 404, like an unknown one (no query needed
    to say so)."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise errors.RentalNotFound()
    return parsed
