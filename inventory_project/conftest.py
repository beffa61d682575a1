"""Fixtures for the inventory suite: users and tokens of every role, API clients, factories."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from drivenow_contracts.testing import token_client
from fleet.tests.factories import CarFactory


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_user("fleet-staff", password="pw-fleet-staff-1", is_staff=True)


@pytest.fixture
def service_user(db) -> User:
    user = User.objects.create_user("booking-service")
    user.user_permissions.add(Permission.objects.get(codename="manage_reservations"))
    return user


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def staff(staff_user) -> APIClient:
    return token_client(staff_user)


@pytest.fixture
def service(service_user) -> APIClient:
    return token_client(service_user)


@pytest.fixture
def plain_user_client(db) -> APIClient:
    return token_client(User.objects.create_user("someone"))


@pytest.fixture
def car(db):
    return CarFactory()
