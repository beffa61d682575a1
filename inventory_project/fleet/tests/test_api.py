"""The fleet API as clients see it: bodies, status codes, problem+json codes, filters, pagination."""

import uuid

import pytest

from fleet.models import Car, CarStatus, Reservation
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db
SEED = {"id": "550e0085-e28b-41d4-a716-446655440000", "model": "Tesla Model 3", "year": 2024, "status": "available"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and body["detail"]
    return body


def test_seed_body_creates_the_car(staff):
    response = staff.post("/api/v1/cars/", SEED, format="json")
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in SEED} == SEED
    # v1's fields, and v2's (API.md: new fields appear in v1 answers, none is removed)
    v1 = {"id", "model", "year", "plate", "status", "created_at", "updated_at"}
    assert set(body) == v1 | {"vehicle_class", "location", "odometer_km"}
    assert Car.objects.filter(id=SEED["id"]).exists()


def test_same_id_or_plate_again_is_car_exists(staff):
    staff.post("/api/v1/cars/", SEED | {"plate": "ab 123"}, format="json")
    assert_problem(staff.post("/api/v1/cars/", SEED, format="json"), 409, "car_exists")
    other = {"model": "Fiat 500", "year": 2020, "plate": "AB-123"}
    assert_problem(staff.post("/api/v1/cars/", other, format="json"), 409, "car_exists")
    assert Car.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"year": 2020}, "model"),
        ({"model": "X"}, "year"),
        ({"model": "X", "year": 1800}, "year"),
        ({"model": "X", "year": 3000}, "year"),
        ({"model": "X", "year": "twenty"}, "year"),
        ({"model": "X", "year": 2020, "status": "rented"}, "status"),
        ({"model": "X", "year": 2020, "status": "stolen"}, "status"),
        ({"model": "X", "year": 2020, "id": "not-a-uuid"}, "id"),
        ({"model": "   ", "year": 2020}, "model"),
        ({"model": "bad\x00name", "year": 2020}, "model"),
        ({"model": "X", "year": 2020, "plate": "??!"}, "plate"),
    ],
)
def test_invalid_car_bodies_are_400_with_field_errors(staff, body, field):
    body = assert_problem(staff.post("/api/v1/cars/", body, format="json"), 400, "invalid")
    assert field in body["errors"]
    assert Car.objects.count() == 0


def test_malformed_json_is_parse_error(staff):
    response = staff.post("/api/v1/cars/", '{"model": "X",', content_type="application/json")
    assert_problem(response, 400, "parse_error")


def test_unknown_car_is_404_car_not_found(anon):
    assert_problem(anon.get(f"/api/v1/cars/{uuid.uuid4()}/"), 404, "car_not_found")
    assert_problem(anon.get("/api/v1/cars/not-a-uuid/"), 404, "car_not_found")


def test_unknown_path_and_wrong_method(anon, staff, car):
    assert_problem(anon.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_problem(staff.put(f"/api/v1/cars/{car.id}/", {}, format="json"), 405, "method_not_allowed")


def test_reads_are_public_and_writes_need_staff(anon, plain_user_client, service, car):
    assert anon.get("/api/v1/cars/").status_code == 200
    assert anon.get(f"/api/v1/cars/{car.id}/").status_code == 200
    assert_problem(anon.post("/api/v1/cars/", SEED, format="json"), 401, "not_authenticated")
    assert_problem(anon.patch(f"/api/v1/cars/{car.id}/", {"year": 1999}, format="json"), 401, "not_authenticated")
    assert_problem(anon.delete(f"/api/v1/cars/{car.id}/"), 401, "not_authenticated")
    for client in (plain_user_client, service):  # a token is not enough, and the service account is no staff
        assert_problem(client.post("/api/v1/cars/", SEED, format="json"), 403, "permission_denied")
        assert_problem(client.patch(f"/api/v1/cars/{car.id}/", {"year": 1999}, format="json"), 403, "permission_denied")
        assert_problem(client.delete(f"/api/v1/cars/{car.id}/"), 403, "permission_denied")
    car.refresh_from_db()
    assert car.year != 1999
    assert not Car.objects.filter(id=SEED["id"]).exists()


def test_bad_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_problem(anon.get("/api/v1/cars/"), 401, "authentication_failed")


def test_patch_changes_fields_and_enforces_transitions(staff, car):
    response = staff.patch(f"/api/v1/cars/{car.id}/", {"model": "Renamed", "plate": "zz 9"}, format="json")
    assert response.status_code == 200 and response.json()["model"] == "Renamed" and response.json()["plate"] == "ZZ9"
    assert staff.patch(f"/api/v1/cars/{car.id}/", {"status": "maintenance"}, format="json").json()["status"] == (
        "maintenance"
    )
    assert_problem(
        staff.patch(f"/api/v1/cars/{car.id}/", {"status": "rented"}, format="json"), 409, "invalid_status_transition"
    )
    car.refresh_from_db()
    assert car.status == CarStatus.MAINTENANCE


def test_patch_to_a_taken_plate_is_car_exists(staff):
    CarFactory(plate="TAKEN1")
    car = CarFactory()
    assert_problem(staff.patch(f"/api/v1/cars/{car.id}/", {"plate": "taken-1"}, format="json"), 409, "car_exists")


def test_a_rented_car_cannot_be_moved_by_hand(staff, service, car):
    service.post("/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(car.id)}, format="json")
    for target in ("available", "maintenance", "retired"):
        assert_problem(
            staff.patch(f"/api/v1/cars/{car.id}/", {"status": target}, format="json"), 409, "invalid_status_transition"
        )
    car.refresh_from_db()
    assert car.status == CarStatus.RENTED


def test_delete_fresh_car_204_and_car_with_history_409(staff, service):
    fresh, used = CarFactory(), CarFactory()
    service.post("/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(used.id)}, format="json")
    assert staff.delete(f"/api/v1/cars/{fresh.id}/").status_code == 204
    assert_problem(staff.delete(f"/api/v1/cars/{used.id}/"), 409, "car_has_history")
    assert list(Car.objects.values_list("id", flat=True)) == [used.id]


def test_list_filters(anon):
    CarFactory(model="Tesla Model 3", year=2024)
    CarFactory(model="Tesla Model Y", year=2022, status=CarStatus.MAINTENANCE)
    CarFactory(model="Fiat 500", year=2018)

    def models(query: str) -> list[str]:
        response = anon.get(f"/api/v1/cars/?{query}")
        assert response.status_code == 200
        return sorted(car["model"] for car in response.json()["results"])

    assert models("model=tesla") == ["Tesla Model 3", "Tesla Model Y"]
    assert models("status=available") == ["Fiat 500", "Tesla Model 3"]
    assert models("year=2022") == ["Tesla Model Y"]
    assert models("year_min=2020&year_max=2023") == ["Tesla Model Y"]
    assert models("status=available&model=TESLA") == ["Tesla Model 3"]


def test_invalid_filter_values_are_400(anon):
    assert "status" in assert_problem(anon.get("/api/v1/cars/?status=stolen"), 400, "invalid")["errors"]
    assert "year" in assert_problem(anon.get("/api/v1/cars/?year=abc"), 400, "invalid")["errors"]


def test_filter_form_class_is_built_once_and_requests_share_no_state(anon):
    """CarFilter keeps its form class (drivenow_contracts.server.filters.FilterSet): a bad value in one request must
    not leak into the next, and a good one must not stick."""
    from django.http import QueryDict

    from fleet.filters import CarFilter

    first, second = CarFilter(QueryDict("year=abc")), CarFilter(QueryDict("year=2022"))
    assert first.get_form_class() is second.get_form_class()
    assert not first.is_valid() and second.is_valid()
    assert first.form is not second.form and first.form.fields["year"] is not second.form.fields["year"]
    CarFactory(model="Fiat 500", year=2022)
    assert assert_problem(anon.get("/api/v1/cars/?year=abc"), 400, "invalid")["errors"]["year"]
    assert anon.get("/api/v1/cars/?year=2022").json()["count"] == 1
    assert anon.get("/api/v1/cars/?year=2021").json()["count"] == 0


def test_ordering_and_pagination(anon):
    for year in (2019, 2023, 2021):
        CarFactory(year=year)
    years = [c["year"] for c in anon.get("/api/v1/cars/?ordering=-year").json()["results"]]
    assert years == [2023, 2021, 2019]
    page = anon.get("/api/v1/cars/?ordering=year&limit=2&offset=1").json()
    assert page["count"] == 3 and [c["year"] for c in page["results"]] == [2021, 2023]
    assert page["previous"] is not None and page["next"] is None
    capped = anon.get("/api/v1/cars/?limit=100000").json()
    assert capped["count"] == 3 and len(capped["results"]) == 3
    # Not a count: refused and named, rather than silently served as the default page (test_hostile_input.py).
    assert set(assert_problem(anon.get("/api/v1/cars/?limit=-5&offset=-1"), 400, "invalid")["errors"]) <= {
        "limit",
        "offset",
    }


def test_reservation_flow_over_http(service, car):
    rid = str(uuid.uuid4())
    created = service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json")
    assert created.status_code == 201
    body = created.json()
    # v1's fields, all there (v2 adds its own: "new fields appear in v1 answers; no field is removed")
    assert {"id", "car_id", "state", "started_at", "released_at"} <= set(body)
    assert body["state"] == "active" and body["released_at"] is None and body["car_id"] == str(car.id)

    replay = service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json")
    assert replay.status_code == 200 and replay.json() == body

    other = service.post("/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(car.id)}, format="json")
    assert_problem(other, 409, "car_unavailable")
    assert service.get(f"/api/v1/reservations/{rid}/").json() == body

    released = service.post(f"/api/v1/reservations/{rid}/release/")
    assert released.status_code == 200 and released.json()["state"] == "released"
    again = service.post(f"/api/v1/reservations/{rid}/release/")
    assert again.status_code == 200 and again.json() == released.json()
    car.refresh_from_db()
    assert car.status == CarStatus.AVAILABLE


def test_reservation_errors(service, car):
    unknown_car = {"id": str(uuid.uuid4()), "car_id": str(uuid.uuid4())}
    assert_problem(service.post("/api/v1/reservations/", unknown_car, format="json"), 422, "car_not_found")
    assert_problem(service.get(f"/api/v1/reservations/{uuid.uuid4()}/"), 404, "reservation_not_found")
    assert_problem(service.get("/api/v1/reservations/nope/"), 404, "reservation_not_found")
    never_held = uuid.uuid4()
    assert_problem(service.post(f"/api/v1/reservations/{never_held}/release/"), 404, "reservation_not_found")
    body = assert_problem(service.post("/api/v1/reservations/", {"car_id": "x"}, format="json"), 400, "invalid")
    assert set(body["errors"]) == {"id", "car_id"}
    # No hold was made; releasing an id never held left that id's tombstone, and nothing else.
    assert [(r.id, r.car_id, r.state) for r in Reservation.objects.all()] == [(never_held, None, "released")]


def test_reservations_need_the_service_permission(anon, staff, plain_user_client, car):
    body = {"id": str(uuid.uuid4()), "car_id": str(car.id)}
    assert_problem(anon.post("/api/v1/reservations/", body, format="json"), 401, "not_authenticated")
    for client in (staff, plain_user_client):
        assert_problem(client.post("/api/v1/reservations/", body, format="json"), 403, "permission_denied")
    assert Reservation.objects.count() == 0


def test_request_id_is_kept_or_made(anon):
    assert anon.get("/api/v1/cars/", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    made = anon.get("/api/v1/cars/", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"]
    assert made and made != "bad id\n" and len(made) == 32


def test_oversized_body_is_413(staff):
    big = '{"model": "' + "x" * (2 * 1024 * 1024) + '", "year": 2020}'
    assert_problem(staff.post("/api/v1/cars/", big, content_type="application/json"), 413, "request_too_large")


def test_patch_refuses_fixed_fields_and_non_objects(staff, car):
    body = assert_problem(
        staff.patch(f"/api/v1/cars/{car.id}/", {"id": str(uuid.uuid4())}, format="json"), 400, "invalid"
    )
    assert "id" in body["errors"]
    assert_problem(staff.patch(f"/api/v1/cars/{car.id}/", [1, 2], format="json"), 400, "invalid")
    assert_problem(staff.patch(f"/api/v1/cars/{uuid.uuid4()}/", {"year": 2020}, format="json"), 404, "car_not_found")
    assert Car.objects.filter(id=car.id).exists()


def test_deeply_nested_json_is_a_parse_error_not_a_crash(staff):
    deep = "[" * 100_000 + "]" * 100_000
    assert_problem(staff.post("/api/v1/cars/", deep, content_type="application/json"), 400, "parse_error")
    assert Car.objects.count() == 0


def test_wrong_content_type_is_415(staff):
    response = staff.post("/api/v1/cars/", "model=X", content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")
    assert Car.objects.count() == 0


def test_pages_ordered_by_a_shared_value_neither_skip_nor_repeat(anon):
    for _ in range(45):
        CarFactory(year=2020)
    seen = []
    for offset in range(0, 45, 10):
        page = anon.get(f"/api/v1/cars/?ordering=year&limit=10&offset={offset}").json()
        seen += [car["id"] for car in page["results"]]
    assert len(seen) == 45 and len(set(seen)) == 45


@pytest.mark.parametrize("bad_id", [True, 12, 2**100, None])
def test_reservation_ids_must_be_uuid_strings(service, car, bad_id):
    body = {"id": bad_id, "car_id": str(car.id)}
    assert "id" in assert_problem(service.post("/api/v1/reservations/", body, format="json"), 400, "invalid")["errors"]
    body = {"id": str(uuid.uuid4()), "car_id": bad_id}
    assert (
        "car_id" in assert_problem(service.post("/api/v1/reservations/", body, format="json"), 400, "invalid")["errors"]
    )
    assert Reservation.objects.count() == 0


def test_the_fast_car_representation_equals_drfs_generic_one(car):
    from rest_framework import serializers

    from fleet.serializers import CarOutput

    class Generic(serializers.ModelSerializer):
        class Meta:
            model = Car
            fields = CarOutput.Meta.fields

    car.refresh_from_db()
    assert CarOutput(car).data == Generic(car).data
    assert CarOutput([car], many=True).data == Generic([car], many=True).data


def test_the_booking_service_lists_holds_by_state_and_nobody_else_does(service, anon, staff):
    cars = [CarFactory(), CarFactory()]
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    for rid, car in zip(ids, cars, strict=True):
        assert (
            service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json").status_code == 201
        )
    assert service.post(f"/api/v1/reservations/{ids[0]}/release/").status_code == 200
    active = service.get("/api/v1/reservations/?state=active").json()
    assert active["count"] == 1 and [r["id"] for r in active["results"]] == [ids[1]]
    assert service.get(f"/api/v1/reservations/?car_id={cars[0].id}").json()["results"][0]["state"] == "released"
    assert_problem(service.get("/api/v1/reservations/?state=held"), 400, "invalid")
    assert_problem(anon.get("/api/v1/reservations/"), 401, "not_authenticated")
    assert_problem(staff.get("/api/v1/reservations/"), 403, "permission_denied")
