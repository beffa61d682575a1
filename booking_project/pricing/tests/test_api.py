"""Rate plans, extras and quotes through the API: who may write, what the database refuses, how a quote is
priced and kept, and every bad input a problem+json 4xx with nothing written."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from drivenow_contracts.testing import assert_problem
from pricing.models import Extra, Quote, RatePlan

pytestmark = pytest.mark.django_db


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _monday_ahead() -> datetime:
    return (timezone.now() + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)


def _plan(**changes):
    body = {
        "vehicle_class": "COMPACT",
        "currency": "EUR",
        "hour": 1_000,
        "day": 6_000,
        "week": 30_000,
        "valid_from": "2026-01-01T00:00:00Z",
    }
    return {**body, **changes}


def test_anyone_reads_plans_and_asks_for_quotes_staff_write_plans(staff, anon, plain_user_client):
    assert_problem(anon.post("/api/v1/rate-plans/", _plan(), format="json"), 401, "not_authenticated")
    assert_problem(plain_user_client.post("/api/v1/rate-plans/", _plan(), format="json"), 403, "permission_denied")
    created = staff.post("/api/v1/rate-plans/", _plan(), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["location"] is None and created.json()["hour"] == 1_000
    listed = anon.get("/api/v1/rate-plans/?vehicle_class=COMPACT")
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["results"]] == [created.json()["id"]]
    start = _monday_ahead()
    body = {"vehicle_class": "COMPACT", "pickup_location": "TLV-AIR", "pickup_at": _iso(start)}
    quote = anon.post("/api/v1/quotes/", {**body, "return_at": _iso(start + timedelta(days=1))}, format="json")
    assert quote.status_code == 201, quote.content


def test_two_plans_of_one_class_and_branch_in_force_at_once_are_refused(staff):
    first = _plan(valid_until="2027-01-01T00:00:00Z")
    assert staff.post("/api/v1/rate-plans/", first, format="json").status_code == 201
    overlapping = _plan(valid_from="2026-12-01T00:00:00Z", valid_until="2027-06-01T00:00:00Z")
    assert_problem(staff.post("/api/v1/rate-plans/", overlapping, format="json"), 409, "rate_plan_overlap")
    open_ended = _plan(valid_from="2026-06-01T00:00:00Z")
    assert_problem(staff.post("/api/v1/rate-plans/", open_ended, format="json"), 409, "rate_plan_overlap")
    # Back to back, another branch, another class: each its own.
    for body in (
        _plan(valid_from="2027-01-01T00:00:00Z"),
        _plan(location="TLV-AIR"),
        _plan(vehicle_class="SUV"),
    ):
        assert staff.post("/api/v1/rate-plans/", body, format="json").status_code == 201, body
    assert RatePlan.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_staff_adding_overlapping_plans_at_once_get_exactly_one(staff_user):
    racers = 8
    barrier = threading.Barrier(racers)
    answers: list[int] = []

    def add(n: int) -> None:
        try:
            client = APIClient()
            client.force_authenticate(staff_user)
            barrier.wait()
            body = _plan(valid_from=f"2026-0{1 + n % 3}-01T00:00:00Z", hour=1_000 + n)
            answers.append(client.post("/api/v1/rate-plans/", body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201] + [409] * (racers - 1)
    assert RatePlan.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hour": -100}, "hour"),
        ({"day": 60.5}, "day"),
        ({"week": "30000"}, "week"),
        ({"hour": 0}, "hour"),
        ({"week": 2**31}, "week"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"vehicle_class": "compact car"}, "vehicle_class"),
        ({"valid_from": "2026-01-01"}, "valid_from"),
        ({"id": "0b7c8d57-6f51-4c8e-9a7e-2f3f8f2f8f2f"}, "id"),
    ],
)
def test_a_bad_plan_is_400_naming_the_field_and_nothing_is_written(staff, change, field):
    assert_problem(staff.post("/api/v1/rate-plans/", _plan(**change), format="json"), 400, "invalid", field)
    assert not RatePlan.objects.exists()


def test_a_validity_that_does_not_end_after_it_starts_is_422(staff):
    body = _plan(valid_from="2027-01-01T00:00:00Z", valid_until="2027-01-01T00:00:00Z")
    assert_problem(staff.post("/api/v1/rate-plans/", body, format="json"), 422, "invalid")
    plan = staff.post("/api/v1/rate-plans/", _plan(), format="json").json()
    moved = {"valid_until": "2025-06-01T00:00:00Z"}  # before the plan's own valid_from
    assert_problem(staff.patch(f"/api/v1/rate-plans/{plan['id']}/", moved, format="json"), 422, "invalid")
    assert RatePlan.objects.get(id=plan["id"]).valid_until is None


def _quote(client, start: datetime, end: datetime, **extra):
    body = {
        "vehicle_class": "COMPACT",
        "pickup_location": "TLV-AIR",
        "pickup_at": _iso(start),
        "return_at": _iso(end),
        **extra,
    }
    return client.post("/api/v1/quotes/", body, format="json")


def test_a_quote_is_the_cheapest_combination_line_by_line_and_is_kept_as_given(staff, anon):
    plan = staff.post("/api/v1/rate-plans/", _plan(one_way_fee=4_000), format="json").json()
    seat = {"code": "SEAT", "name": "Child seat", "price": 500, "currency": "EUR", "per": "day", "max_quantity": 2}
    assert staff.post("/api/v1/extras/", seat, format="json").status_code == 201
    start = _monday_ahead()
    answer = _quote(
        anon, start, start + timedelta(days=8, hours=2), return_location="TLV-CEN", extras=[{"code": "SEAT"}]
    )
    assert answer.status_code == 201, answer.content
    quote = answer.json()
    assert [(line["kind"], line["quantity"], line["amount"], line["rule"]) for line in quote["lines"]] == [
        ("rental", 1, 30_000, f"rate_plan:{plan['id']}:week"),
        ("rental", 1, 6_000, f"rate_plan:{plan['id']}:day"),
        ("rental", 2, 2_000, f"rate_plan:{plan['id']}:hour"),
        ("extra", 9, 4_500, "extra:SEAT"),  # 9 started days
        ("one_way", 1, 4_000, f"rate_plan:{plan['id']}:one_way"),
    ]
    assert quote["total"] == sum(line["amount"] for line in quote["lines"]) == 46_500
    assert quote["currency"] == "EUR" and quote["return_location"] == "TLV-CEN"
    assert datetime.fromisoformat(quote["expires_at"]) > timezone.now() + timedelta(minutes=29)
    # A later price change leaves the quote as it was given.
    assert staff.patch(f"/api/v1/rate-plans/{plan['id']}/", {"week": 99_000}, format="json").status_code == 200
    again = anon.get(f"/api/v1/quotes/{quote['id']}/")
    assert again.status_code == 200 and again.json() == quote


def test_a_plan_for_the_branch_prices_the_days_it_is_in_force(staff, anon):
    start = _monday_ahead()
    assert staff.post("/api/v1/rate-plans/", _plan(), format="json").status_code == 201
    airport = _plan(
        location="TLV-AIR",
        day=9_000,
        valid_from=_iso(start + timedelta(days=1)),
        valid_until=_iso(start + timedelta(days=2)),
    )
    assert staff.post("/api/v1/rate-plans/", airport, format="json").status_code == 201
    quote = _quote(anon, start, start + timedelta(days=3)).json()
    assert [line["amount"] for line in quote["lines"]] == [6_000, 9_000, 6_000]
    elsewhere = _quote(anon, start, start + timedelta(days=3), pickup_location="TLV-CEN").json()
    assert [line["amount"] for line in elsewhere["lines"]] == [18_000]


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda s: {"vehicle_class": "VAN"}, 422, "no_rate_plan"),
        (lambda s: {"pickup_at": _iso(timezone.now() - timedelta(hours=1))}, 422, "pickup_in_past"),
        (lambda s: {"return_at": _iso(s - timedelta(hours=1))}, 422, "return_before_pickup"),
        (lambda s: {"return_at": _iso(s + timedelta(days=400))}, 422, "invalid"),
        (lambda s: {"extras": [{"code": "NOPE"}]}, 422, "extra_not_found"),
        (lambda s: {"extras": [{"code": "SEAT", "quantity": 3}]}, 422, "invalid"),
        (lambda s: {"extras": [{"code": "SEAT"}, {"code": "SEAT"}]}, 422, "invalid"),
        (lambda s: {"extras": [{"code": "USD-GPS"}]}, 422, "currency_mismatch"),
        (lambda s: {"extras": [{"code": "SEAT", "quantity": 1.5}]}, 400, "invalid"),
        (lambda s: {"pickup_at": "next friday"}, 400, "invalid"),
        (lambda s: {"vehicle_class": None}, 400, "invalid"),
    ],
)
def test_a_quote_that_cannot_be_given_is_a_problem_and_nothing_is_written(staff, anon, make, status, code):
    assert staff.post("/api/v1/rate-plans/", _plan(), format="json").status_code == 201
    for extra in (
        {"code": "SEAT", "name": "Child seat", "price": 500, "currency": "EUR", "per": "day", "max_quantity": 2},
        {"code": "USD-GPS", "name": "GPS", "price": 900, "currency": "USD", "per": "rental"},
    ):
        assert staff.post("/api/v1/extras/", extra, format="json").status_code == 201
    start = _monday_ahead()
    body = {
        "vehicle_class": "COMPACT",
        "pickup_location": "TLV-AIR",
        "pickup_at": _iso(start),
        "return_at": _iso(start + timedelta(days=2)),
        **make(start),
    }
    assert_problem(anon.post("/api/v1/quotes/", body, format="json"), status, code)
    assert not Quote.objects.exists()


def test_extras_codes_are_unique_and_read_by_anyone(staff, anon):
    seat = {"code": "SEAT", "name": "Child seat", "price": 500, "currency": "EUR", "per": "day"}
    assert staff.post("/api/v1/extras/", seat, format="json").status_code == 201
    assert_problem(staff.post("/api/v1/extras/", seat, format="json"), 409, "extra_exists")
    assert_problem(anon.post("/api/v1/extras/", {**seat, "code": "GPS"}, format="json"), 401, "not_authenticated")
    assert [e["code"] for e in anon.get("/api/v1/extras/").json()["results"]] == ["SEAT"]
    assert Extra.objects.count() == 1
    assert_problem(anon.get("/api/v1/quotes/5a3c2a31-39c8-4a4e-9d59-1e3c1e7d0b2a/"), 404, "quote_not_found")


def test_the_demo_seeds_a_plan_for_every_class_at_every_branch_and_runs_twice(anon):
    from io import StringIO

    from django.core.management import call_command

    for _ in range(2):
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert RatePlan.objects.count() == 15 and Extra.objects.count() == 4
    start = _monday_ahead()
    for branch, currency, seat in (("LON-LHR", "GBP", "CHILD-SEAT-GB"), ("TLV-AIR", "ILS", "CHILD-SEAT-IL")):
        answer = _quote(
            anon, start, start + timedelta(days=3), pickup_location=branch, extras=[{"code": seat, "quantity": 2}]
        )
        assert answer.status_code == 201, answer.content
        assert answer.json()["currency"] == currency and answer.json()["total"] > 0


def test_the_quote_schema_bounds_the_extras_as_the_api_does(anon, staff):
    """Random-seed fuzzing sent 25 extras: the schema allowed them, the API refused them (400)."""
    document = anon.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    extras = document["components"]["schemas"]["QuoteInputRequest"]["properties"]["extras"]
    assert extras["maxItems"] == 20
    start = _monday_ahead()
    too_many = [{"code": f"X{n}"} for n in range(21)]
    assert_problem(_quote(anon, start, start + timedelta(days=1), extras=too_many), 400, "invalid", "extras")
