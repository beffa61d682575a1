"""HTTP endpoints of rentals: thin — parse, call a service or selector, render."""
from __future__ import annotations

import re
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from customers.permissions import IsStaff
from drivenow_servicekit.errors import problem_docs
from drivenow_servicekit.fields import parse_uuid

from . import errors, selectors, services
from .filters import RentalFilter
from .idempotency import IdempotencyRequest, StoredResponse, idempotency_fingerprint
from .models import Rental
from .serializers import RentalCreateInput, RentalOutput, rental_create_canonical

NOT_FOUND = problem_docs("`rental_not_found`")
INVALID = problem_docs("`invalid` with `errors` per field, or `parse_error`")
AUTH = {
    401: problem_docs("`not_authenticated` or `authentication_failed`"),
    403: problem_docs("`permission_denied`: booking is for staff accounts"),
}
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII, as the header's sf-string allows; fullmatch, since `$` would let a final newline through.
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=f"^{_IDEMPOTENCY_KEY.pattern}$",
    description=(
        "Makes the request safe to retry (1–255 visible ASCII characters, kept 24 h). The same key with the same "
        "body answers the first response again (status and body, with `Idempotent-Replayed: true`); with another "
        "body 422 `idempotency_key_reused`; while the first is still running 409 `idempotency_key_in_use`. "
        "A 503 is not kept: retrying with the same key tries again."
    ),
)


def _idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    key = raw.strip(" \t")  # the header's optional whitespace (RFC 9110), nothing else
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise exceptions.ValidationError({"Idempotency-Key": ["1–255 visible ASCII characters, no spaces."]})
    return key


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
                "`inventory_unavailable`: inventory could not be reached in time. The rental is `failed`, no car "
                "stays held (a release is queued), and `Retry-After` says when to try again."
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
        key = _idempotency_key(request)
        idempotency = None
        if key is not None:
            canonical = rental_create_canonical(data.validated_data)
            idempotency = IdempotencyRequest(key, idempotency_fingerprint(body=canonical, user_id=request.user.pk))
        result = services.rental_start(**data.validated_data, idempotency=idempotency)
        if isinstance(result, StoredResponse):
            return _replay(result)
        return Response(RentalOutput(result).data, status=status.HTTP_201_CREATED)

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
        if isinstance(exc, errors.InventoryUnavailable):
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


def _replay(stored: StoredResponse) -> Response:
    if stored.status >= 400:
        # Raised again so the problem renders exactly as the first time (content type, instance).
        raise errors.ReplayedProblem(status=stored.status, code=stored.body["code"], detail=stored.body["detail"])
    return Response(stored.body, status=stored.status, headers={REPLAYED_HEADER: "true"})
