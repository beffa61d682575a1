"""HTTP endpoints of prices: thin — parse, call a service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from drivenow_contracts.server.errors import problem_docs

from . import selectors, services
from .filters import ExtraFilter, RatePlanFilter
from .models import Extra, Quote, RatePlan
from .permissions import IsStaffOrReadOnly
from .serializers import ExtraInput, ExtraOutput, QuoteInput, QuoteOutput, RatePlanInput, RatePlanOutput

INVALID = problem_docs("`invalid` with `errors` per field, or `parse_error`")
WRITE_AUTH = {
    401: problem_docs("`not_authenticated` or `authentication_failed`"),
    403: problem_docs("`permission_denied`: prices are changed by staff"),
}
PLAN_NOT_FOUND = problem_docs("`rate_plan_not_found`")
PLAN_409 = problem_docs("`rate_plan_overlap`: another plan for the class and branch is in force then")
PLAN_422 = problem_docs("`invalid`: the validity does not end after it starts")


@extend_schema_view(
    list=extend_schema(summary="List rate plans", responses={200: RatePlanOutput(many=True), 400: INVALID}),
    retrieve=extend_schema(summary="Get a rate plan", responses={200: RatePlanOutput, 404: PLAN_NOT_FOUND}),
    create=extend_schema(
        summary="Add a rate plan (amounts in minor units)",
        request=RatePlanInput,
        responses={201: RatePlanOutput, 400: INVALID, 409: PLAN_409, 422: PLAN_422, **WRITE_AUTH},
    ),
    partial_update=extend_schema(
        summary="Change a rate plan (quotes already given keep their price)",
        request=RatePlanInput,
        responses={200: RatePlanOutput, 400: INVALID, 404: PLAN_NOT_FOUND, 409: PLAN_409, 422: PLAN_422, **WRITE_AUTH},
    ),
)
class RatePlanViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """What each vehicle class costs by the hour, day and week, over a validity, at a branch or at every branch."""

    queryset = RatePlan.objects.all()  # for the schema's path parameter type; reads go through selectors
    serializer_class = RatePlanOutput
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = RatePlanFilter
    ordering_fields = ["valid_from", "created_at"]
    ordering = ["vehicle_class", "location", "valid_from", "id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.rate_plan_list()

    def get_object(self) -> RatePlan:
        return selectors.rate_plan_get(plan_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = RatePlanInput(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.rate_plan_create(**data.validated_data)
        return Response(RatePlanOutput(plan).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        plan_id = selectors.rate_plan_get(plan_id=pk).id
        data = RatePlanInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        plan = services.rate_plan_update(plan_id=plan_id, **data.validated_data)
        return Response(RatePlanOutput(plan).data)


@extend_schema_view(
    list=extend_schema(summary="List extras", responses={200: ExtraOutput(many=True), 400: INVALID}),
    retrieve=extend_schema(
        summary="Get an extra", responses={200: ExtraOutput, 404: problem_docs("`extra_not_found`")}
    ),
    create=extend_schema(
        summary="Add an extra (price in minor units, per day or per rental)",
        request=ExtraInput,
        responses={
            201: ExtraOutput,
            400: INVALID,
            409: problem_docs("`extra_exists`: an extra has this code"),
            **WRITE_AUTH,
        },
    ),
)
class ExtraViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """What a rental may add: a child seat, a GPS, a second driver."""

    queryset = Extra.objects.all()
    serializer_class = ExtraOutput
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ExtraFilter
    ordering_fields = ["code", "created_at"]
    ordering = ["code", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.extra_list()

    def get_object(self) -> Extra:
        return selectors.extra_get(extra_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = ExtraInput(data=request.data)
        data.is_valid(raise_exception=True)
        extra = services.extra_create(**data.validated_data)
        return Response(ExtraOutput(extra).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(summary="Get a quote", responses={200: QuoteOutput, 404: problem_docs("`quote_not_found`")}),
    create=extend_schema(
        summary="Price a class at a branch for a window",
        request=QuoteInput,
        responses={
            201: QuoteOutput,
            400: INVALID,
            422: problem_docs(
                "`no_rate_plan` (no plan prices the class at the branch for part of the window), "
                "`currency_mismatch` (its plans or extras are in different currencies), `extra_not_found`, "
                "`return_before_pickup`, `pickup_in_past`, or `invalid` (more of an extra than it allows, one "
                "extra twice, a window over 366 days)"
            ),
        },
    ),
)
class QuoteViewSet(mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """A price for a window, line by line, each naming its rule; it holds until `expires_at`. Anyone may ask."""

    queryset = Quote.objects.all()
    serializer_class = QuoteOutput
    permission_classes = [AllowAny]
    http_method_names = ["get", "post", "head", "options"]

    def get_object(self) -> Quote:
        return selectors.quote_get(quote_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = services.quote_create(**data.validated_data)
        return Response(QuoteOutput(quote).data, status=status.HTTP_201_CREATED)
