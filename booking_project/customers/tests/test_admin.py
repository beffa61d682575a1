"""The customer form of the back office holds to the API's rules (the same serializer fields); deactivating needs
the change permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from customers.models import Customer, CustomerStatus
from rentals.tests.test_admin import offered, staff_with

pytestmark = pytest.mark.django_db
FORM = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "", "driver_licence": ""}


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", password="pw-boss-123456"))
    return client


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ada\x1b[31m"),
        ("name", "Ada\u200bLovelace"),
        ("name", "\u202eAda"),
        ("email", "ada@exa\u200bmple.com"),
        ("email", "ada@example.com\u2028"),
        ("phone", "+44 20 7946\x0b"),
        ("phone", "++44"),
        ("phone", "+44\n20"),
        ("driver_licence", "AB1\u2028"),
        ("driver_licence", "-AB1"),
    ],
)
def test_the_customer_form_refuses_what_the_api_refuses(admin_client, field, value):
    response = admin_client.post("/admin/customers/customer/add/", {**FORM, field: value})
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert not Customer.objects.exists()


def test_the_customer_form_stores_what_the_api_would(admin_client):
    typed = {**FORM, "name": "  Ada Lovelace ", "email": "ada@EXAMPLE.com", "phone": "+44 20 7946 0000"}
    response = admin_client.post("/admin/customers/customer/add/", typed)
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.name, customer.email, customer.phone) == ("Ada Lovelace", "ada@example.com", "+44 20 7946 0000")


def test_deactivating_needs_the_change_permission(customer):
    assert offered(staff_with("customers.view_customer"), "/admin/customers/customer/") == set()
    desk = staff_with("customers.view_customer", "customers.change_customer")
    assert offered(desk, "/admin/customers/customer/") == {"deactivate"}
    desk.post("/admin/customers/customer/", {"action": "deactivate", "_selected_action": [customer.id]})
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.DEACTIVATED
