"""Every JSON string field of the fleet's write endpoints, taken from its own OpenAPI document, against hostile
near misses (drivenow_contracts.testing.hostile): a newline after an id, a BOM before it, braces around it, full-width
digits, lone surrogates, … A value the schema refuses gets a 4xx problem and writes nothing; nothing is a 5xx.

Every single change to every field is tried once; then hypothesis stacks up to three of them (and drawn control
and separator characters), derandomized so a run is the same run every time."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivenow_contracts.testing.hostile import MUTATIONS, hostile_values, json_body, judge, schema_allows, string_fields
from fleet.models import Car, Location, Reservation, VehicleClass
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

TARGET_ID = "0d9a3f4e-5b6c-4d7e-8f90-a1b2c3d4e5f6"  # the car, branch and class PATCHed (and the car reserved)
NEW_BRANCH = {"code": "HOSTILE-2", "name": "Hostile Airport", "time_zone": "Europe/London"}
NEW_CLASS = {"code": "HOSTILE-2", "name": "Hostile compact", "seats": 5, "transmission": "manual"}
BODIES = {
    ("POST", "/api/v1/cars/"): {"model": "Kia EV6", "year": 2024},
    ("PATCH", "/api/v1/cars/{id}/"): {"model": "Kia EV6"},
    ("POST", "/api/v1/reservations/"): {"id": "3f0c7c1e-8a5b-4c2d-9e6f-0a1b2c3d4e5f", "car_id": TARGET_ID},
    ("POST", "/api/v1/reservations/{id}/pick-up/"): {},
    ("POST", "/api/v1/reservations/{id}/extend/"): {"ends_at": "2031-01-02T10:00:00Z"},
    ("POST", "/api/v1/reservations/{id}/reassign/"): {"from_car_id": TARGET_ID},
    ("POST", "/api/v1/reservations/{id}/release/"): {},
    ("POST", "/api/v1/cars/{id}/blocks/"): {
        "starts_at": "2031-03-01T08:00:00Z",
        "ends_at": "2031-03-02T08:00:00Z",
        "reason": "Brake service",
    },
    ("POST", "/api/v1/locations/"): NEW_BRANCH,
    ("PATCH", "/api/v1/locations/{id}/"): {"name": "Renamed branch"},
    ("POST", "/api/v1/vehicle-classes/"): NEW_CLASS,
    ("PATCH", "/api/v1/vehicle-classes/{id}/"): {"name": "Renamed class"},
}
# The branch and class that exist, so a car naming them is valid.
VALUES = {
    "id": "9b2e4c6a-1d3f-4a5b-8c7d-6e5f4a3b2c1d",
    "plate": "AB 12 CD",
    "status": "maintenance",
    "vehicle_class": "HOSTILE-1",
    "location": "HOSTILE-1",
    "code": "HOSTILE-3",
    "return_location": "HOSTILE-1",
    "starts_at": "2031-01-01T10:00:00Z",
}


@pytest.fixture
def fleet(staff, service):
    CarFactory(id=TARGET_ID, plate="TARGET1")
    Location.objects.create(id=TARGET_ID, code="HOSTILE-1", name="Hostile Central", time_zone="Asia/Jerusalem")
    VehicleClass.objects.create(id=TARGET_ID, code="HOSTILE-1", name="Hostile SUV", seats=7, transmission="automatic")
    schema = staff.get("/schema?format=json").json()
    for client in (staff, service):
        client.raise_request_exception = False  # a crash is an answer here: a 500 to report, not an exception
    fields = string_fields(schema, bodies=BODIES, values=VALUES)
    assert {field.label for field in fields} >= {
        "POST /api/v1/cars/ id",
        "POST /api/v1/reservations/ id",
        "POST /api/v1/reservations/ car_id",
        "POST /api/v1/cars/ plate",
        "PATCH /api/v1/cars/{id}/ model",
    }

    def send(field, value: str) -> str | None:
        client = service if field.path.startswith("/api/v1/reservations") else staff
        before = _stored()
        response = client.generic(
            field.method,
            field.path.format(id=TARGET_ID),
            json_body(field.body_with(value)),
            content_type="application/json",
        )
        return judge(field, value, response, stored_before=before, stored_after=_stored())

    return fields, send


def _stored() -> tuple[list[dict], ...]:
    return tuple(list(model.objects.order_by("id").values()) for model in (Car, Reservation, Location, VehicleClass))


def test_every_string_field_answers_every_single_hostile_change(fleet):
    fields, send = fleet
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
def test_stacked_hostile_changes_are_refused_or_accepted_as_the_schema_says(fleet, data):
    fields, send = fleet
    field = data.draw(st.sampled_from(fields), label="field")
    changes, value = data.draw(hostile_values(field.base_value), label="changes")
    problem = send(field, value)
    assert problem is None, f"{changes}: {problem}"


def test_the_schema_verdict_reads_patterns_and_formats_as_the_schema_means_them():
    uuid_prop, plate_prop = {"type": "string", "format": "uuid"}, {"type": "string", "pattern": "^[A-Z0-9]{1,12}$"}
    assert schema_allows(uuid_prop, str(uuid.uuid4()).upper())
    for near_miss in (f"{uuid.uuid4()}\n", f"{{{uuid.uuid4()}}}", uuid.uuid4().hex, "５" + str(uuid.uuid4())[1:]):
        assert not schema_allows(uuid_prop, near_miss), near_miss
    assert schema_allows(plate_prop, "AB12") and not schema_allows(plate_prop, "AB12\n")  # `$` ends the text
    date_time = {"type": "string", "format": "date-time"}
    assert schema_allows(date_time, "2030-01-01T10:00:00+01:00")
    assert not schema_allows(date_time, "2030-01-01T10:00:00+01:00\n")
    assert not schema_allows(date_time, "2030-02-30T10:00:00Z")
