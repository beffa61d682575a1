import uuid

import pytest
from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from fleet import errors, services
from fleet.models import Car, CarStatus, Reservation, ReservationState
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db


def test_car_create_with_client_id_and_normalised_plate():
    car_id = uuid.uuid4()
    car = services.car_create(id=car_id, model="Tesla Model 3", year=2024, plate=" ab-12 cd ")
    assert car.id == car_id
    assert Car.objects.get(id=car_id).plate == "AB12CD"


def test_plates_differing_only_by_case_or_spacing_are_one_plate():
    services.car_create(model="A", year=2020, plate="xy 123")
    with pytest.raises(errors.CarExists):
        services.car_create(model="B", year=2021, plate="XY-123")
    assert Car.objects.count() == 1


def test_same_id_twice_is_car_exists():
    car = CarFactory()
    with pytest.raises(errors.CarExists):
        services.car_create(id=car.id, model="Other", year=2020)


def test_nobody_creates_a_rented_car():
    with pytest.raises(errors.InvalidStatusTransition):
        services.car_create(model="A", year=2020, status=CarStatus.RENTED)


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (CarStatus.AVAILABLE, CarStatus.MAINTENANCE, True),
        (CarStatus.MAINTENANCE, CarStatus.AVAILABLE, True),
        (CarStatus.AVAILABLE, CarStatus.RETIRED, True),
        (CarStatus.MAINTENANCE, CarStatus.RETIRED, True),
        (CarStatus.RETIRED, CarStatus.AVAILABLE, False),
        (CarStatus.AVAILABLE, CarStatus.RENTED, False),
        (CarStatus.RENTED, CarStatus.AVAILABLE, False),
        (CarStatus.RENTED, CarStatus.MAINTENANCE, False),
    ],
)
def test_staff_status_transitions(start, target, allowed):
    car = CarFactory(status=start)
    if allowed:
        assert services.car_change_status(car_id=car.id, status=target).status == target
    else:
        with pytest.raises(errors.InvalidStatusTransition):
            services.car_change_status(car_id=car.id, status=target)
        car.refresh_from_db()
        assert car.status == start


def test_reservation_takes_the_car_and_release_frees_it():
    car = CarFactory()
    reservation, created = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    assert created and reservation.state == ReservationState.ACTIVE and reservation.released_at is None
    car.refresh_from_db()
    assert car.status == CarStatus.RENTED

    released = services.reservation_release(reservation_id=reservation.id)
    assert released.state == ReservationState.RELEASED and released.released_at is not None
    car.refresh_from_db()
    assert car.status == CarStatus.AVAILABLE


def test_replaying_a_reservation_returns_the_same_hold():
    car = CarFactory()
    rid = uuid.uuid4()
    first, created = services.reservation_create(reservation_id=rid, car_id=car.id)
    again, created_again = services.reservation_create(reservation_id=rid, car_id=car.id)
    assert created and not created_again and again.id == first.id
    assert Reservation.objects.count() == 1


def test_reservation_id_reused_for_another_car_is_a_conflict():
    rid = uuid.uuid4()
    services.reservation_create(reservation_id=rid, car_id=CarFactory().id)
    with pytest.raises(errors.ReservationConflict):
        services.reservation_create(reservation_id=rid, car_id=CarFactory().id)


def test_second_reservation_for_same_car_is_refused():
    car = CarFactory()
    services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    with pytest.raises(errors.CarUnavailable):
        services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    assert Reservation.objects.filter(car=car).count() == 1


@pytest.mark.parametrize("status", [CarStatus.MAINTENANCE, CarStatus.RETIRED])
def test_cars_out_of_service_cannot_be_reserved(status):
    car = CarFactory(status=status)
    with pytest.raises(errors.CarUnavailable):
        services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)


def test_reserving_an_unknown_car_is_unprocessable():
    with pytest.raises(errors.ReservedCarNotFound) as info:
        services.reservation_create(reservation_id=uuid.uuid4(), car_id=uuid.uuid4())
    assert info.value.http_status == 422


def test_release_is_idempotent_and_unknown_release_is_not_found():
    car = CarFactory()
    reservation, _ = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    first = services.reservation_release(reservation_id=reservation.id)
    second = services.reservation_release(reservation_id=reservation.id)
    assert first.released_at == second.released_at
    with pytest.raises(errors.ReservationNotFound):
        services.reservation_release(reservation_id=uuid.uuid4())


def test_replaying_a_released_id_is_a_conflict_not_a_hold():
    car = CarFactory()
    rid = uuid.uuid4()
    services.reservation_create(reservation_id=rid, car_id=car.id)
    services.reservation_release(reservation_id=rid)
    with pytest.raises(errors.ReservationConflict):
        services.reservation_create(reservation_id=rid, car_id=car.id)
    car.refresh_from_db()
    assert car.status == CarStatus.AVAILABLE


def test_released_car_can_be_reserved_again():
    car = CarFactory()
    first, _ = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    services.reservation_release(reservation_id=first.id)
    second, created = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    assert created and second.car_id == car.id


def test_database_refuses_overlapping_holds_even_without_the_service():
    """The exclusion constraint is the last word, whatever the application code does."""
    car = CarFactory()
    Reservation.objects.create(id=uuid.uuid4(), car=car, period=DateTimeTZRange(timezone.now(), None))
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(id=uuid.uuid4(), car=car, period=DateTimeTZRange(timezone.now(), None))


def test_database_refuses_invalid_status_and_year():
    with pytest.raises(IntegrityError), transaction.atomic():
        Car.objects.create(model="X", year=2020, status="stolen")
    with pytest.raises(IntegrityError), transaction.atomic():
        Car.objects.create(model="X", year=1700)


def test_car_with_history_cannot_be_deleted_but_a_fresh_one_can():
    used, fresh = CarFactory(), CarFactory()
    services.reservation_create(reservation_id=uuid.uuid4(), car_id=used.id)
    with pytest.raises(errors.CarHasHistory):
        services.car_delete(car_id=used.id)
    services.car_delete(car_id=fresh.id)
    assert list(Car.objects.values_list("id", flat=True)) == [used.id]
