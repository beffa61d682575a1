"""HTTP endpoints of payments: thin — parse, call a service, render. A rental's payments are its action
(`/rentals/{id}/payments/`, in rentals.api); here a payment's own operations and the providers' webhooks."""

from __future__ import annotations

import logging
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.permissions import IsStaff
from drivenow_contracts.server.errors import problem_docs
from drivenow_contracts.server.fields import parse_uuid

from . import errors, services
from .models import Payment
from .serializers import AmountInput, PaymentOutput, WebhookOutput

log = logging.getLogger(__name__)

NOT_FOUND = problem_docs("`payment_not_found`")
STATE = problem_docs("`payment_state`: the payment is not in a state for this, or the amount is more than is left")
AUTH = {
    401: problem_docs("`not_authenticated` or `authentication_failed`"),
    403: problem_docs("`permission_denied`: payments are handled by staff"),
}


def deliver_now(message_id: int) -> None:
    """Try the queued call once at once, so the answer shows its outcome; the relay has it if this cannot."""
    from rentals.outbox import outbox_deliver_claimed_now

    try:
        outbox_deliver_claimed_now(message_id=message_id, lease_seconds=services.call_lease_seconds())
    except Exception:
        log.exception("payment call %s: delivering at once failed; the relay will", message_id)


def answer(payment_id: UUID) -> Response:
    return Response(PaymentOutput(services.payment_get(payment_id=payment_id)).data)


class PaymentViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A payment of a rental: a deposit held on the card or a charge taken, with its history of provider calls and
    webhooks. Capture, cancel and refund go through the outbox: with the provider down they answer 200 with the
    call queued (`closing`, `refund_requested`) and the relay makes it when the provider is back."""

    queryset = Payment.objects.all()
    serializer_class = PaymentOutput
    permission_classes = [IsStaff]
    http_method_names = ["get", "post", "head", "options"]

    def get_object(self) -> Payment:
        return services.payment_get(payment_id=_payment_id(self.kwargs["pk"]))

    @extend_schema(summary="Get a payment and its events", responses={200: PaymentOutput, 404: NOT_FOUND, **AUTH})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PaymentOutput(self.get_object()).data)

    @extend_schema(
        summary="Capture an authorised deposit (all of it by default; the rest is released)",
        request=AmountInput,
        responses={200: PaymentOutput, 400: problem_docs("`invalid`"), 404: NOT_FOUND, 409: STATE, **AUTH},
    )
    @action(detail=True, methods=["post"])
    def capture(self, request: Request, pk: str) -> Response:
        data = AmountInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment, message_id = services.payment_capture(payment_id=_payment_id(pk), **data.validated_data)
        deliver_now(message_id)
        return answer(payment.id)

    @extend_schema(
        summary="Release an authorisation not captured",
        request=None,
        responses={200: PaymentOutput, 404: NOT_FOUND, 409: STATE, **AUTH},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        payment, message_id = services.payment_cancel(payment_id=_payment_id(pk))
        deliver_now(message_id)
        return answer(payment.id)

    @extend_schema(
        summary="Refund what was captured (all that is left by default)",
        request=AmountInput,
        responses={200: PaymentOutput, 400: problem_docs("`invalid`"), 404: NOT_FOUND, 409: STATE, **AUTH},
    )
    @action(detail=True, methods=["post"])
    def refund(self, request: Request, pk: str) -> Response:
        data = AmountInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment, message_id = services.payment_refund(payment_id=_payment_id(pk), **data.validated_data)
        deliver_now(message_id)
        return answer(payment.id)


class RawBodyParser(BaseParser):
    """A webhook's body as the provider signed it: bytes, never parsed before its signature is checked."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        return stream.read() if stream is not None else b""


class WebhookView(APIView):
    """Where a payment provider reports what happened to a payment. Signed (the signing secret); an event is acted
    on once, by re-reading the payment at the provider."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]
    throttle_classes: list[type] = []

    @extend_schema(
        summary="A payment provider's webhook (signed)",
        operation_id="payments_webhook",
        request={"application/json": {"type": "object", "additionalProperties": True}},
        parameters=[
            OpenApiParameter("provider", str, OpenApiParameter.PATH, enum=["fake", "stripe"]),
            OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter("Fake-Signature", str, OpenApiParameter.HEADER, required=False),
        ],
        responses={
            200: WebhookOutput,
            400: problem_docs("`bad_signature`: the signature does not verify with the signing secret"),
            404: problem_docs("`not_found`: this service takes no webhooks from that provider"),
            422: problem_docs("`unsupported_event`: an event type booking does not act on"),
            503: problem_docs("`payment_unavailable`: the provider did not answer the re-read; send it again"),
        },
    )
    def post(self, request: Request, provider: str) -> Response:
        body = request.data if isinstance(request.data, bytes) else b""
        result = services.webhook_receive(provider_name=provider, body=body, headers=request.headers)
        return Response(result)


def _payment_id(value: str) -> UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise errors.PaymentNotFound()
    return parsed
