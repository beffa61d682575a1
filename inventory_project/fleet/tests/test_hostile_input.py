"""The catalogue of hostile input to the fleet API: each row is one bad request, the problem+json answer it must
get (status, code, and the field named in `errors` where there is one), and nothing may be written — the car and
reservation tables are compared before and after.

Decisions the rows pin down (README, "Reliability and security"):
- only `application/json` bodies are parsed; a form, XML or text body is 415 `unsupported_media_type`;
- a query value we do not understand (a filter, `limit`/`offset` that is no count, an ordering field we cannot
  order by) is 400 `invalid` naming it; a query *parameter* we do not know is ignored, as is a body field we do not
  know — but a body field that exists and cannot be written (`id`, `created_at` on PATCH) is 400;
- an id in a path that is no UUID names nothing: the resource's 404.

Rows already covered by test_api.py (the first malformed JSON, a 2 MB body, 100,000 nested arrays, a bad filter,
…) are not repeated here.
"""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from drivenow_contracts.testing import BadRequest as Bad
from drivenow_contracts.testing import assert_problem
from fleet.models import Car, Reservation
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

NEXT_YEAR = date.today().year + 1
CAR_ID = "7c3c1e2a-9d1b-4f7e-8a2b-1c2d3e4f5a6b"  # the car every row may aim at (exists, plate ZZ999)


def _car(**changes: object) -> dict[str, object]:
    return {"model": "Kia EV6", "year": 2024, **changes}


CARS = "/api/v1/cars/"
ONE = f"/api/v1/cars/{CAR_ID}/"
RES = "/api/v1/reservations/"

CATALOGUE: list[Bad] = [
    # -- malformed and truncated JSON -------------------------------------------------------------------------
    Bad("truncated inside a number", "POST", CARS, 400, "parse_error", raw=b'{"model": "Kia", "year": 20'),
    Bad("truncated inside a string", "POST", CARS, 400, "parse_error", raw=b'{"model": "Ki'),
    Bad("trailing garbage", "POST", CARS, 400, "parse_error", raw=b'{"model": "Kia", "year": 2024} xyz'),
    Bad("single quotes", "POST", CARS, 400, "parse_error", raw=b"{'model': 'Kia', 'year': 2024}"),
    Bad("NaN is not JSON", "POST", CARS, 400, "parse_error", raw=b'{"model": "Kia", "year": NaN}'),
    Bad("Infinity is not JSON", "POST", CARS, 400, "parse_error", raw=b'{"model": "Kia", "year": Infinity}'),
    Bad("not UTF-8", "POST", CARS, 400, "parse_error", raw=b'{"model": "\xff\xfe", "year": 2024}'),
    Bad("byte order mark", "POST", CARS, 400, "parse_error", raw=b'\xef\xbb\xbf{"model": "Kia", "year": 2024}'),
    Bad("whitespace only", "POST", CARS, 400, "parse_error", raw=b"   \n "),
    Bad("malformed PATCH", "PATCH", ONE, 400, "parse_error", raw=b'{"year": }'),
    Bad("malformed reservation", "POST", RES, 400, "parse_error", raw=b'{"id": ', who="service"),
    # -- not an object ------------------------------------------------------------------------------------------
    Bad("empty body", "POST", CARS, 400, "invalid", raw=b"", field="model"),
    Bad("null", "POST", CARS, 400, "invalid", raw=b"null"),
    Bad("a list", "POST", CARS, 400, "invalid", body=[_car()]),
    Bad("a string", "POST", CARS, 400, "invalid", body="Kia EV6"),
    Bad("a number", "POST", CARS, 400, "invalid", body=2024),
    Bad("empty reservation body", "POST", RES, 400, "invalid", raw=b"", who="service", field="id"),
    # -- wrong content type -------------------------------------------------------------------------------------
    Bad(
        "form-encoded",
        "POST",
        CARS,
        415,
        "unsupported_media_type",
        raw=b"model=Kia&year=2024",
        content_type="application/x-www-form-urlencoded",
    ),
    Bad(
        "multipart",
        "POST",
        CARS,
        415,
        "unsupported_media_type",
        raw=b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nKia\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    ),
    Bad(
        "XML",
        "POST",
        CARS,
        415,
        "unsupported_media_type",
        raw=b"<car><model>Kia</model></car>",
        content_type="application/xml",
    ),
    Bad(
        "text/plain JSON", "PATCH", ONE, 415, "unsupported_media_type", raw=b'{"year": 2020}', content_type="text/plain"
    ),
    Bad(
        "no content type", "POST", CARS, 415, "unsupported_media_type", raw=json.dumps(_car()).encode(), content_type=""
    ),
    Bad(
        "form reservation",
        "POST",
        RES,
        415,
        "unsupported_media_type",
        raw=b"id=x&car_id=y",
        content_type="application/x-www-form-urlencoded",
        who="service",
    ),
    Bad("accept XML only", "GET", CARS, 406, "not_acceptable", headers={"HTTP_ACCEPT": "application/xml"}),
    # -- size and depth -----------------------------------------------------------------------------------------
    Bad(
        "10 MB body",
        "POST",
        CARS,
        413,
        "request_too_large",
        raw=b'{"model": "' + b"x" * (10 * 1024 * 1024) + b'", "year": 2024}',
    ),
    Bad("10 MB PATCH", "PATCH", ONE, 413, "request_too_large", raw=b'{"model": "' + b"x" * (10 * 1024 * 1024) + b'"}'),
    Bad("100,000 nested objects", "POST", CARS, 400, "parse_error", raw=b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    Bad(
        "nested list as the model",
        "POST",
        CARS,
        400,
        "invalid",
        raw=b'{"model": ' + b"[" * 500 + b"]" * 500 + b', "year": 2024}',
        field="model",
    ),
    Bad("object as the model", "POST", CARS, 400, "invalid", body=_car(model={"name": "Kia"}), field="model"),
    # -- ids in bodies and paths --------------------------------------------------------------------------------
    Bad("id: 32 hex digits", "POST", CARS, 400, "invalid", body=_car(id=uuid.uuid4().hex), field="id"),
    Bad("id: urn:uuid", "POST", CARS, 400, "invalid", body=_car(id=f"urn:uuid:{uuid.uuid4()}"), field="id"),
    Bad("id: braces", "POST", CARS, 400, "invalid", body=_car(id=f"{{{uuid.uuid4()}}}"), field="id"),
    Bad("id: not hex", "POST", CARS, 400, "invalid", body=_car(id="zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"), field="id"),
    Bad("id: empty", "POST", CARS, 400, "invalid", body=_car(id=""), field="id"),
    Bad("id: a number", "POST", CARS, 400, "invalid", body=_car(id=12345), field="id"),
    Bad("id: a list", "POST", CARS, 400, "invalid", body=_car(id=[str(uuid.uuid4())]), field="id"),
    Bad(
        "reservation car_id: hex",
        "POST",
        RES,
        400,
        "invalid",
        who="service",
        field="car_id",
        body={"id": str(uuid.uuid4()), "car_id": uuid.UUID(CAR_ID).hex},
    ),
    Bad(
        "reservation id: NUL",
        "POST",
        RES,
        400,
        "invalid",
        who="service",
        field="id",
        body={"id": "\x00", "car_id": CAR_ID},
    ),
    Bad("id: trailing newline", "POST", CARS, 400, "invalid", body=_car(id=CAR_ID + "\n"), field="id"),
    Bad(
        "reservation id: trailing newline",
        "POST",
        RES,
        400,
        "invalid",
        who="service",
        field="id",
        body={"id": str(uuid.uuid4()) + "\n", "car_id": CAR_ID},
    ),
    Bad(
        "reservation car_id: trailing newline",
        "POST",
        RES,
        400,
        "invalid",
        who="service",
        field="car_id",
        body={"id": str(uuid.uuid4()), "car_id": CAR_ID + "\n"},
    ),
    Bad(
        "status: lone surrogate",
        "POST",
        CARS,
        400,
        "invalid",
        raw=b'{"model": "Kia", "year": 2024, "status": "\\ud800"}',
        field="status",
    ),
    Bad("path id: braces", "GET", f"/api/v1/cars/%7B{CAR_ID}%7D/", 404, "car_not_found"),
    Bad("path id: urn:uuid", "PATCH", f"/api/v1/cars/urn:uuid:{CAR_ID}/", 404, "car_not_found", body={"year": 2020}),
    Bad("path id: bare hex", "DELETE", f"/api/v1/cars/{uuid.UUID(CAR_ID).hex}/", 404, "car_not_found"),
    Bad("path id: trailing newline", "GET", f"/api/v1/cars/{CAR_ID}%0A/", 404, "car_not_found"),
    Bad(
        "reservation path: braces",
        "GET",
        f"/api/v1/reservations/%7B{CAR_ID}%7D/",
        404,
        "reservation_not_found",
        who="service",
    ),
    Bad("path id: NUL", "GET", "/api/v1/cars/abc%00/", 404, "car_not_found"),
    Bad("path id: 10,000 characters", "GET", f"/api/v1/cars/{'a' * 10_000}/", 404, "car_not_found"),
    Bad("path id: SQL", "DELETE", "/api/v1/cars/1%27%20OR%20%271%27=%271/", 404, "car_not_found"),
    Bad("path id: almost a UUID", "PATCH", f"/api/v1/cars/{CAR_ID[:-1]}g/", 404, "car_not_found", body={"year": 2020}),
    Bad(
        "reservation path: traversal",
        "POST",
        "/api/v1/reservations/..%2F..%2Fcars/release/",
        404,
        "not_found",
        who="service",
    ),
    Bad(
        "reservation path: not a UUID",
        "POST",
        "/api/v1/reservations/12345/release/",
        404,
        "reservation_not_found",
        who="service",
    ),
    # -- years --------------------------------------------------------------------------------------------------
    Bad("year 1899", "POST", CARS, 400, "invalid", body=_car(year=1899), field="year"),
    Bad("year 0", "POST", CARS, 400, "invalid", body=_car(year=0), field="year"),
    Bad("year -2024", "POST", CARS, 400, "invalid", body=_car(year=-2024), field="year"),
    Bad("year after next", "POST", CARS, 400, "invalid", body=_car(year=NEXT_YEAR + 1), field="year"),
    Bad("year 2**63", "POST", CARS, 400, "invalid", body=_car(year=2**63), field="year"),
    Bad(
        "year 10**400",
        "POST",
        CARS,
        400,
        "invalid",
        raw=b'{"model": "Kia", "year": 1' + b"0" * 400 + b"}",
        field="year",
    ),
    Bad("year as a string", "POST", CARS, 400, "invalid", body=_car(year="2024"), field="year"),
    Bad("year 2024.5", "POST", CARS, 400, "invalid", body=_car(year=2024.5), field="year"),
    Bad("year 1e3", "POST", CARS, 400, "invalid", raw=b'{"model": "Kia", "year": 1e3}', field="year"),
    Bad("year true", "POST", CARS, 400, "invalid", body=_car(year=True), field="year"),
    Bad("year null", "POST", CARS, 400, "invalid", body=_car(year=None), field="year"),
    Bad("year a list", "POST", CARS, 400, "invalid", body=_car(year=[2024]), field="year"),
    Bad("PATCH year 3000", "PATCH", ONE, 400, "invalid", body={"year": 3000}, field="year"),
    Bad("PATCH year '1999'", "PATCH", ONE, 400, "invalid", body={"year": "1999"}, field="year"),
    # -- statuses -----------------------------------------------------------------------------------------------
    Bad("status in capitals", "POST", CARS, 400, "invalid", body=_car(status="AVAILABLE"), field="status"),
    Bad("status with a space", "POST", CARS, 400, "invalid", body=_car(status="available "), field="status"),
    Bad("status a number", "POST", CARS, 400, "invalid", body=_car(status=1), field="status"),
    Bad("status null", "POST", CARS, 400, "invalid", body=_car(status=None), field="status"),
    Bad("PATCH status unknown", "PATCH", ONE, 400, "invalid", body={"status": "scrapped"}, field="status"),
    Bad("PATCH status rented", "PATCH", ONE, 409, "invalid_status_transition", body={"status": "rented"}),
    # -- plates: duplicates differing only in case, spacing or punctuation; and junk ---------------------------
    Bad("same plate, lower case", "POST", CARS, 409, "car_exists", body=_car(plate="zz999")),
    Bad("same plate, spaced", "POST", CARS, 409, "car_exists", body=_car(plate="Z Z 9 9 9")),
    Bad("same plate, dashes and dots", "POST", CARS, 409, "car_exists", body=_car(plate="zz-9.99")),
    Bad("same plate, middle dot", "POST", CARS, 409, "car_exists", body=_car(plate="ZZ·999")),
    Bad("same plate, padded", "POST", CARS, 409, "car_exists", body=_car(plate="  zz999  ")),
    Bad("PATCH another car to it", "PATCH", "/api/v1/cars/{other}/", 409, "car_exists", body={"plate": "z-z 999"}),
    Bad("plate in full-width letters", "POST", CARS, 400, "invalid", body=_car(plate="ＺＺ９９９"), field="plate"),
    Bad("plate trailing newline", "POST", CARS, 400, "invalid", body=_car(plate="AB1\n"), field="plate"),
    Bad("plate with a tab", "POST", CARS, 400, "invalid", body=_car(plate="\tAB1"), field="plate"),
    Bad("plate with NUL", "POST", CARS, 400, "invalid", body=_car(plate="AB\x001"), field="plate"),
    Bad("plate of 13 characters", "POST", CARS, 400, "invalid", body=_car(plate="ABCDEFGHJK123"), field="plate"),
    Bad("plate of separators only", "POST", CARS, 400, "invalid", body=_car(plate="- . -"), field="plate"),
    Bad("plate a number", "POST", CARS, 400, "invalid", body=_car(plate=12345), field="plate"),
    # -- text: control, invisible and other characters a model name cannot hold ---------------------------------
    Bad("model NUL", "POST", CARS, 400, "invalid", body=_car(model="Kia\x00EV6"), field="model"),
    Bad("model bell", "POST", CARS, 400, "invalid", body=_car(model="Kia\x07"), field="model"),
    Bad("model newline", "POST", CARS, 400, "invalid", body=_car(model="Kia\nEV6"), field="model"),
    Bad("model escape sequence", "POST", CARS, 400, "invalid", body=_car(model="\x1b[31mKia"), field="model"),
    Bad("model zero-width space", "POST", CARS, 400, "invalid", body=_car(model="Kia\u200bEV6"), field="model"),
    Bad("model right-to-left override", "POST", CARS, 400, "invalid", body=_car(model="Kia\u202e6VE"), field="model"),
    Bad("model byte order mark", "POST", CARS, 400, "invalid", body=_car(model="\ufeffKia"), field="model"),
    Bad(
        "model lone surrogate",
        "POST",
        CARS,
        400,
        "invalid",
        raw=b'{"model": "Kia\\ud800", "year": 2024}',
        field="model",
    ),
    Bad("model private use", "POST", CARS, 400, "invalid", body=_car(model="Kia\ue000"), field="model"),
    Bad("model unassigned code point", "POST", CARS, 400, "invalid", body=_car(model="Kia\U000e0080"), field="model"),
    Bad("model C1 control", "POST", CARS, 400, "invalid", body=_car(model="Kia\x85"), field="model"),
    Bad("model trailing file separator", "POST", CARS, 400, "invalid", body=_car(model="Kia\x1c"), field="model"),
    Bad("model trailing newline", "POST", CARS, 400, "invalid", body=_car(model="Kia EV6\n"), field="model"),
    Bad("model blank", "POST", CARS, 400, "invalid", body=_car(model="\u3000 \t"), field="model"),
    Bad("model empty", "POST", CARS, 400, "invalid", body=_car(model=""), field="model"),
    Bad("model 101 characters", "POST", CARS, 400, "invalid", body=_car(model="K" * 101), field="model"),
    Bad("model 100 + a space", "POST", CARS, 400, "invalid", body=_car(model="K" * 100 + " "), field="model"),
    Bad("model a number", "POST", CARS, 400, "invalid", body=_car(model=6), field="model"),
    Bad("PATCH model control", "PATCH", ONE, 400, "invalid", body={"model": "EV\x7f6"}, field="model"),
    # -- fields that exist but cannot be written ----------------------------------------------------------------
    Bad(
        "PATCH created_at",
        "PATCH",
        ONE,
        400,
        "invalid",
        body={"created_at": "2000-01-01T00:00:00Z"},
        field="created_at",
    ),
    Bad(
        "PATCH updated_at",
        "PATCH",
        ONE,
        400,
        "invalid",
        body={"updated_at": "2000-01-01T00:00:00Z"},
        field="updated_at",
    ),
    # -- query values -------------------------------------------------------------------------------------------
    Bad("limit 0", "GET", CARS + "?limit=0", 400, "invalid", field="limit"),
    Bad("limit -1", "GET", CARS + "?limit=-1", 400, "invalid", field="limit"),
    Bad("limit abc", "GET", CARS + "?limit=abc", 400, "invalid", field="limit"),
    Bad("limit 1e3", "GET", CARS + "?limit=1e3", 400, "invalid", field="limit"),
    Bad("limit 20 digits", "GET", CARS + "?limit=99999999999999999999", 400, "invalid", field="limit"),
    Bad("offset -1", "GET", CARS + "?offset=-1", 400, "invalid", field="offset"),
    Bad("offset 1.5", "GET", CARS + "?offset=1.5", 400, "invalid", field="offset"),
    Bad("offset NUL", "GET", CARS + "?offset=%00", 400, "invalid", field="offset"),
    Bad("ordering by a hidden field", "GET", CARS + "?ordering=plate", 400, "invalid", field="ordering"),
    Bad("ordering by a relation", "GET", CARS + "?ordering=reservations__period", 400, "invalid", field="ordering"),
    Bad("ordering '-'", "GET", CARS + "?ordering=-", 400, "invalid", field="ordering"),
    Bad("ordering with an empty term", "GET", CARS + "?ordering=year,,model", 400, "invalid", field="ordering"),
    Bad("ordering with a space", "GET", CARS + "?ordering=%20year", 400, "invalid", field="ordering"),
    Bad("year filter 2020.0", "GET", CARS + "?year=2020.0", 400, "invalid", field="year"),
    Bad("year_min 1e3", "GET", CARS + "?year_min=1e3", 400, "invalid", field="year_min"),
    Bad("year_max with a space", "GET", CARS + "?year_max=%202020", 400, "invalid", field="year_max"),
    Bad("status filter in capitals", "GET", CARS + "?status=AVAILABLE", 400, "invalid", field="status"),
    Bad("model filter NUL", "GET", CARS + "?model=Kia%00", 400, "invalid", field="model"),
    Bad("year filter trailing newline", "GET", CARS + "?year=2020%0A", 400, "invalid", field="year"),
    Bad("year filter 5,000 digits", "GET", CARS + "?year=" + "9" * 5000, 400, "invalid", field="year"),
    Bad("year_min 19 digits", "GET", CARS + "?year_min=-1" + "0" * 18, 400, "invalid", field="year_min"),
    Bad(
        "year filter full-width digits",
        "GET",
        CARS + "?year=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%90",
        400,
        "invalid",
        field="year",
    ),
    Bad("limit trailing newline", "GET", CARS + "?limit=20%0A", 400, "invalid", field="limit"),
    Bad("offset trailing newline", "GET", CARS + "?offset=0%0A", 400, "invalid", field="offset"),
    # -- credentials --------------------------------------------------------------------------------------------
    Bad(
        "Token without a key",
        "GET",
        CARS,
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token"},
    ),
    Bad(
        "Token with two keys",
        "GET",
        CARS,
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token a b"},
    ),
    Bad(
        "Token of 10,000 characters",
        "POST",
        CARS,
        401,
        "authentication_failed",
        who="anon",
        body=_car(),
        headers={"HTTP_AUTHORIZATION": "Token " + "a" * 10_000},
    ),
    Bad(
        "Token with NUL",
        "GET",
        CARS,
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token abc\x00"},
    ),
    Bad(
        "Token of 41 characters",
        "POST",
        CARS,
        401,
        "authentication_failed",
        who="anon",
        body=_car(),
        headers={"HTTP_AUTHORIZATION": "Token " + "a" * 41},
    ),
    Bad(
        "Token not Latin-1",
        "GET",
        CARS,
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token \u00e9\u00e9"},
    ),
    Bad(
        "schema with a wrong token",
        "GET",
        "/schema",
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token " + "f" * 40},
    ),
    Bad(
        "YAML schema, wrong token",
        "GET",
        "/schema?format=yaml",
        401,
        "authentication_failed",
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Token " + "f" * 40},
    ),
    Bad(
        "Bearer instead of Token",
        "POST",
        CARS,
        401,
        "not_authenticated",
        who="anon",
        body=_car(),
        headers={"HTTP_AUTHORIZATION": "Bearer abc"},
    ),
    Bad(
        "staff on reservations", "POST", RES, 403, "permission_denied", body={"id": str(uuid.uuid4()), "car_id": CAR_ID}
    ),
    Bad("service on cars", "POST", CARS, 403, "permission_denied", who="service", body=_car()),
    # -- methods ------------------------------------------------------------------------------------------------
    Bad("PUT a car", "PUT", ONE, 405, "method_not_allowed", body=_car()),
    Bad("DELETE the list", "DELETE", CARS, 405, "method_not_allowed"),
    Bad("DELETE the holds", "DELETE", RES, 405, "method_not_allowed", who="service"),
    Bad("holds by a state that is none", "GET", RES + "?state=held", 400, "invalid", who="service"),
    Bad("TRACE", "TRACE", CARS, 405, "method_not_allowed"),
]


@pytest.fixture
def target(db):
    car = CarFactory(id=CAR_ID, plate="ZZ999", model="Target", year=2020)
    other = CarFactory(plate="OTHER1")
    return car, other


def _snapshot() -> tuple[list[dict], list[dict]]:
    return list(Car.objects.order_by("id").values()), list(Reservation.objects.order_by("id").values())


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.name for bad in CATALOGUE])
def test_hostile_input_is_refused_with_a_problem_and_writes_nothing(bad: Bad, target, anon, staff, service):
    client = {"anon": anon, "staff": staff, "service": service}[bad.who]
    _car_row, other = target
    before = _snapshot()
    assert_problem(bad.send(client, other=other.id), bad.status, bad.code, bad.field)
    assert _snapshot() == before


def test_the_catalogue_counts_what_it_tried(capsys):
    assert len(CATALOGUE) == len({bad.name for bad in CATALOGUE})
    with capsys.disabled():
        print(f"\n[figures] bad inputs inventory: {len(CATALOGUE)}")


# -- what is deliberately accepted ----------------------------------------------------------------------------
def test_unknown_query_parameters_are_ignored(anon, target):
    plain = anon.get(CARS).json()
    assert anon.get(CARS + "?colour=red&page=7&format_x=1&%00=1").json() == plain


def test_unknown_body_fields_are_ignored_but_nothing_else_is(staff):
    response = staff.post(CARS, _car(colour="red", seats=5), format="json")
    assert response.status_code == 201
    assert "colour" not in response.json() and Car.objects.count() == 1


@pytest.mark.parametrize(
    ("model", "stored"),
    [
        ("Škoda Octavia", "Škoda Octavia"),
        ("日産 リーフ", "日産 リーフ"),
        ("  Kia EV6  ", "Kia EV6"),
        ("Citroe\u0308n", "Citroën"),
        ("Mini 🚗", "Mini 🚗"),
    ],
)
def test_printable_unicode_is_accepted_and_stored_normalised(staff, model, stored):
    response = staff.post(CARS, _car(model=model), format="json")
    assert response.status_code == 201, response.json()
    assert Car.objects.get().model == stored


def test_an_empty_query_value_is_the_same_as_none(anon, target):
    assert anon.get(CARS + "?status=&year=&limit=&offset=&ordering=&model=").json() == anon.get(CARS).json()


@pytest.mark.parametrize("request_id", ["abc\n", "abc\r\n", "abc\x00", "a" * 129, "abc def", "abc\u2028"])
def test_a_request_id_that_is_no_id_is_replaced_not_echoed(anon, request_id):
    response = anon.get(CARS, HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 200
    assert response["X-Request-ID"] != request_id and len(response["X-Request-ID"]) == 32


def test_a_well_formed_request_id_is_echoed(anon):
    assert anon.get(CARS, HTTP_X_REQUEST_ID="gw-1234.abc:9")["X-Request-ID"] == "gw-1234.abc:9"
