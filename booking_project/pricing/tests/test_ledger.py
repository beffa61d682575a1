"""The charges ledger: append-only in the database, once per (rental, kind, source), the rental's price its sum —
also with staff adding lines from several threads at once."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from drivenow_contracts.testing import assert_problem
from pricing.models import Charge
from rentals.models import Rental, RentalStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def rental(customer) -> Rental:
    return Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )


def _charges(client, rental_id) -> list[dict]:
    answer = client.get(f"/api/v1/rentals/{rental_id}/charges/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_staff_lines_are_added_never_edited_and_the_price_is_their_sum(staff, rental):
    first = {"kind": "damage", "description": "Scratch, rear bumper", "amount": 25_000, "currency": "EUR"}
    added = staff.post(f"/api/v1/rentals/{rental.id}/charges/", first, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["created_by"] == "desk-staff" and added.json()["currency"] == "EUR"
    credit = {"kind": "adjustment", "description": "Goodwill", "amount": -5_000}  # the rental's currency
    assert staff.post(f"/api/v1/rentals/{rental.id}/charges/", credit, format="json").status_code == 201
    assert [line["amount"] for line in _charges(staff, rental.id)] == [25_000, -5_000]
    shown = staff.get(f"/api/v1/rentals/{rental.id}/").json()
    assert (shown["price"], shown["currency"]) == (20_000, "EUR")
    # Append-only, whatever the code: the database refuses to change or remove a line.
    line = Charge.objects.get(rental=rental, kind="damage")
    for statement in ("UPDATE pricing_charge SET amount = 1 WHERE id = %s", "DELETE FROM pricing_charge WHERE id = %s"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [line.id])
    assert Charge.objects.get(id=line.id).amount == 25_000


def test_a_retried_staff_line_with_its_idempotency_key_is_written_once(staff, rental):
    body = {"kind": "adjustment", "description": "Late fee waived", "amount": 1_000, "currency": "GBP"}
    url = f"/api/v1/rentals/{rental.id}/charges/"
    first = staff.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="desk-42")
    again = staff.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="desk-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(_charges(staff, rental.id)) == 1
    assert_problem(staff.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="desk 42"), 400, "invalid")
    for other in ({**body, "amount": 900}, {**body, "kind": "damage"}):  # the key again, for another line
        assert_problem(
            staff.post(url, other, format="json", HTTP_IDEMPOTENCY_KEY="desk-42"), 422, "idempotency_key_reused"
        )
    assert len(_charges(staff, rental.id)) == 1


def test_a_damage_line_charges_and_a_credit_never_takes_the_rental_below_nothing(staff, rental):
    url = f"/api/v1/rentals/{rental.id}/charges/"
    owed = {"kind": "damage", "description": "Dent", "amount": 10_000, "currency": "EUR"}
    assert staff.post(url, owed, format="json").status_code == 201
    assert_problem(staff.post(url, {**owed, "amount": -500}, format="json"), 422, "invalid")  # damage is no credit
    too_much = {"kind": "adjustment", "description": "Goodwill", "amount": -10_001}
    assert_problem(staff.post(url, too_much, format="json"), 422, "invalid")
    assert staff.post(url, {**too_much, "amount": -10_000}, format="json").status_code == 201  # down to nothing
    assert Rental.objects.get(id=rental.id).price == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "adjustment", "description": "x", "amount": 100}, 422, "invalid"),  # first line, no currency
        ({"kind": "rental", "description": "x", "amount": 100, "currency": "EUR"}, 400, "invalid"),  # not staff's
        ({"kind": "adjustment", "description": "x", "amount": 1.5, "currency": "EUR"}, 400, "invalid"),
        ({"kind": "adjustment", "description": "x", "amount": "100", "currency": "EUR"}, 400, "invalid"),
        ({"kind": "adjustment", "description": "x", "amount": 100, "currency": "XXY"}, 400, "invalid"),
        ({"kind": "adjustment", "description": "", "amount": 100, "currency": "EUR"}, 400, "invalid"),
    ],
)
def test_a_bad_line_is_a_problem_and_nothing_is_written(staff, rental, body, status, code):
    assert_problem(staff.post(f"/api/v1/rentals/{rental.id}/charges/", body, format="json"), status, code)
    assert not Charge.objects.exists()
    assert Rental.objects.get(id=rental.id).price is None


def test_a_line_in_another_currency_than_the_rentals_is_422(staff, rental):
    url = f"/api/v1/rentals/{rental.id}/charges/"
    ok = {"kind": "damage", "description": "Dent", "amount": 100, "currency": "EUR"}
    assert staff.post(url, ok, format="json").status_code == 201
    assert_problem(staff.post(url, {**ok, "currency": "USD"}, format="json"), 422, "currency_mismatch")
    assert Charge.objects.count() == 1


def test_the_ledger_is_staffs_and_an_unknown_rental_has_none(anon, plain_user_client, staff, rental):
    url = f"/api/v1/rentals/{rental.id}/charges/"
    assert_problem(anon.get(url), 401, "not_authenticated")
    assert_problem(plain_user_client.get(url), 403, "permission_denied")
    assert_problem(staff.get(f"/api/v1/rentals/{uuid.uuid4()}/charges/"), 404, "rental_not_found")


@pytest.mark.django_db(transaction=True)
def test_staff_adding_lines_at_once_leave_the_price_equal_to_the_ledgers_sum(staff_user, customer):
    rental = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )
    desks = 8
    barrier = threading.Barrier(desks)
    answers: list[int] = []

    def add(n: int) -> None:
        try:
            client = APIClient()
            client.force_authenticate(staff_user)
            barrier.wait()
            body = {"kind": "adjustment", "description": f"Line {n}", "amount": 100 * (n + 1), "currency": "EUR"}
            answers.append(client.post(f"/api/v1/rentals/{rental.id}/charges/", body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(desks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [201] * desks
    with psycopg.connect(**_dsn()) as conn:
        price, total = conn.execute(
            "SELECT r.price, (SELECT sum(amount) FROM pricing_charge WHERE rental_id = r.id) "
            "FROM rentals_rental r WHERE r.id = %s",
            [rental.id],
        ).fetchone()
    assert price == total == sum(100 * (n + 1) for n in range(desks))


def _dsn() -> dict[str, object]:
    settings = connection.settings_dict
    return {
        "host": settings["HOST"],
        "port": settings["PORT"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "dbname": settings["NAME"],
    }


def test_the_invoice_is_the_ledger_as_a_page_and_its_errors_are_problems(staff, anon, rental):
    url = f"/api/v1/rentals/{rental.id}/charges/"
    for body in (
        {"kind": "damage", "description": "Scratch, rear bumper", "amount": 25_050, "currency": "EUR"},
        {"kind": "adjustment", "description": "Goodwill <b>credit</b>", "amount": -5_000},
    ):
        assert staff.post(url, body, format="json").status_code == 201
    page = staff.get(f"/api/v1/rentals/{rental.id}/invoice/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert f"DN-{rental.id.hex[:8].upper()}" in html and rental.customer.name in html
    assert "250.50 EUR" in html and "-50.00 EUR" in html and '<td class="num" id="total">200.50 EUR</td>' in html
    assert "Goodwill &lt;b&gt;credit&lt;/b&gt;" in html  # escaped, never markup
    assert_problem(anon.get(f"/api/v1/rentals/{rental.id}/invoice/"), 401, "not_authenticated")
    assert_problem(staff.get(f"/api/v1/rentals/{uuid.uuid4()}/invoice/"), 404, "rental_not_found")
    assert_problem(
        staff.get(f"/api/v1/rentals/{rental.id}/invoice/", HTTP_ACCEPT="application/json"), 406, "not_acceptable"
    )


def test_the_ledger_and_the_invoice_offer_no_list_parameters_they_would_ignore(staff):
    document = staff.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    # The invoice has two renderings, and `format` picks one (html, pdf) as Accept does: a parameter it honours.
    offered = {"/api/v1/rentals/{id}/charges/": [], "/api/v1/rentals/{id}/invoice/": ["format"]}
    for path, expected in offered.items():
        for method, operation in document["paths"][path].items():
            if method in ("get", "post"):
                assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"] == expected, path
