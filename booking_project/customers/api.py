"""HTTP endpoints of customers: thin — parse, call a service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from drivenow_contracts.server.errors import problem_docs

from . import selectors, services
from .filters import CustomerFilter
from .models import Customer
from .permissions import IsStaff
from .serializers import CustomerCreateInput, CustomerOutput, CustomerUpdateInput

NOT_FOUND = problem_docs("`customer_not_found`")
INVALID = problem_docs("`invalid` with `errors` per field, or `parse_error`")
UNAUTHENTICATED = problem_docs("`not_authenticated` or `authentication_failed`")
FORBIDDEN = problem_docs("`permission_denied`: booking is for staff accounts")
AUTH = {401: UNAUTHENTICATED, 403: FORBIDDEN}


@extend_schema_view(
    list=extend_schema(summary="List customers", responses={200: CustomerOutput(many=True), 400: INVALID, **AUTH}),
    retrieve=extend_schema(summary="Get a customer", responses={200: CustomerOutput, 404: NOT_FOUND, **AUTH}),
    create=extend_schema(
        summary="Add a customer",
        request=CustomerCreateInput,
        responses={
            201: CustomerOutput,
            400: INVALID,
            409: problem_docs("`customer_exists`: an active customer has this email"),
            **AUTH,
        },
    ),
    partial_update=extend_schema(
        summary="Change a customer",
        request=CustomerUpdateInput,
        responses={
            200: CustomerOutput,
            400: INVALID,
            404: NOT_FOUND,
            409: problem_docs("`customer_exists` (email taken) or `customer_inactive` (deactivated)"),
            **AUTH,
        },
    ),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The people who rent. Deactivating one anonymises them and keeps their rentals."""

    queryset = Customer.objects.all()  # for the schema's path parameter type; reads go through selectors
    serializer_class = CustomerOutput
    permission_classes = [IsStaff]
    filterset_class = CustomerFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["created_at", "id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.customer_list()

    def get_object(self) -> Customer:
        return selectors.customer_get(customer_id=self.kwargs["pk"])

    def create(self, request: Request) -> Response:
        data = CustomerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_create(**data.validated_data)
        return Response(CustomerOutput(customer).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        customer_id = selectors.customer_get(customer_id=pk).id
        data = CustomerUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = services.customer_update(customer_id=customer_id, **data.validated_data)
        return Response(CustomerOutput(customer).data)

    @extend_schema(
        summary="Deactivate a customer (anonymises; rentals kept; idempotent)",
        request=None,
        responses={200: CustomerOutput, 404: NOT_FOUND, **AUTH},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        customer_id = selectors.customer_get(customer_id=pk).id
        return Response(CustomerOutput(services.customer_deactivate(customer_id=customer_id)).data)
