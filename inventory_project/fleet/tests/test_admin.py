"""Fleet staff in the Django admin: log in, filter, search, and move cars with the bulk actions."""

import uuid

import pytest
from django.test import Client

from fleet import services
from fleet.models import Car, CarStatus
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(staff_user) -> Client:
    staff_user.is_superuser = True
    staff_user.save()
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "fleet-staff", "password": "pw-fleet-staff-1"}, follow=True
    )
    assert response.status_code == 200 and response.context["user"].is_authenticated
    return client


def test_staff_logs_in_and_sends_cars_to_maintenance_in_bulk(browser):
    cars = [CarFactory(), CarFactory()]
    untouched = CarFactory()
    response = browser.post(
        "/admin/fleet/car/",
        {"action": "send_to_maintenance", "_selected_action": [str(c.id) for c in cars]},
        follow=True,
    )
    assert response.status_code == 200
    assert "2 car(s) now maintenance" in response.content.decode()
    assert set(Car.objects.filter(status=CarStatus.MAINTENANCE).values_list("id", flat=True)) == {c.id for c in cars}
    untouched.refresh_from_db()
    assert untouched.status == CarStatus.AVAILABLE


def test_bulk_action_refuses_what_the_service_refuses(browser):
    rented, retired = CarFactory(), CarFactory(status=CarStatus.RETIRED)
    services.reservation_create(reservation_id=uuid.uuid4(), car_id=rented.id)
    response = browser.post(
        "/admin/fleet/car/",
        {"action": "make_available", "_selected_action": [str(rented.id), str(retired.id)]},
        follow=True,
    )
    page = response.content.decode()
    assert "cannot go from" in page
    assert Car.objects.get(id=rented.id).status == CarStatus.RENTED
    assert Car.objects.get(id=retired.id).status == CarStatus.RETIRED


def test_changelist_filters_and_search(browser):
    CarFactory(model="Tesla Model 3", plate="TESLA1")
    CarFactory(model="Fiat 500", status=CarStatus.MAINTENANCE, year=2011)

    def listed(query: str) -> list[str]:
        return [car.model for car in browser.get(f"/admin/fleet/car/?{query}").context["cl"].result_list]

    assert listed("status__exact=maintenance") == ["Fiat 500"]
    assert listed("year=2011") == ["Fiat 500"]
    assert listed("model=Tesla+Model+3") == ["Tesla Model 3"]
    assert listed("q=tesla1") == ["Tesla Model 3"]
    assert listed("q=fiat") == ["Fiat 500"]


def test_change_form_shows_reservation_history_and_keeps_rented_read_only(browser):
    car = CarFactory()
    reservation, _ = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    page = browser.get(f"/admin/fleet/car/{car.id}/change/").content.decode()
    assert "Reservation history" in page and str(reservation.id) in page
    assert 'name="status"' not in page  # rented: shown, not editable


def test_change_form_refuses_a_forbidden_transition(browser):
    car = CarFactory(status=CarStatus.RETIRED)
    response = browser.post(
        f"/admin/fleet/car/{car.id}/change/",
        {
            "model": car.model,
            "year": car.year,
            "plate": car.plate,
            "status": "available",
            "reservations-TOTAL_FORMS": "0",
            "reservations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200 and "cannot go from" in response.content.decode()
    car.refresh_from_db()
    assert car.status == CarStatus.RETIRED


def test_admin_adds_a_car_through_the_service(browser):
    response = browser.post(
        "/admin/fleet/car/add/",
        {
            "model": "Kia Niro",
            "year": 2023,
            "plate": "ki-99",
            "status": "available",
            "reservations-TOTAL_FORMS": "0",
            "reservations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Car.objects.get(model="Kia Niro").plate == "KI99"


def test_service_account_cannot_use_the_admin(service_user):
    client = Client()
    client.force_login(service_user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("query", ["status__exact=%00", "q=%00", "model=%00", "year=%00"])
def test_admin_list_with_nul_in_the_query_is_refused_not_a_500(browser, query):
    CarFactory()
    response = browser.get(f"/admin/fleet/car/?{query}")
    assert response.status_code == 302 and "e=1" in response["Location"]


def test_admin_change_page_with_nul_in_the_id_is_not_found(browser):
    response = browser.get("/admin/fleet/car/abc%00/change/", follow=True)
    assert response.status_code == 200 and "doesn’t exist" in response.content.decode()


# -- who may do what, and by which rules ----------------------------------------------------------------------
def _staff_with(*codenames: str) -> Client:
    """A logged-in staff account (not a superuser) holding exactly these fleet permissions."""
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(f"staff-{'-'.join(codenames)}", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="fleet", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _actions(client: Client) -> set[str]:
    form = client.get("/admin/fleet/car/").context["action_form"]
    return set() if form is None else {name for name, _ in form.fields["action"].choices if name}


def test_a_view_only_account_is_offered_no_car_action_and_a_posted_one_changes_nothing():
    car = CarFactory()
    viewer = _staff_with("view_car")
    assert _actions(viewer) == set()
    for action in ("retire", "delete_cars", "delete_selected"):
        viewer.post("/admin/fleet/car/", {"action": action, "_selected_action": [str(car.id)], "post": "yes"})
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE


def test_every_admin_action_declares_its_permissions():
    """An action without `permissions` is offered to anyone who may view the list: none may be (ours or a library's)."""
    from django.contrib import admin

    from drivenow_contracts.testing import actions_without_permissions

    assert actions_without_permissions(admin.site) == []


def test_each_car_action_needs_its_own_permission():
    assert _actions(_staff_with("view_car", "change_car")) == {"send_to_maintenance", "make_available", "retire"}
    assert _actions(_staff_with("view_car", "delete_car")) == {"delete_cars"}  # not Django's stock delete


def test_delete_selected_goes_through_car_delete_and_keeps_a_car_with_history():
    never_reserved, reserved = CarFactory(), CarFactory()
    services.reservation_create(reservation_id=uuid.uuid4(), car_id=reserved.id)
    deleter = _staff_with("view_car", "delete_car")
    response = deleter.post(
        "/admin/fleet/car/",
        {"action": "delete_cars", "_selected_action": [str(never_reserved.id), str(reserved.id)]},
        follow=True,
    )
    page = response.content.decode()
    assert "1 car(s) deleted" in page and "retire it instead" in page
    assert list(Car.objects.values_list("id", flat=True)) == [reserved.id]


def test_the_change_form_delete_of_a_car_with_history_is_a_message_not_a_delete(browser):
    car = CarFactory()
    services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    for method in ("get", "post"):
        response = getattr(browser, method)(f"/admin/fleet/car/{car.id}/delete/", {"post": "yes"}, follow=True)
        assert response.redirect_chain[-1][0] == f"/admin/fleet/car/{car.id}/change/"
        assert "retire it instead" in response.content.decode()
    assert Car.objects.filter(id=car.id).exists()


def test_the_change_form_deletes_a_never_reserved_car_through_the_service(browser):
    car = CarFactory()
    response = browser.post(f"/admin/fleet/car/{car.id}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Car.objects.filter(id=car.id).exists()


def _add(browser: Client, **fields: object):
    form = {
        "model": "Kia Niro",
        "year": 2023,
        "plate": "",
        "status": "available",
        "reservations-TOTAL_FORMS": "0",
        "reservations-INITIAL_FORMS": "0",
        **fields,
    }
    return browser.post("/admin/fleet/car/add/", form)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("plate", "AB\x1b12"),
        ("plate", "ＡＢ１２"),
        ("plate", "AB12\u200b"),
        ("plate", "ABCDEFGHJK123"),
        ("model", "Kia\u200bNiro"),
        ("model", "Kia\x85"),
        ("model", "K" * 101),
        ("year", 1899),
        ("year", 2090),
    ],
)
def test_the_car_form_refuses_what_the_api_refuses(browser, field, value):
    response = _add(browser, **{field: value})
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert not Car.objects.exists()


def test_the_car_form_stores_what_the_api_would(browser):
    assert _add(browser, plate=" ki-99 ", model="  Kia Niro  ").status_code == 302
    car = Car.objects.get()
    assert (car.plate, car.model) == ("KI99", "Kia Niro")


def test_the_car_form_refuses_on_change_what_the_api_refuses(browser):
    car = CarFactory(plate="GOOD1")
    response = browser.post(
        f"/admin/fleet/car/{car.id}/change/",
        {
            "model": car.model,
            "year": car.year,
            "plate": "BAD\x071",
            "status": car.status,
            "reservations-TOTAL_FORMS": "0",
            "reservations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200 and "plate" in response.context["adminform"].form.errors
    car.refresh_from_db()
    assert car.plate == "GOOD1"


def test_admin_adds_a_branch_and_a_class_and_puts_a_car_in_them(browser, monkeypatch):
    from fleet import services
    from fleet.models import Location, VehicleClass

    made = []
    for name in ("location_create", "vehicle_class_create", "car_update"):
        real = getattr(services, name)
        monkeypatch.setattr(
            services, name, lambda *a, _real=real, _name=name, **kw: made.append(_name) or _real(*a, **kw)
        )
    added = browser.post(
        "/admin/fleet/location/add/",
        {"code": "HFA-PORT", "name": "Haifa Port", "time_zone": "Asia/Jerusalem", "address": "", "opening_hours": "{}"},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    refused = browser.post(
        "/admin/fleet/location/add/",
        {"code": "hfa port", "name": "Bad", "time_zone": "Asia/Jerusalem", "address": "", "opening_hours": "{}"},
    )
    assert refused.status_code == 200 and Location.objects.count() == 1  # the API's rule for codes, in the admin
    added = browser.post(
        "/admin/fleet/vehicleclass/add/",
        {
            "code": "SUV",
            "name": "SUV",
            "seats": 7,
            "transmission": "automatic",
            "turnaround_minutes": 45,
            "min_rental_minutes": 60,
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    car = CarFactory()
    moved = browser.post(
        f"/admin/fleet/car/{car.id}/change/",
        {
            "model": car.model,
            "year": car.year,
            "plate": car.plate,
            "status": "available",
            "vehicle_class": str(VehicleClass.objects.get(code="SUV").id),
            "location": str(Location.objects.get(code="HFA-PORT").id),
            "reservations-TOTAL_FORMS": "0",
            "reservations-INITIAL_FORMS": "0",
        },
    )
    assert moved.status_code == 302, moved.content.decode()[:3000]
    car.refresh_from_db()
    assert (car.vehicle_class.code, car.location.code) == ("SUV", "HFA-PORT")
    assert made == ["location_create", "vehicle_class_create", "car_update"]  # every change through the services
