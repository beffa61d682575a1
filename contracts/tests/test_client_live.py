"""InventoryClient against a live inventory server (gunicorn, PostgreSQL): real HTTP, the contract end to end."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from drivenow_contracts import (
    CarNotFound,
    CarNotReturned,
    CarStatus,
    CarUnavailable,
    ClassUnavailable,
    ContractError,
    ExtensionConflict,
    InventoryClient,
    InventoryRejected,
    NotStarted,
    Reservation,
    ReservationConflict,
    ReservationNotFound,
    ReservationState,
)

from .live import CarMaker, LiveInventory

pytestmark = pytest.mark.live

DEMO_TRANSIT = UUID("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a04")  # seed_demo's Ford Transit, in maintenance


# -- cars ---------------------------------------------------------------------------------------------------


def test_get_car_returns_the_car_as_created(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    car_id = make_car(model="Skoda Octavia", year=2021)

    car = inventory_client.get_car(car_id)

    assert car.id == car_id
    assert (car.model, car.year, car.plate) == ("Skoda Octavia", 2021, None)
    assert car.status is CarStatus.AVAILABLE
    assert car.created_at is not None and car.created_at.tzinfo is not None
    assert car.updated_at is not None and car.updated_at >= car.created_at


def test_get_unknown_car_raises_car_not_found(inventory_client: InventoryClient) -> None:
    with pytest.raises(CarNotFound) as raised:
        inventory_client.get_car(uuid.uuid4())

    assert raised.value.status == 404


def test_list_cars_filters_by_model_case_insensitively(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    tag = uuid.uuid4().hex[:8]
    wanted = {make_car(model=f"Filter {tag} Alpha"), make_car(model=f"filter {tag} beta")}
    make_car(model=f"Other {uuid.uuid4().hex[:8]}")

    page = inventory_client.list_cars(model=f"FILTER {tag.upper()}")

    assert page.count == 2
    assert {car.id for car in page.results} == wanted


def test_list_cars_filters_by_status(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    tag = uuid.uuid4().hex[:8]
    in_maintenance = make_car(model=f"Status {tag}", status="maintenance")
    make_car(model=f"Status {tag}")

    page = inventory_client.list_cars(status=CarStatus.MAINTENANCE, model=f"Status {tag}")
    every_maintenance = inventory_client.list_cars(status="maintenance", limit=200)

    assert [car.id for car in page.results] == [in_maintenance]
    assert all(car.status is CarStatus.MAINTENANCE for car in every_maintenance.results)
    assert DEMO_TRANSIT in {car.id for car in every_maintenance.results}


def test_list_cars_limit_pages_the_results(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    tag = uuid.uuid4().hex[:8]
    created = [make_car(model=f"Paged {tag}") for _ in range(3)]

    first = inventory_client.list_cars(model=f"Paged {tag}", limit=2)
    second = inventory_client.list_cars(model=f"Paged {tag}", limit=2, offset=2)

    assert first.count == second.count == 3
    assert len(first.results) == 2 and first.next is not None and first.previous is None
    assert len(second.results) == 1 and second.next is None and second.previous is not None
    assert [car.id for car in first.results + second.results] == created  # oldest first


# -- reservations -------------------------------------------------------------------------------------------


def test_reserve_holds_the_car(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    car_id, reservation_id = make_car(), uuid.uuid4()

    reservation = inventory_client.reserve(reservation_id=reservation_id, car_id=car_id)

    assert isinstance(reservation, Reservation)
    assert (reservation.id, reservation.car_id) == (reservation_id, car_id)
    assert reservation.state is ReservationState.ACTIVE
    assert reservation.released_at is None and reservation.started_at.tzinfo is not None
    assert inventory_client.get_car(car_id).status is CarStatus.RENTED


def test_reserve_replay_returns_the_same_hold(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    car_id, reservation_id = make_car(), uuid.uuid4()
    first = inventory_client.reserve(reservation_id=reservation_id, car_id=car_id)

    replayed = inventory_client.reserve(reservation_id=str(reservation_id), car_id=str(car_id))

    assert replayed == first


def test_reserve_with_another_id_on_a_held_car_raises_car_unavailable(
    inventory_client: InventoryClient, make_car: CarMaker
) -> None:
    car_id, holder = make_car(), uuid.uuid4()
    inventory_client.reserve(reservation_id=holder, car_id=car_id)

    with pytest.raises(CarUnavailable) as raised:
        inventory_client.reserve(reservation_id=uuid.uuid4(), car_id=car_id)

    assert raised.value.status == 409
    assert inventory_client.get_reservation(holder).state is ReservationState.ACTIVE


def test_reserve_a_car_in_maintenance_raises_car_unavailable(
    inventory_client: InventoryClient, make_car: CarMaker
) -> None:
    car_id = make_car(status="maintenance")

    with pytest.raises(CarUnavailable):
        inventory_client.reserve(reservation_id=uuid.uuid4(), car_id=car_id)


def test_reserve_unknown_car_raises_car_not_found(inventory_client: InventoryClient) -> None:
    reservation_id = uuid.uuid4()

    with pytest.raises(CarNotFound) as raised:
        inventory_client.reserve(reservation_id=reservation_id, car_id=uuid.uuid4())

    assert raised.value.status == 422
    with pytest.raises(ReservationNotFound):
        inventory_client.get_reservation(reservation_id)  # nothing was left behind


def test_reserve_same_id_on_another_car_raises_reservation_conflict(
    inventory_client: InventoryClient, make_car: CarMaker
) -> None:
    held_car, other_car, reservation_id = make_car(), make_car(), uuid.uuid4()
    inventory_client.reserve(reservation_id=reservation_id, car_id=held_car)

    with pytest.raises(ReservationConflict) as raised:
        inventory_client.reserve(reservation_id=reservation_id, car_id=other_car)

    assert raised.value.status == 409
    assert inventory_client.get_car(other_car).status is CarStatus.AVAILABLE


def test_concurrent_reserves_of_one_car_let_exactly_one_through(
    live_inventory: LiveInventory, make_car: CarMaker
) -> None:
    car_id = make_car()
    won: list[Reservation] = []
    refused: list[ContractError] = []
    start = threading.Barrier(6)

    def attempt() -> None:
        client = live_inventory.client()
        start.wait()
        try:
            won.append(client.reserve(reservation_id=uuid.uuid4(), car_id=car_id))
        except CarUnavailable as exc:
            refused.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(won) == 1 and len(refused) == 5


def test_get_reservation_returns_the_hold(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    car_id, reservation_id = make_car(), uuid.uuid4()
    created = inventory_client.reserve(reservation_id=reservation_id, car_id=car_id)

    assert inventory_client.get_reservation(reservation_id) == created


def test_get_unknown_reservation_raises_reservation_not_found(inventory_client: InventoryClient) -> None:
    with pytest.raises(ReservationNotFound) as raised:
        inventory_client.get_reservation(uuid.uuid4())

    assert raised.value.status == 404


def test_release_frees_the_car_and_is_idempotent(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    car_id, reservation_id = make_car(), uuid.uuid4()
    inventory_client.reserve(reservation_id=reservation_id, car_id=car_id)

    released = inventory_client.release(reservation_id)
    released_again = inventory_client.release(reservation_id)

    assert released.state is ReservationState.RELEASED
    assert released.released_at is not None and released.released_at >= released.started_at
    assert released_again == released
    assert inventory_client.get_reservation(reservation_id) == released
    assert inventory_client.get_car(car_id).status is CarStatus.AVAILABLE


def test_released_car_can_be_reserved_again(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    car_id, first = make_car(), uuid.uuid4()
    inventory_client.reserve(reservation_id=first, car_id=car_id)
    inventory_client.release(first)

    second = inventory_client.reserve(reservation_id=uuid.uuid4(), car_id=car_id)

    assert second.state is ReservationState.ACTIVE
    assert inventory_client.get_car(car_id).status is CarStatus.RENTED


def test_release_unknown_reservation_raises_reservation_not_found(inventory_client: InventoryClient) -> None:
    with pytest.raises(ReservationNotFound):
        inventory_client.release(uuid.uuid4())


def test_an_id_released_before_it_was_reserved_can_never_hold_a_car(
    inventory_client: InventoryClient, make_car: CarMaker
) -> None:
    car_id, reservation_id = make_car(), uuid.uuid4()
    with pytest.raises(ReservationNotFound):
        inventory_client.release(reservation_id)

    with pytest.raises(ReservationConflict):
        inventory_client.reserve(reservation_id=reservation_id, car_id=car_id)

    assert inventory_client.get_car(car_id).status is CarStatus.AVAILABLE


def test_list_reservations_pages_the_active_holds(inventory_client: InventoryClient, make_car: CarMaker) -> None:
    held = [uuid.uuid4(), uuid.uuid4()]
    for reservation_id in held:
        inventory_client.reserve(reservation_id=reservation_id, car_id=make_car())
    inventory_client.release(held[0])

    active = inventory_client.list_reservations(state=ReservationState.ACTIVE, limit=200)
    released = inventory_client.list_reservations(state="released", limit=200)

    assert held[1] in {r.id for r in active.results} and held[0] not in {r.id for r in active.results}
    assert held[0] in {r.id for r in released.results}
    assert all(r.state is ReservationState.ACTIVE for r in active.results)
    first = inventory_client.list_reservations(limit=1)
    assert len(first.results) == 1 and first.next is not None and first.count >= 2


# -- auth and request ids -----------------------------------------------------------------------------------


def test_bad_token_is_rejected_with_401(live_inventory: LiveInventory, make_car: CarMaker) -> None:
    car_id = make_car()
    client = live_inventory.client(token="not-a-real-token")

    with pytest.raises(InventoryRejected) as raised:
        client.reserve(reservation_id=uuid.uuid4(), car_id=car_id)

    assert raised.value.status == 401
    assert raised.value.raw_code == "authentication_failed"
    assert live_inventory.client().get_car(car_id).status is CarStatus.AVAILABLE


def test_reservations_without_a_token_are_rejected_with_401(live_inventory: LiveInventory) -> None:
    client = InventoryClient(live_inventory.url, retries=0)

    with pytest.raises(InventoryRejected) as raised:
        client.get_reservation(uuid.uuid4())

    assert raised.value.status == 401
    assert raised.value.raw_code == "not_authenticated"


def test_account_without_the_reservation_permission_is_rejected_with_403(live_inventory: LiveInventory) -> None:
    username = f"plain-{uuid.uuid4().hex[:8]}"
    token = live_inventory.service.manage(
        "shell",
        "--verbosity=0",  # Django 5.2's shell otherwise reports its automatic imports on stdout
        "-c",
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
        f"print(Token.objects.create(user=User.objects.create_user({username!r})).key)",
    ).strip()

    with pytest.raises(InventoryRejected) as raised:
        live_inventory.client(token=token).get_reservation(uuid.uuid4())

    assert raised.value.status == 403
    assert raised.value.raw_code == "permission_denied"


def test_request_id_given_is_sent_and_echoed_by_the_server(live_inventory: LiveInventory) -> None:
    echoed: list[tuple[str, str]] = []
    client = InventoryClient(live_inventory.url, live_inventory.service_token, request_id=lambda: "contracts-it-42")
    client.session.hooks["response"].append(
        lambda response, *args, **kwargs: echoed.append(
            (response.request.headers["X-Request-ID"], response.headers["X-Request-ID"])
        )
    )

    with pytest.raises(ReservationNotFound):
        client.get_reservation(uuid.uuid4())
    client.list_cars(limit=1)

    assert echoed == [("contracts-it-42", "contracts-it-42")] * 2


def test_generated_request_id_is_echoed_by_the_server(live_inventory: LiveInventory) -> None:
    echoed: list[tuple[str, str]] = []
    client = live_inventory.client()
    client.session.hooks["response"].append(
        lambda response, *args, **kwargs: echoed.append(
            (response.request.headers["X-Request-ID"], response.headers["X-Request-ID"])
        )
    )

    client.get_car(DEMO_TRANSIT)
    client.get_car(DEMO_TRANSIT)

    assert len(echoed) == 2
    assert all(sent == answered for sent, answered in echoed)
    assert echoed[0][0] != echoed[1][0]


# -- v2: holds over a window ---------------------------------------------------------------------------------


def _branch_and_class(live_inventory: LiveInventory) -> tuple[str, str]:
    code = f"C-{uuid.uuid4().hex[:8].upper()}"
    for path, body in (
        ("/api/v1/locations/", {"code": code, "name": "Contract branch", "time_zone": "Europe/London"}),
        (
            "/api/v1/vehicle-classes/",
            {"code": code, "name": "Contract class", "seats": 4, "transmission": "manual", "min_rental_minutes": 0},
        ),
    ):
        assert live_inventory.staff_request("POST", path, body).status_code == 201
    return code, code


def _car_of(live_inventory: LiveInventory, branch: str, klass: str) -> UUID:
    body = {"model": "Contract car", "year": 2024, "vehicle_class": klass, "location": branch, "odometer_km": 100}
    answer = live_inventory.staff_request("POST", "/api/v1/cars/", body)
    assert answer.status_code == 201
    return UUID(answer.json()["id"])


def test_a_class_booked_for_a_window_is_picked_up_extended_and_returned_elsewhere(
    live_inventory: LiveInventory, inventory_client: InventoryClient
) -> None:
    branch, klass = _branch_and_class(live_inventory)
    other, _ = _branch_and_class(live_inventory)
    car_id = _car_of(live_inventory, branch, klass)
    start = datetime.now(UTC) + timedelta(minutes=5)

    held = inventory_client.reserve_window(
        reservation_id=uuid.uuid4(),
        vehicle_class=klass,
        location=branch,
        return_location=other,
        starts_at=start,
        ends_at=start + timedelta(days=2),
    )
    assert (held.car_id, held.vehicle_class, held.location, held.return_location) == (car_id, klass, branch, other)
    assert held.ends_at == start + timedelta(days=2)
    with pytest.raises(ClassUnavailable):
        inventory_client.reserve_window(
            reservation_id=uuid.uuid4(),
            vehicle_class=klass,
            location=branch,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        )

    picked = inventory_client.pick_up(held.id, odometer_km=120)
    assert picked.picked_up_at is not None and inventory_client.get_car(car_id).status is CarStatus.RENTED
    longer = inventory_client.extend(held.id, ends_at=start + timedelta(days=3))
    assert longer.ends_at is not None and longer.ends_at > (held.ends_at or start)

    back = inventory_client.release(held.id, odometer_km=480, location=other)
    assert back.state is ReservationState.RELEASED
    car = inventory_client.get_car(car_id)
    assert (car.status, car.odometer_km, car.location) == (CarStatus.AVAILABLE, 480, other)


def test_pick_up_extend_and_reassign_raise_their_typed_errors(
    live_inventory: LiveInventory, inventory_client: InventoryClient
) -> None:
    branch, klass = _branch_and_class(live_inventory)
    car_id = _car_of(live_inventory, branch, klass)
    now = datetime.now(UTC)
    out = inventory_client.reserve_window(
        reservation_id=uuid.uuid4(),
        car_id=car_id,
        starts_at=now + timedelta(minutes=1),
        ends_at=now + timedelta(minutes=30),
    )
    later = inventory_client.reserve_window(
        reservation_id=uuid.uuid4(),
        car_id=car_id,
        starts_at=now + timedelta(minutes=70),
        ends_at=now + timedelta(days=1),
    )
    far = inventory_client.reserve_window(
        reservation_id=uuid.uuid4(), car_id=car_id, starts_at=now + timedelta(days=5), ends_at=now + timedelta(days=6)
    )
    with pytest.raises(NotStarted):
        inventory_client.pick_up(far.id)
    inventory_client.pick_up(out.id)
    with pytest.raises(CarNotReturned):
        inventory_client.pick_up(later.id)
    with pytest.raises(ExtensionConflict):
        inventory_client.extend(out.id, ends_at=now + timedelta(hours=2))
    with pytest.raises(ClassUnavailable):
        inventory_client.reassign(later.id, from_car_id=car_id)
    spare = _car_of(live_inventory, branch, klass)
    assert inventory_client.reassign(later.id, from_car_id=car_id).car_id == spare
    assert inventory_client.reassign(later.id, from_car_id=car_id).car_id == spare  # a retry moves nothing again


def test_availability_counts_the_free_cars_of_each_class_for_a_window(
    live_inventory: LiveInventory, inventory_client: InventoryClient
) -> None:
    branch, klass = _branch_and_class(live_inventory)
    first = _car_of(live_inventory, branch, klass)
    _car_of(live_inventory, branch, klass)
    start = datetime.now(UTC) + timedelta(days=2)
    inventory_client.reserve_window(
        reservation_id=uuid.uuid4(), car_id=first, starts_at=start, ends_at=start + timedelta(days=1)
    )

    free = inventory_client.availability(location=branch, pickup_at=start, return_at=start + timedelta(hours=5))
    assert free[klass] == 1
    later = start + timedelta(days=3)
    assert inventory_client.availability(
        location=branch, pickup_at=later, return_at=later + timedelta(days=1), vehicle_class=klass
    ) == {klass: 2}
    with pytest.raises(InventoryRejected) as refused:
        inventory_client.availability(location="NO-SUCH", pickup_at=later, return_at=later + timedelta(days=1))
    assert (refused.value.status, refused.value.raw_code) == (422, "location_not_found")
