"""The Stripe provider against Stripe's HTTP API shapes (no network: `responses` answers as api.stripe.com does):
PaymentIntents with manual capture for deposits, an idempotency key on every call, declines, outages, refunds, and
webhooks verified with the signing secret."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import responses
from django.test import Client

from drivenow_contracts.testing import assert_problem
from payments.models import Payment, PaymentEvent, PaymentStatus
from payments.providers.fake import signature
from rentals.models import OutboxMessage, RentalStatus

from .support import priced_rental, relay_once

pytestmark = pytest.mark.django_db(transaction=True)

API = "https://api.stripe.com/v1"
SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def stripe_configured(settings):
    settings.BOOKING_PAYMENT_PROVIDER = "stripe"
    settings.BOOKING_STRIPE_SECRET_KEY = "sk_test_drivenow"
    settings.BOOKING_PAYMENT_WEBHOOK_SECRET = SECRET


@pytest.fixture
def stripe_api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def intent(status: str, *, amount: int = 12_000, received: int = 0, refunded: int = 0, ref: str = "pi_1") -> dict:
    charge = {"id": "ch_1", "object": "charge", "amount_refunded": refunded} if received else None
    return {
        "id": ref,
        "object": "payment_intent",
        "amount": amount,
        "currency": "eur",
        "status": status,
        "amount_received": received,
        "capture_method": "manual",
        "latest_charge": charge,
        "last_payment_error": None,
        "next_action": None,
    }


def sent(call) -> dict:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def test_a_deposit_is_a_manual_capture_payment_intent_with_the_payments_idempotency_key(staff, customer, stripe_api):
    stripe_api.post(f"{API}/payment_intents", json=intent("requires_capture"))
    rental = priced_rental(customer)
    made = staff.post(
        f"/api/v1/rentals/{rental.id}/payments/",
        {"purpose": "deposit", "payment_method": "pm_card_visa"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert (made.json()["status"], made.json()["ref"], made.json()["provider"]) == ("authorized", "pi_1", "stripe")
    (call,) = stripe_api.calls
    form = sent(call)
    assert (form["amount"], form["currency"], form["capture_method"], form["confirm"]) == (
        "12000",
        "eur",
        "manual",
        "true",
    )
    assert form["payment_method"] == "pm_card_visa" and form["metadata[rental]"] == str(rental.id)
    assert call.request.headers["Idempotency-Key"] == f"drivenow-payment-{made.json()['id']}"
    assert call.request.headers["Authorization"] == "Bearer sk_test_drivenow"


def test_without_a_payment_method_stripe_is_not_asked(staff, customer, stripe_api):
    rental = priced_rental(customer)
    assert_problem(
        staff.post(f"/api/v1/rentals/{rental.id}/payments/", {"purpose": "deposit"}, format="json"), 422, "invalid"
    )
    assert not stripe_api.calls and not Payment.objects.exists()


def test_a_card_stripe_declines_is_402_with_its_decline_code(staff, customer, stripe_api):
    error = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        }
    }
    stripe_api.post(f"{API}/payment_intents", json=error, status=402)
    rental = priced_rental(customer)
    body = {"purpose": "deposit", "payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
    answer = assert_problem(
        staff.post(f"/api/v1/rentals/{rental.id}/payments/", body, format="json"), 402, "payment_declined"
    )
    assert answer["decline_code"] == "insufficient_funds"
    assert Payment.objects.get().status == PaymentStatus.DECLINED


def test_stripe_down_at_a_capture_is_retried_with_the_same_key_and_captures_once(staff, customer, stripe_api):
    stripe_api.post(f"{API}/payment_intents", json=intent("requires_capture"))
    rental = priced_rental(customer)
    body = {"purpose": "deposit", "payment_method": "pm_card_visa"}
    deposit = staff.post(f"/api/v1/rentals/{rental.id}/payments/", body, format="json").json()
    capture = f"{API}/payment_intents/pi_1/capture"
    stripe_api.post(capture, json={"error": {"type": "api_error", "message": "Stripe is down"}}, status=500)
    queued = staff.post(f"/api/v1/payments/{deposit['id']}/capture/", {"amount": 10_000}, format="json")
    assert queued.status_code == 200 and queued.json()["closing"] == "capture"
    stripe_api.replace(responses.POST, capture, json=intent("succeeded", received=10_000))
    relay_once()
    payment = Payment.objects.get(id=deposit["id"])
    assert (payment.status, payment.captured) == (PaymentStatus.CAPTURED, 10_000)
    tries = [call for call in stripe_api.calls if call.request.url.startswith(capture)]
    message = OutboxMessage.objects.get(kind="payment", payload__op="capture")
    assert [call.request.headers["Idempotency-Key"] for call in tries] == [f"drivenow-outbox-{message.id}"] * 2
    assert sent(tries[0])["amount_to_capture"] == "10000"


def test_a_refund_is_a_stripe_refund_and_the_intent_is_read_again(staff, customer, stripe_api):
    stripe_api.post(f"{API}/payment_intents", json=intent("succeeded", amount=8_000, received=8_000))
    rental = priced_rental(customer, price=8_000, status=RentalStatus.COMPLETED)
    body = {"purpose": "charge", "payment_method": "pm_card_visa"}
    charge = staff.post(f"/api/v1/rentals/{rental.id}/payments/", body, format="json").json()
    assert charge["status"] == "captured" and charge["captured"] == 8_000
    stripe_api.post(f"{API}/refunds", json={"id": "re_1", "object": "refund", "amount": 3_000, "status": "succeeded"})
    stripe_api.get(
        f"{API}/payment_intents/pi_1", json=intent("succeeded", amount=8_000, received=8_000, refunded=3_000)
    )
    refunded = staff.post(f"/api/v1/payments/{charge['id']}/refund/", {"amount": 3_000}, format="json").json()
    assert refunded["refunded"] == 3_000
    refund_call = next(call for call in stripe_api.calls if call.request.url == f"{API}/refunds")
    assert sent(refund_call) == {"payment_intent": "pi_1", "amount": "3000"}
    assert refund_call.request.headers["Idempotency-Key"].startswith("drivenow-outbox-")


def _event(kind: str, ref: str = "pi_1", event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": {"id": ref}}}).encode()


def test_a_signed_stripe_webhook_is_acted_on_by_re_reading_the_intent_once(staff, customer, stripe_api):
    stripe_api.post(f"{API}/payment_intents", json=intent("requires_action"))
    rental = priced_rental(customer)
    body = {"purpose": "deposit", "payment_method": "pm_card_threeDSecure2Required"}
    deposit = staff.post(f"/api/v1/rentals/{rental.id}/payments/", body, format="json").json()
    assert deposit["status"] == "requires_action"
    # The event says "succeeded", but booking trusts the intent it reads: authorised (3-D Secure passed).
    stripe_api.get(f"{API}/payment_intents/pi_1", json=intent("requires_capture"))
    event = _event("payment_intent.succeeded")
    for _ in range(2):
        answer = Client().post(
            "/api/v1/payments/webhooks/stripe/",
            event,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature(event, SECRET),
        )
        assert answer.status_code == 200
    assert answer.json()["duplicate"] is True
    assert Payment.objects.get(id=deposit["id"]).status == PaymentStatus.AUTHORIZED
    assert PaymentEvent.objects.filter(source="webhook").count() == 1
    assert len([c for c in stripe_api.calls if c.request.method == "GET"]) == 1


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1700000000,v1=" + "0" * 64,  # a signature from long ago (outside the tolerance) and wrong
        None,  # signed with another secret
        "garbage",
    ],
)
def test_a_stripe_webhook_whose_signature_does_not_verify_is_400_and_writes_nothing(header, stripe_api):
    event = _event("payment_intent.succeeded")
    signed = signature(event, "whsec_someone_else") if header is None else header
    answer = Client().post(
        "/api/v1/payments/webhooks/stripe/", event, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed
    )
    assert_problem(answer, 400, "bad_signature")
    assert not PaymentEvent.objects.exists() and not stripe_api.calls


def test_a_tampered_body_does_not_verify_and_a_signature_too_old_is_refused(stripe_api):
    event = _event("payment_intent.succeeded")
    header = signature(event, SECRET)
    tampered = event.replace(b"pi_1", b"pi_2")
    stale = signature(event, SECRET, at=1_700_000_000)
    for body, signed in ((tampered, header), (event, stale)):
        answer = Client().post(
            "/api/v1/payments/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed
        )
        assert_problem(answer, 400, "bad_signature")
    assert not PaymentEvent.objects.exists()
