"""Prices in the back office: plans and extras held to the API's rules and the database's constraints (an error on
the form, never a crash), quotes to read and never change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from pricing.models import Quote, RatePlan

pytestmark = pytest.mark.django_db
PLAN = {
    "vehicle_class": "COMPACT",
    "location": "",
    "currency": "EUR",
    "hour": "1000",
    "day": "6000",
    "week": "30000",
    "valid_from_0": "2026-01-01",
    "valid_from_1": "00:00:00",
    "valid_until_0": "",
    "valid_until_1": "",
    "km_per_day": "",
    "per_extra_km": "",
    "one_way_fee": "0",
    "fuel_per_eighth": "0",
}


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", password="pw-boss-123456"))
    return client


def test_a_plan_added_in_the_admin_and_an_overlapping_one_refused_on_the_form(admin_client):
    added = admin_client.post("/admin/pricing/rateplan/add/", PLAN)
    assert added.status_code == 302, added.content.decode()[:2000]
    refused = admin_client.post("/admin/pricing/rateplan/add/", {**PLAN, "valid_from_0": "2026-06-01"})
    assert refused.status_code == 200
    assert "Another plan for this class and branch is in force during this validity." in refused.content.decode()
    assert RatePlan.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("currency", "XYZ"), ("hour", "0"), ("vehicle_class", "compact car"), ("week", "-5")],
)
def test_the_plan_form_refuses_what_the_api_refuses(admin_client, field, value):
    response = admin_client.post("/admin/pricing/rateplan/add/", {**PLAN, field: value})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not RatePlan.objects.exists()


def test_quotes_are_read_in_the_admin_and_never_changed(admin_client):
    quote = Quote.objects.create(
        vehicle_class="COMPACT",
        pickup_location="TLV-AIR",
        return_location="TLV-AIR",
        pickup_at=datetime(2031, 3, 7, 9, tzinfo=UTC),
        return_at=datetime(2031, 3, 8, 9, tzinfo=UTC),
        currency="EUR",
        total=6_000,
        expires_at=datetime(2031, 3, 1, tzinfo=UTC),
    )
    assert admin_client.get("/admin/pricing/quote/").status_code == 200
    page = admin_client.get(f"/admin/pricing/quote/{quote.id}/change/")
    assert page.status_code == 200 and 'type="submit"' not in page.content.decode().split('id="content-main"')[1]
    assert admin_client.post(f"/admin/pricing/quote/{quote.id}/change/", {"total": "1"}).status_code == 403
    assert admin_client.get("/admin/pricing/quote/add/").status_code == 403
    assert Quote.objects.get(id=quote.id).total == 6_000
