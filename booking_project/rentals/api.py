"""HTTP endpoints of rentals: thin — parse, call a service or selector, render."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from customers.permissions import IsStaff
from drivenow_contracts.server.errors import problem_docs
from drivenow_contracts.server.fields import parse_uuid

from . import errors, selectors, services
from .filters import RentalFilter
from .idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_HEADER, idempotent_start
from .models import Rental
from .serializers import RentalCreateInput, RentalOutput, rental_create_canonical

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
        summary="Start a rental: takes the car through inventory and answers at once",
        request=RentalCreateInput,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: RentalOutput,
            400: INVALID,
            409: problem_docs("`car_unavailable`, or `idempotency_key_in_use`"),
            422: problem_docs(
                "`car_not_found`, `customer_not_found`, `customer_inactive`, or `idempotency_key_reused`"
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
    ordering_fields = ["created_at", "started_at", "ended_at", "expected_return_at"]
    ordering = ["-created_at", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.rental_list()

    def get_object(self) -> Rental:
        return selectors.rental_get(rental_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = RentalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return idempotent_start(
            request,
            body=rental_create_canonical(data.validated_data),
            render=lambda rental: RentalOutput(rental).data,
            start=lambda idempotency: services.rental_start(**data.validated_data, idempotency=idempotency),
        )

    @extend_schema(
        summary="End a rental (frees the car now, or through the outbox once inventory answers)",
        request=None,
        responses={
            200: RentalOutput,
            404: NOT_FOUND,
            409: problem_docs("`rental_not_active`: a pending or failed rental cannot be ended"),
            **AUTH,
        },
        description="Answers 200 even while inventory is down; ending a completed rental again answers it unchanged.",
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        return Response(RentalOutput(services.rental_end(rental_id=_rental_id(pk))).data)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, errors.RentalInventoryUnavailable):
            response["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, errors.ReplayedProblem):
            response[REPLAYED_HEADER] = "true"
        return response


def _rental_id(value: str) -> UUID:
    """A path id that is no UUID (in its 8-4-4-4-12 form) names no rental: 404, like an unknown one (no query needed
    to say so)."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise errors.RentalNotFound()
    return parsed
