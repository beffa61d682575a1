"""Every JSON string field of booking's write endpoints (rentals, customers and prices), taken from its own
OpenAPI document, against hostile near misses (drivenow_contracts.testing.hostile): a newline after an id, a BOM
before it, braces around it, full-width digits, lone surrogates, … A value the schema refuses gets a 4xx problem and
writes nothing (no customer, rental, outbox message, idempotency key, plan, extra, quote or charge); nothing is a
5xx. Booking talks to a live inventory, so a value the schema allows goes all the way.

Every single change to every field is tried once; then hypothesis stacks up to three of them (and drawn control
and separator characters), derandomized so a run is the same run every time."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from customers.tests.factories import CustomerFactory
from drivenow_contracts.testing.hostile import MUTATIONS, hostile_values, json_body, judge, string_fields
from payments.models import FakeIntent, Payment, PaymentEvent
from pricing.models import Charge, Extra, Quote, QuoteLine, RatePlan
from rentals.models import IdempotencyKey, OutboxMessage, Rental

# Booking refuses to call inventory inside a transaction, so no test-wide one.
pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER_ID = "1e2d3c4b-5a69-4788-9a6b-5c4d3e2f1a0b"  # exists, active; PATCHed and renting
BODIES = {
    ("POST", "/api/v1/rentals/"): {
        "car_id": "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",  # no such car in inventory: a valid start ends in 422
        "customer_id": CUSTOMER_ID,
        "expected_return_at": "2099-01-01T10:00:00+00:00",
    },
    ("POST", "/api/v1/rentals/{id}/pick-up/"): {"odometer_km": 10, "fuel_eighths": 8, "damage": "Scratch, rear door"},
    ("POST", "/api/v1/rentals/{id}/end/"): {"odometer_km": 10, "fuel_eighths": 8, "damage": "None"},
    ("POST", "/api/v1/rentals/{id}/extend/"): {"return_at": "2099-01-02T10:00:00+00:00"},
    ("POST", "/api/v1/customers/"): {"name": "Ada Lovelace", "email": "ada@example.com"},
    ("PATCH", "/api/v1/customers/{id}/"): {"name": "Ada Lovelace"},
    # prices: a plan and an extra that may be made (then 409: made already), a quote (201 or 422 no_rate_plan)
    ("POST", "/api/v1/rate-plans/"): {
        "vehicle_class": "COMPACT",
        "currency": "EUR",
        "hour": 100,
        "day": 600,
        "week": 3000,
        "valid_from": "2099-01-01T00:00:00+00:00",
    },
    ("PATCH", "/api/v1/rate-plans/{id}/"): {"vehicle_class": "COMPACT"},  # no such plan: 404 once valid
    ("POST", "/api/v1/extras/"): {"code": "SEAT", "name": "Child seat", "price": 500, "currency": "EUR", "per": "day"},
    ("POST", "/api/v1/quotes/"): {
        "vehicle_class": "COMPACT",
        "pickup_location": "TLV-AIR",
        "pickup_at": "2099-01-01T10:00:00+00:00",
        "return_at": "2099-01-02T10:00:00+00:00",
    },
    ("POST", "/api/v1/rentals/{id}/charges/"): {  # no such rental: 404 once valid
        "kind": "adjustment",
        "description": "Goodwill",
        "amount": 100,
        "currency": "EUR",
    },
    ("POST", "/api/v1/rentals/{id}/payments/"): {"purpose": "deposit", "payment_method": "tok_visa"},  # 404 once valid
    ("POST", "/api/v1/payments/{id}/capture/"): {"amount": 100},  # no string in it
    ("POST", "/api/v1/payments/{id}/refund/"): {"amount": 100},
    ("POST", "/api/v1/payments/webhooks/{provider}/"): {},  # the provider's event: any object, signed
}
VALUES = {
    "payment_method": "tok_visa",
    "phone": "+44 20 7946 0000",
    "driver_licence": "LOVEL-815-AD",
    "vehicle_class": "COMPACT",
    "pickup_location": "TLV-AIR",
    "return_location": "TLV-CEN",
    "pickup_at": "2099-01-01T10:00:00+00:00",
    "return_at": "2099-01-02T10:00:00+00:00",
    "location": "TLV-AIR",
    "valid_until": "2099-06-01T00:00:00+00:00",
}


@pytest.fixture
def booking(staff, inventory):
    CustomerFactory(id=CUSTOMER_ID)
    schema = staff.get("/schema?format=json").json()
    staff.raise_request_exception = False  # a crash is an answer here: a 500 to report, not an exception
    fields = string_fields(schema, bodies=BODIES, values=VALUES)
    assert {field.label for field in fields} >= {
        "POST /api/v1/rentals/ car_id",
        "POST /api/v1/rentals/ customer_id",
        "POST /api/v1/rentals/ expected_return_at",
        "POST /api/v1/customers/ email",
        "PATCH /api/v1/customers/{id}/ phone",
    }

    def send(field, value: str) -> str | None:
        before = _stored()
        response = staff.generic(
            field.method,
            field.path.format(id=CUSTOMER_ID),
            json_body(field.body_with(value)),
            content_type="application/json",
        )
        return judge(field, value, response, stored_before=before, stored_after=_stored())

    return fields, send


def _stored() -> tuple[list[dict], ...]:
    models = (
        Customer,
        Rental,
        OutboxMessage,
        IdempotencyKey,
        RatePlan,
        Extra,
        Quote,
        QuoteLine,
        Charge,
        Payment,
        PaymentEvent,
        FakeIntent,
    )
    return tuple(list(model.objects.order_by("pk").values()) for model in models)


def test_every_string_field_answers_every_single_hostile_change(booking):
    fields, send = booking
    wrong = [
        f"{name}: {problem}"
        for field in fields
        for name, mutate in MUTATIONS.items()
        if (problem := send(field, mutate(field.base_value)))
    ]
    assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong)


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_stacked_hostile_changes_are_refused_or_accepted_as_the_schema_says(booking, data):
    fields, send = booking
    field = data.draw(st.sampled_from(fields), label="field")
    changes, value = data.draw(hostile_values(field.base_value), label="changes")
    problem = send(field, value)
    assert problem is None, f"{changes}: {problem}"
