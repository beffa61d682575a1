"""Payments with the fake provider (the default): deposits and charges, capture, cancel, refund through the outbox,
the provider's scripted failures, webhooks (signed, late, twice, out of order), amounts the database guards, and a
settlement that takes what the ledger says once."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from drivenow_contracts.testing import assert_problem
from payments import services
from payments.models import FakeIntent, Payment, PaymentEvent, PaymentStatus
from payments.providers.fake import FakeProvider
from rentals.models import OutboxStatus, Rental, RentalStatus

from .support import pending_calls, priced_rental, relay_once, send_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def pay(staff, rental, **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": body.pop("key")} if "key" in body else {}
    return staff.post(f"/api/v1/rentals/{rental.id}/payments/", body, format="json", **headers)


def fake_intent(payment_id) -> FakeIntent:
    return FakeIntent.objects.get(ref=Payment.objects.get(id=payment_id).ref)


def test_a_deposit_is_the_price_and_its_margin_held_then_captured_once_with_the_rest_released(staff, customer):
    rental = priced_rental(customer, price=10_000)
    made = pay(staff, rental, purpose="deposit", payment_method="tok_visa")
    assert made.status_code == 201, made.content
    deposit = made.json()
    assert (deposit["status"], deposit["amount"], deposit["currency"], deposit["captured"]) == (
        "authorized",
        12_000,  # 10 000 and the 20 % margin for the return's fees
        "EUR",
        0,
    )
    assert deposit["provider"] == "fake" and deposit["ref"].startswith("fake_pi_")
    captured = staff.post(f"/api/v1/payments/{deposit['id']}/capture/", {"amount": 10_500}, format="json")
    assert captured.status_code == 200, captured.content
    assert (captured.json()["status"], captured.json()["captured"]) == ("captured", 10_500)
    intent = fake_intent(deposit["id"])
    assert (intent.received, intent.captures) == (10_500, 1)
    # A second capture is refused before it reaches the provider; the provider was asked once.
    assert_problem(staff.post(f"/api/v1/payments/{deposit['id']}/capture/", {}, format="json"), 409, "payment_state")
    assert fake_intent(deposit["id"]).captures == 1
    kinds = [(e["source"], e["kind"], e["outcome"]) for e in captured.json()["events"]]
    assert kinds == [("call", "authorize", "authorized"), ("call", "capture", "succeeded")]


def test_a_charge_is_taken_at_once_and_refunded_in_parts_never_beyond_what_was_taken(staff, customer):
    rental = priced_rental(customer, price=8_000, status=RentalStatus.COMPLETED)
    charge = pay(staff, rental, purpose="charge").json()  # the balance due by default
    assert (charge["status"], charge["amount"], charge["captured"]) == ("captured", 8_000, 8_000)
    assert_problem(pay(staff, rental, purpose="charge"), 409, "payment_state")  # paid: nothing is due
    url = f"/api/v1/payments/{charge['id']}/refund/"
    assert staff.post(url, {"amount": 3_000}, format="json").json()["refunded"] == 3_000
    assert_problem(staff.post(url, {"amount": 5_001}, format="json"), 409, "payment_state")
    rest = staff.post(url, {}, format="json").json()  # all that is left
    assert (rest["refunded"], rest["refund_requested"]) == (8_000, 8_000)
    assert_problem(staff.post(url, {}, format="json"), 409, "payment_state")
    assert fake_intent(charge["id"]).refunded == 8_000


@pytest.mark.parametrize(
    ("method", "decline_code"),
    [
        ("tok_decline", "card_declined"),
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_x", "invalid_payment_method"),
    ],
)
def test_a_declined_card_is_402_with_its_reason_and_holds_nothing(staff, customer, method, decline_code):
    rental = priced_rental(customer)
    answer = assert_problem(pay(staff, rental, purpose="deposit", payment_method=method), 402, "payment_declined")
    assert answer["decline_code"] == decline_code
    payment = Payment.objects.get(id=answer["payment_id"])
    assert (payment.status, payment.decline_code, payment.captured) == (PaymentStatus.DECLINED, decline_code, 0)
    assert not FakeIntent.objects.exists() and not pending_calls()
    # Declined is no live payment: another card may be tried.
    assert pay(staff, rental, purpose="deposit", payment_method="tok_visa").status_code == 201


def test_3d_secure_waits_for_the_customer_and_a_webhook_tells_booking_it_was_confirmed(staff, customer):
    rental = priced_rental(customer)
    waiting = pay(staff, rental, purpose="deposit", payment_method="tok_3ds").json()
    assert waiting["status"] == "requires_action" and waiting["next_action_url"].endswith(waiting["ref"])
    assert_problem(pay(staff, rental, purpose="deposit", payment_method="tok_visa"), 409, "payment_state")
    FakeProvider().confirm_3ds(waiting["ref"])  # the customer confirms with their bank
    told = send_webhook(Client(), "payment_intent.amount_capturable_updated", waiting["ref"], event_id="evt_3ds_ok")
    assert told.status_code == 200 and told.json() == {"received": True, "duplicate": False}
    assert Payment.objects.get(id=waiting["id"]).status == PaymentStatus.AUTHORIZED


def test_webhooks_late_twice_or_out_of_order_leave_the_payment_as_the_provider_has_it(staff, customer):
    rental = priced_rental(customer)
    deposit = pay(staff, rental, purpose="deposit").json()
    staff.post(f"/api/v1/payments/{deposit['id']}/capture/", {"amount": 9_000}, format="json")
    anyone = Client()
    # The capture's event first, then (late) the authorisation's: booking re-reads the intent each time.
    assert send_webhook(anyone, "payment_intent.succeeded", deposit["ref"], event_id="evt_2").status_code == 200
    late = send_webhook(anyone, "payment_intent.amount_capturable_updated", deposit["ref"], event_id="evt_1")
    assert late.status_code == 200
    payment = Payment.objects.get(id=deposit["id"])
    assert (payment.status, payment.captured) == (PaymentStatus.CAPTURED, 9_000)
    again = send_webhook(anyone, "payment_intent.succeeded", deposit["ref"], event_id="evt_2")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert PaymentEvent.objects.filter(source="webhook").count() == 2
    # An event about a payment booking never made is recorded and answered 200 (the provider stops sending it).
    stranger = send_webhook(anyone, "payment_intent.succeeded", "fake_pi_unknown", event_id="evt_3")
    assert stranger.status_code == 200 and PaymentEvent.objects.get(event_id="evt_3").outcome == "unknown_payment"


def test_a_refund_made_at_the_provider_reaches_booking_by_webhook(staff, customer):
    rental = priced_rental(customer, status=RentalStatus.COMPLETED)
    charge = pay(staff, rental, purpose="charge").json()
    FakeIntent.objects.filter(ref=charge["ref"]).update(refunded=2_500)  # refunded in the provider's dashboard
    assert send_webhook(Client(), "charge.refunded", charge["ref"]).status_code == 200
    payment = Payment.objects.get(id=charge["id"])
    assert (payment.refunded, payment.refund_requested) == (2_500, 2_500)


SUCCEEDED = b'{"id":"evt_x","type":"payment_intent.succeeded","data":{"object":{"id":"p"}}}'


@pytest.mark.parametrize(
    ("body", "header", "status", "code"),
    [
        (
            b'{"id":"evt_x","type":"payment_intent.succeeded","data":{"object":{"id":"p"}}}',
            "t=1,v1=00",
            400,
            "bad_signature",
        ),
        (b'{"id":"evt_x","type":"payment_intent.succeeded","data":{"object":{"id":"p"}}}', "", 400, "bad_signature"),
        (b'{"id":"evt_x","type":"customer.created","data":{"object":{"id":"cus_1"}}}', None, 422, "unsupported_event"),
        (b'{"id":"evt_x"}', None, 422, "unsupported_event"),
        (b"not json", None, 422, "unsupported_event"),
        (b'{"id":"evt_x","type":"payment_intent.succeeded","data":{"object":{}}}', None, 422, "unsupported_event"),
    ],
)
def test_a_webhook_badly_signed_or_of_a_type_not_acted_on_is_a_problem_and_writes_nothing(body, header, status, code):
    from django.conf import settings

    from payments.providers.fake import signature

    signed = signature(body, settings.BOOKING_PAYMENT_WEBHOOK_SECRET) if header is None else header
    answer = Client().post(
        "/api/v1/payments/webhooks/fake/", body, content_type="application/json", HTTP_FAKE_SIGNATURE=signed
    )
    assert_problem(answer, status, code)
    assert not PaymentEvent.objects.exists()


def test_a_webhook_signed_with_another_secret_or_for_another_provider_is_refused(customer, staff):
    rental = priced_rental(customer)
    deposit = pay(staff, rental, purpose="deposit").json()
    assert_problem(
        send_webhook(Client(), "payment_intent.succeeded", deposit["ref"], secret="whsec_other"), 400, "bad_signature"
    )
    assert_problem(
        Client().post("/api/v1/payments/webhooks/stripe/", b"{}", content_type="application/json"), 404, "not_found"
    )
    assert_problem(
        Client().post("/api/v1/payments/webhooks/paypal/", b"{}", content_type="application/json"), 404, "not_found"
    )
    assert not PaymentEvent.objects.filter(source="webhook").exists()


def test_a_retried_payment_with_its_idempotency_key_is_made_once(staff, customer):
    rental = priced_rental(customer, status=RentalStatus.COMPLETED)
    first = pay(staff, rental, purpose="charge", amount=4_000, key="till-7")
    again = pay(staff, rental, purpose="charge", amount=4_000, key="till-7")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert_problem(pay(staff, rental, purpose="charge", amount=4_001, key="till-7"), 422, "idempotency_key_reused")
    assert FakeIntent.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"purpose": "deposit", "amount": -100}, 400, "invalid"),
        ({"purpose": "deposit", "amount": 0}, 400, "invalid"),
        ({"purpose": "deposit", "amount": 10.5}, 400, "invalid"),
        ({"purpose": "deposit", "amount": "100"}, 400, "invalid"),
        ({"purpose": "tip"}, 400, "invalid"),
        ({"purpose": "deposit", "currency": "XYZ"}, 400, "invalid"),
        ({"purpose": "deposit", "currency": "USD"}, 422, "currency_mismatch"),
        ({"purpose": "deposit", "payment_method": "tok visa"}, 400, "invalid"),
    ],
)
def test_a_bad_payment_is_a_problem_and_nothing_is_written(staff, customer, body, status, code):
    rental = priced_rental(customer)
    assert_problem(pay(staff, rental, **body), status, code)
    assert not Payment.objects.exists() and not FakeIntent.objects.exists()


def test_a_rental_with_no_price_needs_the_amount_and_currency_and_a_failed_one_takes_no_payment(staff, customer):
    walk_in = priced_rental(customer, status=RentalStatus.ACTIVE, price=0, currency="")
    Rental.objects.filter(id=walk_in.id).update(price=None)
    assert_problem(pay(staff, walk_in, purpose="deposit"), 422, "invalid")
    assert_problem(pay(staff, walk_in, purpose="deposit", amount=30_000), 422, "invalid")  # no currency
    made = pay(staff, walk_in, purpose="deposit", amount=30_000, currency="GBP")
    assert made.status_code == 201 and made.json()["currency"] == "GBP"
    cancelled = priced_rental(customer, status=RentalStatus.CANCELLED)
    assert_problem(pay(staff, cancelled, purpose="charge", amount=100), 409, "payment_state")
    assert_problem(pay(staff, Rental(id=uuid.uuid4()), purpose="charge"), 404, "rental_not_found")


def test_payments_are_staffs(anon, plain_user_client, staff, customer):
    rental = priced_rental(customer)
    deposit = pay(staff, rental, purpose="deposit").json()
    for client, status in ((anon, 401), (plain_user_client, 403)):
        assert client.get(f"/api/v1/rentals/{rental.id}/payments/").status_code == status
        assert client.post(f"/api/v1/rentals/{rental.id}/payments/", {"purpose": "deposit"}).status_code == status
        assert client.get(f"/api/v1/payments/{deposit['id']}/").status_code == status
        assert client.post(f"/api/v1/payments/{deposit['id']}/cancel/").status_code == status
    assert_problem(staff.get(f"/api/v1/payments/{uuid.uuid4()}/"), 404, "payment_not_found")
    assert_problem(staff.get("/api/v1/payments/not-a-uuid/"), 404, "payment_not_found")
    listed = staff.get(f"/api/v1/rentals/{rental.id}/payments/").json()
    assert [p["id"] for p in listed] == [deposit["id"]]


def test_with_the_provider_down_a_payment_is_503_and_a_capture_waits_in_the_outbox_then_happens_once(
    staff, customer, settings
):
    rental = priced_rental(customer)
    deposit = pay(staff, rental, purpose="deposit").json()
    settings.BOOKING_PAYMENT_FAKE_OUTAGE = True
    other = priced_rental(customer)
    assert_problem(pay(staff, other, purpose="deposit"), 503, "payment_unavailable")
    queued = staff.post(f"/api/v1/payments/{deposit['id']}/capture/", {}, format="json")
    assert queued.status_code == 200
    assert (queued.json()["status"], queued.json()["closing"]) == ("authorized", "capture")
    for _ in range(3):
        relay_once()  # the provider is still down: retried, nothing taken
    calls = {call.payload["op"]: call for call in pending_calls()}
    assert sorted(calls) == ["capture", "void"]  # the capture, and the void of the authorisation that got no answer
    assert calls["capture"].attempts >= 4 and "unavailable" in calls["capture"].last_error
    settings.BOOKING_PAYMENT_FAKE_OUTAGE = False
    relay_once()
    relay_once()
    payment = Payment.objects.get(id=deposit["id"])
    assert (payment.status, payment.captured, payment.closing) == (PaymentStatus.CAPTURED, 12_000, "")
    assert fake_intent(deposit["id"]).captures == 1
    assert not pending_calls()
    failed = Payment.objects.get(rental=other)
    assert failed.status == PaymentStatus.FAILED and failed.captured == 0
    assert FakeIntent.objects.get(idempotency_key=f"drivenow-payment-{failed.id}").status == "canceled"


def test_an_authorisation_whose_answer_was_lost_is_voided_by_the_relay(staff, customer):
    rental = priced_rental(customer)
    assert_problem(pay(staff, rental, purpose="deposit", payment_method="tok_timeout"), 503, "payment_unavailable")
    payment = Payment.objects.get(rental=rental)
    assert payment.status == PaymentStatus.FAILED
    (held,) = FakeIntent.objects.all()  # the provider did authorise it: the answer was lost on the way
    assert held.status == "authorized"
    relay_once()
    held.refresh_from_db()
    assert held.status == "canceled" and Payment.objects.get(id=payment.id).status == PaymentStatus.FAILED
    assert pay(staff, rental, purpose="deposit").status_code == 201  # failed is no live payment


def test_an_expired_authorisation_is_marked_and_its_capture_left_dead_for_a_person(staff, customer):
    rental = priced_rental(customer)
    deposit = pay(staff, rental, purpose="deposit", payment_method="tok_expired").json()
    answer = staff.post(f"/api/v1/payments/{deposit['id']}/capture/", {}, format="json").json()
    assert (answer["status"], answer["captured"], answer["closing"]) == ("expired", 0, "")
    from rentals.models import OutboxMessage

    (dead,) = OutboxMessage.objects.filter(status=OutboxStatus.DEAD)
    assert "authorization_expired" in dead.last_error
    # The money is still owed: a charge takes it.
    assert pay(staff, rental, purpose="charge", amount=10_000).json()["status"] == "captured"


def test_the_database_guards_the_amounts_whatever_the_code(customer):
    rental = priced_rental(customer)
    payment = Payment.objects.create(rental=rental, purpose="charge", provider="fake", currency="EUR", amount=1_000)
    for change in (
        {"captured": 1_001},
        {"captured": 500, "refunded": 600, "refund_requested": 600},
        {"captured": 500, "refund_requested": 501},
        {"amount": -1},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.filter(id=payment.id).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():  # one live payment per purpose
        Payment.objects.create(rental=rental, purpose="charge", provider="fake", currency="EUR", amount=5)


def _desk(staff_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


def test_desks_racing_to_take_a_deposit_make_one_and_refunds_racing_never_pass_the_capture(staff_user, customer):
    rental = priced_rental(customer)
    desks = 6
    barrier = threading.Barrier(desks, timeout=30)
    answers: list[int] = []

    def take() -> None:
        try:
            client = _desk(staff_user)
            barrier.wait()
            answers.append(pay(client, rental, purpose="deposit").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(desks)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(answers) == [201] + [409] * (desks - 1)
    assert FakeIntent.objects.count() == 1

    charged = priced_rental(customer, status=RentalStatus.COMPLETED)
    charge = pay(_desk(staff_user), charged, purpose="charge").json()  # 10 000
    barrier = threading.Barrier(desks, timeout=30)
    answers.clear()

    def refund() -> None:
        try:
            client = _desk(staff_user)
            barrier.wait()
            url = f"/api/v1/payments/{charge['id']}/refund/"
            answers.append(client.post(url, {"amount": 3_000}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(desks)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(answers) == [200] * 3 + [409] * (desks - 3)  # 3 × 3 000 fit in 10 000, a fourth does not
    relay_once()
    payment = Payment.objects.get(id=charge["id"])
    assert (payment.refunded, payment.refund_requested) == (9_000, 9_000)
    assert fake_intent(charge["id"]).refunded == 9_000


def test_settling_takes_what_the_ledger_says_from_the_deposit_once_and_refunds_what_was_paid_beyond(staff, customer):
    rental = priced_rental(customer, price=10_000, status=RentalStatus.ACTIVE)
    deposit = pay(staff, rental, purpose="deposit").json()  # 12 000 held
    Rental.objects.filter(id=rental.id).update(price=11_000)  # the return's fees
    for _ in range(2):  # a retried return settles once
        with transaction.atomic():
            services.payments_settle(rental_id=rental.id)
    relay_once()
    payment = Payment.objects.get(id=deposit["id"])
    assert (payment.status, payment.captured) == (PaymentStatus.CAPTURED, 11_000)
    assert fake_intent(deposit["id"]).received == 11_000

    # A prepaid booking cancelled inside the window: half kept, the rest refunded.
    prepaid = priced_rental(customer, price=10_000)
    paid = pay(staff, prepaid, purpose="charge").json()
    Rental.objects.filter(id=prepaid.id).update(price=5_000, status=RentalStatus.CANCELLED)
    for _ in range(2):
        with transaction.atomic():
            services.payments_settle(rental_id=prepaid.id)
    relay_once()
    assert Payment.objects.get(id=paid["id"]).refunded == 5_000

    # Nothing owed (a free cancellation): the deposit is released whole.
    free = priced_rental(customer, price=10_000)
    held = pay(staff, free, purpose="deposit").json()
    Rental.objects.filter(id=free.id).update(price=0, status=RentalStatus.CANCELLED)
    with transaction.atomic():
        services.payments_settle(rental_id=free.id)
    relay_once()
    payment = Payment.objects.get(id=held["id"])
    assert (payment.status, payment.captured) == (PaymentStatus.CANCELLED, 0)


def test_money_metrics_count_captures_and_refunds_by_currency(staff, customer):
    rental = priced_rental(customer, price=7_000, currency="GBP", status=RentalStatus.COMPLETED)
    charge = pay(staff, rental, purpose="charge").json()
    staff.post(f"/api/v1/payments/{charge['id']}/refund/", {"amount": 1_000}, format="json")
    text = Client().get("/metrics").content.decode()
    assert 'booking_payments_captured_minor_total{currency="GBP"} 7000.0' in text
    assert 'booking_payments_refunded_minor_total{currency="GBP"} 1000.0' in text
    assert 'booking_payments{purpose="charge",status="captured"} 1.0' in text
    assert 'booking_payment_operations_total{operation="authorize",outcome="ok",provider="fake"}' in text
    assert 'booking_payment_provider_seconds_count{operation="refund",provider="fake"}' in text


def test_the_admin_lists_payments_with_their_events_and_changes_none(staff_user, customer, staff):
    from django.contrib.auth.models import User

    rental = priced_rental(customer)
    deposit = pay(staff, rental, purpose="deposit").json()
    browser = Client()
    browser.force_login(staff_user)  # staff without the payments' view permission
    assert browser.get("/admin/payments/payment/").status_code == 403
    browser.force_login(User.objects.create_superuser("money-admin", password="pw-money-admin-1"))
    listed = browser.get("/admin/payments/payment/")
    assert listed.status_code == 200 and "12000" in listed.content.decode()
    page = browser.get(f"/admin/payments/payment/{deposit['id']}/change/")
    assert page.status_code == 200 and "authorize" in page.content.decode()
    assert browser.post(f"/admin/payments/payment/{deposit['id']}/delete/").status_code == 403
    assert browser.get("/admin/payments/payment/add/").status_code == 403


def test_an_authorisation_whose_request_died_mid_call_is_voided_and_stops_being_live(staff, customer, monkeypatch):
    rental = priced_rental(customer)
    made = FakeProvider.authorize

    def dies_after_the_provider_answered(self, **kwargs):
        made(self, **kwargs)
        raise SystemExit("the worker was killed")  # nothing of booking's code records the answer

    monkeypatch.setattr(FakeProvider, "authorize", dies_after_the_provider_answered)
    with pytest.raises(SystemExit):
        services.payment_create(rental_id=rental.id, purpose="deposit")
    monkeypatch.undo()
    stuck = Payment.objects.get(rental=rental)
    assert stuck.status == PaymentStatus.AUTHORIZING
    assert_problem(pay(staff, rental, purpose="deposit"), 409, "payment_state")  # still live
    relay_once()  # the standby void comes due (relay_once makes every payment call due at once)
    stuck.refresh_from_db()
    assert stuck.status == PaymentStatus.FAILED
    assert FakeIntent.objects.get(idempotency_key=f"drivenow-payment-{stuck.id}").status == "canceled"
    assert pay(staff, rental, purpose="deposit").status_code == 201


def test_money_that_arrives_after_the_ledger_was_settled_is_settled_again(staff, customer):
    rental = priced_rental(customer, price=10_000, status=RentalStatus.ACTIVE)
    deposit = pay(staff, rental, purpose="deposit").json()  # 12 000 held
    # A charge of the whole price in flight at the provider while the car comes back.
    charge = Payment.objects.create(rental=rental, purpose="charge", provider="fake", currency="EUR", amount=10_000)
    answer = FakeProvider().authorize(
        amount=10_000, currency="EUR", method="", capture=True, idempotency_key=f"x-{charge.id}", metadata={}
    )
    Rental.objects.filter(id=rental.id).update(status=RentalStatus.COMPLETED, ended_at=timezone.now())
    with transaction.atomic():
        services.payments_settle(rental_id=rental.id)  # the return: the deposit pays the 10 000
    relay_once()
    services._sync(charge.id, answer, source="call", kind="authorize")  # the charge's answer, late
    relay_once()
    assert Payment.objects.get(id=deposit["id"]).captured == 10_000
    charge.refresh_from_db()
    assert (charge.captured, charge.refunded) == (10_000, 10_000)  # paid twice: the second is given back
