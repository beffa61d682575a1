"""The rentals back office as staff accounts with specific permissions see it: each action is offered only to an
account holding its permission, refused to anyone else when posted, and goes through the services."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from rentals.models import OutboxMessage, OutboxStatus, Rental, RentalStatus


def staff_with(*perms: str) -> Client:
    """A logged-in staff account (not a superuser) holding exactly these permissions ("app.codename")."""
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def offered(client: Client, changelist: str) -> set[str]:
    form = client.get(changelist).context["action_form"]
    return set() if form is None else {name for name, _ in form.fields["action"].choices if name}


@pytest.fixture
def active_rental(customer) -> Rental:
    return Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )


# What the front desk may do to a rental from the admin, each through its service.
RENTAL_ACTIONS = {"pick_up_rentals", "end_rentals", "cancel_rentals"}


@pytest.fixture
def dead_message(db) -> OutboxMessage:
    return OutboxMessage.objects.create(
        reservation_id=uuid.uuid4(), status=OutboxStatus.DEAD, next_attempt_at=timezone.now() + timedelta(hours=1)
    )


@pytest.mark.django_db(transaction=True)
def test_a_view_only_account_is_offered_no_rental_action_and_cannot_end_one(active_rental, inventory_down):
    viewer = staff_with("rentals.view_rental")
    assert offered(viewer, "/admin/rentals/rental/") == set()
    viewer.post("/admin/rentals/rental/", {"action": "end_rentals", "_selected_action": [active_rental.id]})
    active_rental.refresh_from_db()
    assert active_rental.status == RentalStatus.ACTIVE and not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ending_rentals_needs_the_change_permission_and_goes_through_rental_end(active_rental, inventory_down):
    desk = staff_with("rentals.view_rental", "rentals.change_rental")
    assert offered(desk, "/admin/rentals/rental/") == RENTAL_ACTIONS
    desk.post("/admin/rentals/rental/", {"action": "end_rentals", "_selected_action": [active_rental.id]})
    active_rental.refresh_from_db()
    assert active_rental.status == RentalStatus.COMPLETED
    assert OutboxMessage.objects.get().reservation_id == active_rental.id  # the release, queued by the service


@pytest.mark.django_db
def test_a_view_only_account_is_offered_no_outbox_action_and_cannot_retry(dead_message):
    viewer = staff_with("rentals.view_outboxmessage")
    assert offered(viewer, "/admin/rentals/outboxmessage/") == set()
    viewer.post("/admin/rentals/outboxmessage/", {"action": "retry_now", "_selected_action": [dead_message.id]})
    dead_message.refresh_from_db()
    assert dead_message.status == OutboxStatus.DEAD


@pytest.mark.django_db
def test_retry_now_needs_the_change_permission(dead_message):
    operator = staff_with("rentals.view_outboxmessage", "rentals.change_outboxmessage")
    assert offered(operator, "/admin/rentals/outboxmessage/") == {"retry_now"}
    operator.post("/admin/rentals/outboxmessage/", {"action": "retry_now", "_selected_action": [dead_message.id]})
    dead_message.refresh_from_db()
    assert dead_message.status == OutboxStatus.PENDING


@pytest.mark.django_db
def test_nothing_in_the_booking_admin_can_be_deleted_or_edited_by_hand(active_rental):
    codenames = Permission.objects.filter(content_type__app_label="rentals").values_list("codename", flat=True)
    everything = staff_with(*[f"rentals.{codename}" for codename in codenames])
    for changelist in ("/admin/rentals/rental/", "/admin/rentals/idempotencykey/"):
        assert offered(everything, changelist) <= RENTAL_ACTIONS
    assert everything.post(f"/admin/rentals/rental/{active_rental.id}/delete/", {"post": "yes"}).status_code == 403


def test_every_admin_action_declares_its_permissions():
    """An action without `permissions` is offered to anyone who may view the list: none may be (ours or a library's)."""
    from django.contrib import admin

    from drivenow_contracts.testing import actions_without_permissions

    assert actions_without_permissions(admin.site) == []


@pytest.mark.django_db
def test_the_rental_list_shows_the_car_by_model_and_plate_and_filters_overdue_branch_and_class(customer):
    now = timezone.now()
    late = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=now - timedelta(days=2),
        pickup_at=now - timedelta(days=2), return_at=now - timedelta(hours=1), pickup_location="TLV-AIR",
        vehicle_class="COMPACT", car_model="Kia Picanto", car_plate="12345678",
    )  # fmt: skip
    on_time = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.RESERVED, pickup_at=now + timedelta(days=1),
        return_at=now + timedelta(days=2), pickup_location="LON-LHR", vehicle_class="SUV", car_model="Volvo XC40",
    )  # fmt: skip
    desk = staff_with("rentals.view_rental", "rentals.change_rental")
    page = desk.get("/admin/rentals/rental/").content.decode()
    assert "Kia Picanto · 12345678" in page and "Volvo XC40" in page
    overdue = desk.get("/admin/rentals/rental/?overdue=yes").content.decode()
    assert str(late.id) in overdue and str(on_time.id) not in overdue
    by_branch = desk.get("/admin/rentals/rental/?pickup_location=LON-LHR").content.decode()
    assert str(on_time.id) in by_branch and str(late.id) not in by_branch
    by_class = desk.get("/admin/rentals/rental/?vehicle_class=COMPACT").content.decode()
    assert str(late.id) in by_class and str(on_time.id) not in by_class
    detail = desk.get(f"/admin/rentals/rental/{late.id}/change/")
    assert detail.status_code == 200 and "Kia Picanto · 12345678" in detail.content.decode()


@pytest.mark.django_db(transaction=True)
def test_cancelling_from_the_admin_goes_through_rental_cancel_and_refuses_what_is_not_reserved(
    customer, active_rental, inventory_down
):
    now = timezone.now()
    booked = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.RESERVED, pickup_at=now + timedelta(days=1),
        return_at=now + timedelta(days=2), pickup_location="TLV-AIR",
    )  # fmt: skip
    desk = staff_with("rentals.view_rental", "rentals.change_rental")
    answer = desk.post(
        "/admin/rentals/rental/",
        {"action": "cancel_rentals", "_selected_action": [booked.id, active_rental.id]},
        follow=True,
    )
    booked.refresh_from_db()
    active_rental.refresh_from_db()
    assert booked.status == RentalStatus.CANCELLED and active_rental.status == RentalStatus.ACTIVE
    assert OutboxMessage.objects.get().reservation_id == booked.id  # its release, queued by the service
    assert "only a reserved one can be cancelled" in answer.content.decode()
