"""The catalogue of hostile input to booking's API (customers and rentals): each row is one bad request, the
problem+json answer it must get, and nothing may be written — customers, rentals, outbox and idempotency keys are
compared before and after. Inventory is down throughout: a bad request must be refused before it is ever asked.

The rules are inventory's (fleet/tests/test_hostile_input.py): JSON bodies only (415 otherwise); a query value we
do not understand is 400 naming it; unknown query parameters and unknown body fields are ignored, fields that
exist but cannot be written are 400; a path id that is no UUID is the resource's 404. Rows already covered by
customers/tests/test_api.py and rentals/tests/test_api.py are not repeated here.
"""

from __future__ import annotations

import json
import uuid

import pytest

from customers.models import Customer
from customers.tests.factories import CustomerFactory
from drivenow_contracts.testing import BadRequest as Bad
from drivenow_contracts.testing import assert_problem
from payments.models import Payment, PaymentEvent
from payments.providers.fake import event, signature
from rentals.models import IdempotencyKey, OutboxMessage, Rental

pytestmark = pytest.mark.django_db

CUSTOMER_ID = "5a1d0c9e-2f4b-4e6a-8d3c-9b8a7f6e5d40"  # exists, active, email target@example.com
RENTAL_ID = "6b2e1daf-3a5c-4f7b-9e4d-0c9b8a7f6e51"  # exists, active
CAR_ID = "7c3f2eb0-4b6d-4a8c-8f5e-1d0c9b8a7f62"


def _customer(**changes: object) -> dict[str, object]:
    return {"name": "Ada Lovelace", "email": "ada@example.com", **changes}


def _rental(**changes: object) -> dict[str, object]:
    return {"car_id": CAR_ID, "customer_id": CUSTOMER_ID, **changes}


CUSTOMERS = "/api/v1/customers/"
PAYMENTS = f"/api/v1/rentals/{RENTAL_ID}/payments/"
WEBHOOK = "/api/v1/payments/webhooks/fake/"
TEST_WEBHOOK_SECRET = "whsec_drivenow_local_only"  # the settings' default, which the test settings keep


def _event(kind: str) -> bytes:
    return event(kind, "fake_pi_0", event_id="evt_hostile")


CUSTOMER = f"/api/v1/customers/{CUSTOMER_ID}/"
RENTALS = "/api/v1/rentals/"
TEN_MB = b"x" * (10 * 1024 * 1024)

CATALOGUE: list[Bad] = [
    # -- malformed and truncated JSON -------------------------------------------------------------------------
    Bad("customer truncated", "POST", CUSTOMERS, 400, "parse_error", raw=b'{"name": "Ada", "email": "ada@exa'),
    Bad("customer trailing garbage", "POST", CUSTOMERS, 400, "parse_error", raw=b'{"name": "Ada"}}'),
    Bad("customer NaN", "POST", CUSTOMERS, 400, "parse_error", raw=b'{"name": NaN}'),
    Bad("customer not UTF-8", "POST", CUSTOMERS, 400, "parse_error", raw=b'{"name": "\xc3\x28", "email": "a@b.org"}'),
    Bad("customer byte order mark", "POST", CUSTOMERS, 400, "parse_error", raw=b'\xef\xbb\xbf{"name": "Ada"}'),
    Bad("PATCH customer truncated", "PATCH", CUSTOMER, 400, "parse_error", raw=b'{"phone": "+1'),
    Bad("rental truncated", "POST", RENTALS, 400, "parse_error", raw=b'{"car_id": "7c3f2eb0-4b6d'),
    Bad("rental single quotes", "POST", RENTALS, 400, "parse_error", raw=b"{'car_id': 'x'}"),
    Bad("rental whitespace only", "POST", RENTALS, 400, "parse_error", raw=b" \r\n"),
    # -- not an object / empty --------------------------------------------------------------------------------
    Bad("customer empty body", "POST", CUSTOMERS, 400, "invalid", raw=b"", field="name"),
    Bad("customer null", "POST", CUSTOMERS, 400, "invalid", raw=b"null"),
    Bad("customer a list", "POST", CUSTOMERS, 400, "invalid", body=[_customer()]),
    Bad("PATCH customer a list", "PATCH", CUSTOMER, 400, "invalid", body=[{"name": "X"}]),
    Bad("rental empty body", "POST", RENTALS, 400, "invalid", raw=b"", field="car_id"),
    Bad("rental a string", "POST", RENTALS, 400, "invalid", body="start it"),
    # -- wrong content type -------------------------------------------------------------------------------------
    Bad(
        "customer form-encoded",
        "POST",
        CUSTOMERS,
        415,
        "unsupported_media_type",
        raw=b"name=Ada&email=a%40b.org",
        content_type="application/x-www-form-urlencoded",
    ),
    Bad(
        "customer multipart",
        "POST",
        CUSTOMERS,
        415,
        "unsupported_media_type",
        raw=b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    ),
    Bad(
        "rental text/plain",
        "POST",
        RENTALS,
        415,
        "unsupported_media_type",
        raw=json.dumps(_rental()).encode(),
        content_type="text/plain",
    ),
    Bad("rental XML", "POST", RENTALS, 415, "unsupported_media_type", raw=b"<rental/>", content_type="text/xml"),
    Bad(
        "rental no content type",
        "POST",
        RENTALS,
        415,
        "unsupported_media_type",
        raw=json.dumps(_rental()).encode(),
        content_type="",
    ),
    Bad(
        "customers accept XML only", "GET", CUSTOMERS, 406, "not_acceptable", headers={"HTTP_ACCEPT": "application/xml"}
    ),
    # -- size and depth -----------------------------------------------------------------------------------------
    Bad("customer 10 MB", "POST", CUSTOMERS, 413, "request_too_large", raw=b'{"name": "' + TEN_MB + b'"}'),
    Bad("rental 10 MB", "POST", RENTALS, 413, "request_too_large", raw=b'{"car_id": "' + TEN_MB + b'"}'),
    Bad(
        "customer 100,000 nested objects",
        "POST",
        CUSTOMERS,
        400,
        "parse_error",
        raw=b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ),
    Bad("rental 100,000 nested arrays", "POST", RENTALS, 400, "parse_error", raw=b"[" * 100_000 + b"]" * 100_000),
    Bad("rental nested ids", "POST", RENTALS, 400, "invalid", body=_rental(car_id={"id": CAR_ID}), field="car_id"),
    # -- ids in bodies and paths --------------------------------------------------------------------------------
    Bad(
        "car_id 32 hex digits",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(car_id=uuid.UUID(CAR_ID).hex),
        field="car_id",
    ),
    Bad("car_id urn:uuid", "POST", RENTALS, 400, "invalid", body=_rental(car_id=f"urn:uuid:{CAR_ID}"), field="car_id"),
    Bad("car_id empty", "POST", RENTALS, 400, "invalid", body=_rental(car_id=""), field="car_id"),
    Bad("car_id null", "POST", RENTALS, 400, "invalid", body=_rental(car_id=None), field="car_id"),
    Bad(
        "customer_id braces",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(customer_id=f"{{{CUSTOMER_ID}}}"),
        field="customer_id",
    ),
    Bad(
        "customer_id SQL", "POST", RENTALS, 400, "invalid", body=_rental(customer_id="' OR 1=1 --"), field="customer_id"
    ),
    Bad("car_id trailing newline", "POST", RENTALS, 400, "invalid", body=_rental(car_id=CAR_ID + "\n"), field="car_id"),
    Bad(
        "customer_id trailing newline",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(customer_id=CUSTOMER_ID + "\n"),
        field="customer_id",
    ),
    Bad("customer path: braces", "GET", f"/api/v1/customers/%7B{CUSTOMER_ID}%7D/", 404, "customer_not_found"),
    Bad(
        "customer path: urn:uuid",
        "PATCH",
        f"/api/v1/customers/urn:uuid:{CUSTOMER_ID}/",
        404,
        "customer_not_found",
        body={"name": "X"},
    ),
    Bad("rental path: bare hex", "GET", f"/api/v1/rentals/{uuid.UUID(RENTAL_ID).hex}/", 404, "rental_not_found"),
    Bad("end: braces", "POST", f"/api/v1/rentals/%7B{RENTAL_ID}%7D/end/", 404, "rental_not_found"),
    Bad("customer path: not a UUID", "GET", "/api/v1/customers/not-a-uuid/", 404, "customer_not_found"),
    Bad("customer path: NUL", "PATCH", "/api/v1/customers/a%00/", 404, "customer_not_found", body={"name": "X"}),
    Bad(
        "customer path: unknown",
        "PATCH",
        f"/api/v1/customers/{uuid.uuid4()}/",
        404,
        "customer_not_found",
        body={"name": "X"},
    ),
    Bad("deactivate: not a UUID", "POST", "/api/v1/customers/12/deactivate/", 404, "customer_not_found"),
    Bad("rental path: not a UUID", "GET", "/api/v1/rentals/%E2%80%AE/", 404, "rental_not_found"),
    Bad("end: not a UUID", "POST", "/api/v1/rentals/x/end/", 404, "rental_not_found"),
    Bad("end: 10,000 characters", "POST", f"/api/v1/rentals/{'a' * 10_000}/end/", 404, "rental_not_found"),
    # -- timestamps ---------------------------------------------------------------------------------------------
    Bad(
        "return: a date",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="2031-01-01"),
        field="expected_return_at",
    ),
    Bad(
        "return: no offset",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="2031-01-01T10:00:00"),
        field="expected_return_at",
    ),
    Bad(
        "return: space for T",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="2031-01-01 10:00Z"),
        field="expected_return_at",
    ),
    Bad(
        "return: 30 February",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="2031-02-30T00:00:00Z"),
        field="expected_return_at",
    ),
    Bad(
        "return: past year 9999 in UTC",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="9999-12-31T23:59:59-12:00"),
        field="expected_return_at",
    ),
    Bad(
        "return: trailing newline",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="2031-01-01T10:00:00Z\n"),
        field="expected_return_at",
    ),
    Bad(
        "return: full-width digits",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at="２０３１-01-01T10:00:00Z"),
        field="expected_return_at",
    ),
    Bad(
        "return: a number",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(expected_return_at=1893456000),
        field="expected_return_at",
    ),
    # -- text ---------------------------------------------------------------------------------------------------
    Bad("name NUL", "POST", CUSTOMERS, 400, "invalid", body=_customer(name="Ada\x00"), field="name"),
    Bad("name newline", "POST", CUSTOMERS, 400, "invalid", body=_customer(name="Ada\nLovelace"), field="name"),
    Bad(
        "name right-to-left override", "POST", CUSTOMERS, 400, "invalid", body=_customer(name="\u202eAda"), field="name"
    ),
    Bad(
        "name lone surrogate",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        raw=b'{"name": "\\udfff", "email": "a@b.org"}',
        field="name",
    ),
    Bad("name private use", "POST", CUSTOMERS, 400, "invalid", body=_customer(name="\U000f0000"), field="name"),
    Bad("name trailing NEL", "POST", CUSTOMERS, 400, "invalid", body=_customer(name="Ada\x85"), field="name"),
    Bad("name empty", "POST", CUSTOMERS, 400, "invalid", body=_customer(name=""), field="name"),
    Bad("name 200 + a space", "POST", CUSTOMERS, 400, "invalid", body=_customer(name="A" * 200 + " "), field="name"),
    Bad("name a number", "POST", CUSTOMERS, 400, "invalid", body=_customer(name=42), field="name"),
    Bad("PATCH name control", "PATCH", CUSTOMER, 400, "invalid", body={"name": "Ada\x1b"}, field="name"),
    Bad("email a number", "POST", CUSTOMERS, 400, "invalid", body=_customer(email=12), field="email"),
    Bad("email without a domain", "POST", CUSTOMERS, 400, "invalid", body=_customer(email="ada@"), field="email"),
    Bad("email padded", "POST", CUSTOMERS, 400, "invalid", body=_customer(email=" ada@example.com"), field="email"),
    Bad(
        "email with a newline",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(email="ada@example.com\n"),
        field="email",
    ),
    Bad(
        "email with NUL", "POST", CUSTOMERS, 400, "invalid", body=_customer(email="ada\x00@example.com"), field="email"
    ),
    Bad(
        "email 255 characters",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(email="a" * 243 + "@example.com"),
        field="email",
    ),
    Bad(
        "email zero-width space",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(email="ada@exam\u200bple.com"),
        field="email",
    ),
    Bad(
        "email trailing BOM",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(email="ada@example.com\ufeff"),
        field="email",
    ),
    Bad(
        "email lone surrogate",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        raw=b'{"name": "Ada", "email": "ada@ex\\ud800.com"}',
        field="email",
    ),
    Bad(
        "PATCH email trailing line separator",
        "PATCH",
        CUSTOMER,
        400,
        "invalid",
        body={"email": "ada@example.com\u2028"},
        field="email",
    ),
    Bad(
        "email header injection",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(email="ada@example.com\r\nBcc: all@example.com"),
        field="email",
    ),
    Bad("phone just +", "POST", CUSTOMERS, 400, "invalid", body=_customer(phone="+"), field="phone"),
    Bad("phone two +", "POST", CUSTOMERS, 400, "invalid", body=_customer(phone="++44 20"), field="phone"),
    Bad("phone a number", "POST", CUSTOMERS, 400, "invalid", body=_customer(phone=4420794600), field="phone"),
    Bad("phone with a newline", "POST", CUSTOMERS, 400, "invalid", body=_customer(phone="+44 20\n"), field="phone"),
    Bad("phone 33 characters", "POST", CUSTOMERS, 400, "invalid", body=_customer(phone="1" * 33), field="phone"),
    Bad(
        "licence leading dash",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(driver_licence="-AB1"),
        field="driver_licence",
    ),
    Bad(
        "licence 65 characters",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(driver_licence="A" * 65),
        field="driver_licence",
    ),
    Bad(
        "licence trailing newline",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(driver_licence="AB1\n"),
        field="driver_licence",
    ),
    Bad(
        "licence NUL",
        "POST",
        CUSTOMERS,
        400,
        "invalid",
        body=_customer(driver_licence="AB\x001"),
        field="driver_licence",
    ),
    # -- duplicates ---------------------------------------------------------------------------------------------
    Bad(
        "email again, domain in capitals",
        "POST",
        CUSTOMERS,
        409,
        "customer_exists",
        body=_customer(email="target@EXAMPLE.COM"),
    ),
    Bad(
        "email again, all capitals",
        "POST",
        CUSTOMERS,
        409,
        "customer_exists",
        body=_customer(email="TARGET@EXAMPLE.COM"),
    ),
    Bad(
        "PATCH to a taken email, other case",
        "PATCH",
        "/api/v1/customers/{other}/",
        409,
        "customer_exists",
        body={"email": "Target@Example.com"},
    ),
    # -- fields that exist but cannot be written ----------------------------------------------------------------
    Bad("PATCH id", "PATCH", CUSTOMER, 400, "invalid", body={"id": str(uuid.uuid4())}, field="id"),
    Bad("PATCH status", "PATCH", CUSTOMER, 400, "invalid", body={"status": "deactivated"}, field="status"),
    Bad(
        "PATCH deactivated_at", "PATCH", CUSTOMER, 400, "invalid", body={"deactivated_at": None}, field="deactivated_at"
    ),
    # -- Idempotency-Key ----------------------------------------------------------------------------------------
    Bad(
        "key not ASCII",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(),
        field="Idempotency-Key",
        headers={"HTTP_IDEMPOTENCY_KEY": "ключ"},
    ),
    Bad(
        "key with a tab inside",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(),
        field="Idempotency-Key",
        headers={"HTTP_IDEMPOTENCY_KEY": "a\tb"},
    ),
    Bad(
        "key trailing newline",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(),
        field="Idempotency-Key",
        headers={"HTTP_IDEMPOTENCY_KEY": "key-1\n"},
    ),
    Bad(
        "key trailing NUL",
        "POST",
        RENTALS,
        400,
        "invalid",
        body=_rental(),
        field="Idempotency-Key",
        headers={"HTTP_IDEMPOTENCY_KEY": "key-1\x00"},
    ),
    # -- money: payments and their webhooks (nothing reaches the provider) ----------------------------------------
    Bad(
        "payment negative", "POST", PAYMENTS, 400, "invalid", body={"purpose": "charge", "amount": -100}, field="amount"
    ),
    Bad("payment zero", "POST", PAYMENTS, 400, "invalid", body={"purpose": "charge", "amount": 0}, field="amount"),
    Bad(
        "payment fraction", "POST", PAYMENTS, 400, "invalid", body={"purpose": "charge", "amount": 10.5}, field="amount"
    ),
    Bad(
        "payment amount text",
        "POST",
        PAYMENTS,
        400,
        "invalid",
        body={"purpose": "charge", "amount": "1"},
        field="amount",
    ),
    Bad("payment huge", "POST", PAYMENTS, 400, "invalid", body={"purpose": "charge", "amount": 2**63}, field="amount"),
    Bad(
        "payment currency",
        "POST",
        PAYMENTS,
        400,
        "invalid",
        body={"purpose": "charge", "currency": "XBT"},
        field="currency",
    ),
    Bad("payment purpose", "POST", PAYMENTS, 400, "invalid", body={"purpose": "tip"}, field="purpose"),
    Bad("payment no purpose", "POST", PAYMENTS, 400, "invalid", body={"amount": 100}, field="purpose"),
    Bad(
        "payment method NUL",
        "POST",
        PAYMENTS,
        400,
        "invalid",
        body={"purpose": "charge", "payment_method": "tok\x00visa"},
        field="payment_method",
    ),
    Bad("payment anonymous", "POST", PAYMENTS, 401, "not_authenticated", who="anon", body={"purpose": "charge"}),
    Bad("payment non-staff", "POST", PAYMENTS, 403, "permission_denied", who="plain", body={"purpose": "charge"}),
    Bad("capture unknown", "POST", f"/api/v1/payments/{CAR_ID}/capture/", 404, "payment_not_found", body={}),
    Bad("capture negative", "POST", f"/api/v1/payments/{CAR_ID}/capture/", 400, "invalid", body={"amount": -1}),
    Bad("refund fraction", "POST", f"/api/v1/payments/{CAR_ID}/refund/", 400, "invalid", body={"amount": 0.5}),
    Bad("webhook unsigned", "POST", WEBHOOK, 400, "bad_signature", raw=_event("payment_intent.succeeded")),
    Bad(
        "webhook other secret",
        "POST",
        WEBHOOK,
        400,
        "bad_signature",
        raw=_event("payment_intent.succeeded"),
        headers={"HTTP_FAKE_SIGNATURE": signature(_event("payment_intent.succeeded"), "whsec_not_ours")},
    ),
    Bad(
        "webhook unknown type",
        "POST",
        WEBHOOK,
        422,
        "unsupported_event",
        raw=_event("customer.created"),
        headers={"HTTP_FAKE_SIGNATURE": signature(_event("customer.created"), TEST_WEBHOOK_SECRET)},
    ),
    Bad("webhook provider unknown", "POST", "/api/v1/payments/webhooks/paypal/", 404, "not_found", raw=b"{}"),
    Bad(
        "pick-up payment method spaces",
        "POST",
        f"/api/v1/rentals/{RENTAL_ID}/pick-up/",
        400,
        "invalid",
        body={"odometer_km": 1, "fuel_eighths": 8, "payment_method": "tok visa"},
        field="payment_method",
    ),
    # -- query values -------------------------------------------------------------------------------------------
    Bad("customers limit 0", "GET", CUSTOMERS + "?limit=0", 400, "invalid", field="limit"),
    Bad("customers offset -5", "GET", CUSTOMERS + "?offset=-5", 400, "invalid", field="offset"),
    Bad("customers ordering by email", "GET", CUSTOMERS + "?ordering=email", 400, "invalid", field="ordering"),
    Bad("customers status in capitals", "GET", CUSTOMERS + "?status=ACTIVE", 400, "invalid", field="status"),
    Bad("customers email NUL", "GET", CUSTOMERS + "?email=a%00b", 400, "invalid", field="email"),
    Bad("rentals limit huge", "GET", RENTALS + "?limit=1" + "0" * 30, 400, "invalid", field="limit"),
    Bad("rentals car_id hex", "GET", RENTALS + f"?car_id={uuid.UUID(CAR_ID).hex}", 400, "invalid", field="car_id"),
    Bad("rentals customer_id junk", "GET", RENTALS + "?customer_id=abc", 400, "invalid", field="customer_id"),
    Bad("rentals car_id trailing newline", "GET", RENTALS + f"?car_id={CAR_ID}%0A", 400, "invalid", field="car_id"),
    Bad(
        "rentals customer_id braces",
        "GET",
        RENTALS + f"?customer_id=%7B{CUSTOMER_ID}%7D",
        400,
        "invalid",
        field="customer_id",
    ),
    Bad("customers limit trailing newline", "GET", CUSTOMERS + "?limit=5%0A", 400, "invalid", field="limit"),
    Bad("rentals status unknown", "GET", RENTALS + "?status=done", 400, "invalid", field="status"),
    Bad("rentals ordering by car", "GET", RENTALS + "?ordering=-car_id", 400, "invalid", field="ordering"),
    # -- who ----------------------------------------------------------------------------------------------------
    Bad("anonymous customer", "POST", CUSTOMERS, 401, "not_authenticated", who="anon", body=_customer()),
    Bad("anonymous end", "POST", f"/api/v1/rentals/{RENTAL_ID}/end/", 401, "not_authenticated", who="anon"),
    Bad("non-staff rental", "POST", RENTALS, 403, "permission_denied", who="plain", body=_rental()),
    Bad("non-staff deactivate", "POST", f"{CUSTOMER}deactivate/", 403, "permission_denied", who="plain"),
    Bad(
        "token with NUL",
        "GET",
        RENTALS,
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token " + "f" * 39 + "\x00"},
    ),
    Bad(
        "wrong token",
        "GET",
        RENTALS,
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token " + "f" * 40},
    ),
    # -- methods ------------------------------------------------------------------------------------------------
    Bad("PUT customer", "PUT", CUSTOMER, 405, "method_not_allowed", body=_customer()),
    Bad("DELETE customer", "DELETE", CUSTOMER, 405, "method_not_allowed"),
    Bad("PATCH rental", "PATCH", f"/api/v1/rentals/{RENTAL_ID}/", 405, "method_not_allowed", body={"status": "failed"}),
    Bad("DELETE rental", "DELETE", f"/api/v1/rentals/{RENTAL_ID}/", 405, "method_not_allowed"),
    Bad("GET end", "GET", f"/api/v1/rentals/{RENTAL_ID}/end/", 405, "method_not_allowed"),
]


@pytest.fixture
def world(db, inventory_down):
    from django.utils import timezone

    customer = CustomerFactory(id=CUSTOMER_ID, email="target@example.com")
    other = CustomerFactory(email="other@example.com")
    Rental.objects.create(id=RENTAL_ID, car_id=CAR_ID, customer=customer, status="active", started_at=timezone.now())
    return other


def _snapshot() -> list[list[dict]]:
    models = (Customer, Rental, OutboxMessage, IdempotencyKey, Payment, PaymentEvent)
    return [list(model.objects.order_by("pk").values()) for model in models]


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.name for bad in CATALOGUE])
def test_hostile_input_is_refused_with_a_problem_and_writes_nothing(bad: Bad, world, anon, staff, plain_user_client):
    client = {"anon": anon, "staff": staff, "plain": plain_user_client}[bad.who]
    before = _snapshot()
    assert_problem(bad.send(client, other=world.id), bad.status, bad.code, bad.field)
    assert _snapshot() == before


def test_the_catalogue_counts_what_it_tried(capsys):
    assert len(CATALOGUE) == len({bad.name for bad in CATALOGUE})
    with capsys.disabled():
        print(f"\n[figures] bad inputs booking: {len(CATALOGUE)}")


def test_unknown_query_parameters_and_body_fields_are_ignored(staff, world):
    assert staff.get(CUSTOMERS + "?colour=red&debug=1").json() == staff.get(CUSTOMERS).json()
    created = staff.post(CUSTOMERS, _customer(vip=True, loyalty={"tier": 9}), format="json")
    assert created.status_code == 201 and "vip" not in created.json()
