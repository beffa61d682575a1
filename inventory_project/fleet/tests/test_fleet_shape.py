"""v2's fleet shape: branches and vehicle classes (read by anyone, written by staff, named by code), and on each
car its class, its branch and an odometer that never goes down — refused by the database itself."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from drivenow_contracts.testing import assert_problem
from fleet.models import Car, Location, VehicleClass
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

BRANCH = {
    "code": "TLV-AIR",
    "name": "Tel Aviv Airport",
    "time_zone": "Asia/Jerusalem",
    "address": "Ben Gurion Airport, Terminal 3",
    "opening_hours": {"sun": [["06:00", "23:00"]], "fri": [["06:00", "14:00"]], "sat": [["20:00", "02:00"]]},
}
ECONOMY = {"code": "ECONOMY", "name": "Economy", "seats": 5, "transmission": "manual"}


@pytest.fixture
def branch(staff) -> dict:
    created = staff.post("/api/v1/locations/", BRANCH, format="json")
    assert created.status_code == 201, created.content
    return created.json()


@pytest.fixture
def economy(staff) -> dict:
    created = staff.post("/api/v1/vehicle-classes/", ECONOMY, format="json")
    assert created.status_code == 201, created.content
    return created.json()


def test_staff_add_a_branch_and_anyone_reads_it(branch, anon):
    assert {key: branch[key] for key in BRANCH} == BRANCH
    assert uuid.UUID(branch["id"]) and branch["created_at"].endswith("Z")
    listed = anon.get("/api/v1/locations/").json()
    assert listed["count"] == 1 and listed["results"][0]["code"] == "TLV-AIR"
    assert anon.get(f"/api/v1/locations/{branch['id']}/").json() == branch


def test_a_branch_code_is_taken_once(branch, staff):
    again = staff.post("/api/v1/locations/", {**BRANCH, "name": "Another"}, format="json")
    assert_problem(again, 409, "location_exists")
    assert Location.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "asia/jerusalem"}, "time_zone"),
        ({"code": "tlv-air"}, "code"),
        ({"code": "TLV-"}, "code"),
        ({"code": "TLV AIR"}, "code"),
        ({"opening_hours": {"mon": [["08:00"]]}}, "opening_hours.mon.0"),
        ({"opening_hours": {"mon": [["8:00", "18:00"]]}}, "opening_hours.mon.0.0"),
        ({"opening_hours": {"mon": [["08:00", "24:00"]]}}, "opening_hours.mon.0.1"),
    ],
)
def test_a_branch_the_rules_refuse_is_a_400_naming_the_field(staff, change, field):
    assert_problem(staff.post("/api/v1/locations/", {**BRANCH, **change}, format="json"), 400, "invalid", field)
    assert not Location.objects.exists()


def test_only_staff_change_branches_and_classes(branch, economy, anon, plain_user_client, service):
    for client, status in ((anon, 401), (plain_user_client, 403), (service, 403)):
        assert client.post("/api/v1/locations/", {**BRANCH, "code": "X1"}, format="json").status_code == status
        answer = client.patch(f"/api/v1/vehicle-classes/{economy['id']}/", {"seats": 4}, format="json")
        assert answer.status_code == status
    assert VehicleClass.objects.get().seats == 5


def test_staff_change_a_branch_and_a_class(branch, economy, staff):
    renamed = staff.patch(f"/api/v1/locations/{branch['id']}/", {"name": "TLV Terminal 3"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "TLV Terminal 3"
    faster = staff.patch(f"/api/v1/vehicle-classes/{economy['id']}/", {"turnaround_minutes": 15}, format="json")
    assert faster.status_code == 200 and faster.json()["turnaround_minutes"] == 15
    assert_problem(
        staff.patch(f"/api/v1/locations/{branch['id']}/", {"id": str(uuid.uuid4())}, format="json"),
        400,
        "invalid",
        "id",
    )
    assert_problem(
        staff.patch(f"/api/v1/locations/{uuid.uuid4()}/", {"name": "X"}, format="json"), 404, "location_not_found"
    )
    assert_problem(staff.get("/api/v1/vehicle-classes/not-a-uuid/"), 404, "vehicle_class_not_found")


def test_a_class_has_a_turnaround_of_thirty_minutes_unless_told(economy, staff):
    assert economy["turnaround_minutes"] == 30 and economy["transmission"] == "manual"
    assert_problem(
        staff.post("/api/v1/vehicle-classes/", {**ECONOMY, "code": "VAN", "seats": 0}, format="json"),
        400,
        "invalid",
        "seats",
    )
    assert_problem(staff.post("/api/v1/vehicle-classes/", ECONOMY, format="json"), 409, "vehicle_class_exists")


def test_a_class_is_booked_for_an_hour_at_least_unless_told(economy, staff):
    assert economy["min_rental_minutes"] == 60
    van = staff.post("/api/v1/vehicle-classes/", {**ECONOMY, "code": "VAN", "min_rental_minutes": 240}, format="json")
    assert van.status_code == 201 and van.json()["min_rental_minutes"] == 240
    changed = staff.patch(f"/api/v1/vehicle-classes/{van.json()['id']}/", {"min_rental_minutes": 0}, format="json")
    assert changed.status_code == 200 and changed.json()["min_rental_minutes"] == 0
    week_and_a_day = {**ECONOMY, "code": "SUV", "min_rental_minutes": 8 * 24 * 60}
    assert_problem(staff.post("/api/v1/vehicle-classes/", week_and_a_day, format="json"), 400, "invalid")


def test_a_car_names_its_class_and_branch_by_code(branch, economy, staff, anon):
    body = {
        "model": "Toyota Yaris",
        "year": 2024,
        "vehicle_class": "ECONOMY",
        "location": "TLV-AIR",
        "odometer_km": 12000,
    }
    created = staff.post("/api/v1/cars/", body, format="json")
    assert created.status_code == 201, created.content
    car = created.json()
    assert (car["vehicle_class"], car["location"], car["odometer_km"]) == ("ECONOMY", "TLV-AIR", 12000)
    assert anon.get(f"/api/v1/cars/{car['id']}/").json() == car
    CarFactory()  # a v1 car: no class, no branch
    assert [c["id"] for c in anon.get("/api/v1/cars/?vehicle_class=ECONOMY").json()["results"]] == [car["id"]]
    assert [c["id"] for c in anon.get("/api/v1/cars/?location=TLV-AIR").json()["results"]] == [car["id"]]
    assert anon.get("/api/v1/cars/?location=ELSEWHERE").json()["count"] == 0


def test_a_v1_car_has_no_class_or_branch(staff):
    created = staff.post("/api/v1/cars/", {"model": "Fiat 500", "year": 2019}, format="json").json()
    assert (created["vehicle_class"], created["location"], created["odometer_km"]) == (None, None, 0)


def test_a_car_naming_an_unknown_class_or_branch_is_unprocessable(branch, staff):
    refused = staff.post("/api/v1/cars/", {"model": "X", "year": 2024, "vehicle_class": "NOPE"}, format="json")
    assert_problem(refused, 422, "vehicle_class_not_found")
    refused = staff.post("/api/v1/cars/", {"model": "X", "year": 2024, "location": "NOPE"}, format="json")
    assert_problem(refused, 422, "location_not_found")
    assert not Car.objects.exists()
    car = CarFactory()
    assert_problem(
        staff.patch(f"/api/v1/cars/{car.id}/", {"location": "NOPE"}, format="json"), 422, "location_not_found"
    )


def test_a_car_moves_between_branches_and_classes(branch, economy, staff):
    car = CarFactory()
    moved = staff.patch(f"/api/v1/cars/{car.id}/", {"location": "TLV-AIR", "vehicle_class": "ECONOMY"}, format="json")
    assert moved.status_code == 200 and (moved.json()["location"], moved.json()["vehicle_class"]) == (
        "TLV-AIR",
        "ECONOMY",
    )
    cleared = staff.patch(f"/api/v1/cars/{car.id}/", {"location": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["location"] is None


def test_the_odometer_never_goes_down(staff):
    car = CarFactory(odometer_km=1000)
    assert staff.patch(f"/api/v1/cars/{car.id}/", {"odometer_km": 1500}, format="json").json()["odometer_km"] == 1500
    same = staff.patch(f"/api/v1/cars/{car.id}/", {"odometer_km": 1500}, format="json")
    assert same.status_code == 200
    body = assert_problem(
        staff.patch(f"/api/v1/cars/{car.id}/", {"odometer_km": 900}, format="json"), 409, "odometer_decrease"
    )
    assert "1500" in body["detail"]
    car.refresh_from_db()
    assert car.odometer_km == 1500


def test_the_database_refuses_a_lower_odometer_whoever_writes_it():
    car = CarFactory(odometer_km=1000)
    with pytest.raises(IntegrityError, match="cannot go down"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE fleet_car SET odometer_km = 10 WHERE id = %s", [car.id])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE fleet_car SET odometer_km = 1001, model = 'Moved on' WHERE id = %s", [car.id])
    car.refresh_from_db()
    assert car.odometer_km == 1001


def test_a_car_list_with_classes_and_branches_is_still_two_statements(branch, economy, staff, anon):
    from django.test.utils import CaptureQueriesContext

    for n in range(5):
        staff.post(
            "/api/v1/cars/",
            {"model": f"Car {n}", "year": 2024, "vehicle_class": "ECONOMY", "location": "TLV-AIR"},
            format="json",
        )
    with CaptureQueriesContext(connection) as queries:
        listed = anon.get("/api/v1/cars/?limit=5")
    assert listed.status_code == 200 and {c["vehicle_class"] for c in listed.json()["results"]} == {"ECONOMY"}
    assert len(queries.captured_queries) == 2  # the count and the page, classes and branches joined in
