"""The planning board in the inventory admin: a branch's cars × 14 local days, each hold and block a bar — the
right bars with the right classes and hover titles, columns as long as the branch's days (DST included), the
filters, who may see it, parameters it cannot use, and one statement for the holds of a whole page of cars."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import set_script_prefix
from django.utils import timezone
from psycopg.types.range import Range

from drivenow_contracts.testing import statement_labels
from fleet import selectors, services
from fleet.board import CARS_PER_PAGE, Window
from fleet.models import Car, CarStatus, HoldKind, Location, Reservation, ReservationState, Transmission, VehicleClass
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TURNAROUND = timedelta(minutes=30)
URL = "/admin/fleet/board/"


@pytest.fixture
def london() -> Location:
    return Location.objects.create(code="LON-LHR", name="London Heathrow", time_zone="Europe/London")


@pytest.fixture
def tel_aviv() -> Location:
    return Location.objects.create(code="TLV-AIR", name="Tel Aviv Airport", time_zone="Asia/Jerusalem")


@pytest.fixture
def compact() -> VehicleClass:
    return VehicleClass.objects.create(
        code="COMPACT", name="Compact", seats=5, transmission=Transmission.MANUAL, turnaround_minutes=30
    )


@pytest.fixture
def suv() -> VehicleClass:
    return VehicleClass.objects.create(
        code="SUV", name="SUV", seats=7, transmission=Transmission.AUTOMATIC, turnaround_minutes=30
    )


@pytest.fixture
def viewer(db) -> Client:
    """A staff account that may view cars and nothing more: what the board needs."""
    return _staff_with("view_car")


def _staff_with(*codenames: str) -> Client:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="fleet", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def at(day: date, hour: float, zone: ZoneInfo = LONDON) -> datetime:
    """A wall-clock time of a branch's day, as an instant."""
    return (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(hours=hour)).astimezone(UTC)


def hold(car: Car, starts_at: datetime, ends_at: datetime | None, **fields) -> Reservation:
    """A rental hold as the lifecycle leaves it (the class's turnaround after its end), written directly so that
    any moment of its life — past, overdue, released — can be drawn; the exclusion constraint still decides."""
    busy_until = None if ends_at is None else ends_at + TURNAROUND
    return Reservation.objects.create(
        id=fields.pop("id", uuid.uuid4()),
        kind=HoldKind.RENTAL,
        car=car,
        period=Range(starts_at, busy_until, "[)"),
        ends_at=ends_at,
        vehicle_class=car.vehicle_class,
        location=car.location,
        return_location=car.location,
        **fields,
    )


class Page(HTMLParser):
    """The parts of a board page the tests read: every element's tag and attributes, in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def having(self, css_class: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.elements if css_class in attrs.get("class", "").split()]

    @property
    def bars(self) -> dict[str, dict[str, str]]:
        return {attrs["data-reservation"]: attrs for attrs in self.having("bar")}

    @property
    def rows(self) -> list[str]:
        return [attrs["data-car"] for attrs in self.having("board-row")]


def board(client: Client, **params) -> tuple[int, Page, str]:
    response = client.get(URL, params)
    html = response.content.decode()
    return response.status_code, Page(html), html


def style_of(attrs: dict[str, str]) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"(left|width): ([0-9.]+)%", attrs["style"])}


# -- the bars ---------------------------------------------------------------------------------------------------
def test_each_hold_and_block_is_a_bar_coloured_by_what_it_is_with_its_ids_on_hover(viewer, london, compact):
    today = timezone.now().astimezone(LONDON).date()
    start = today - 2 * DAY
    returned, booked, late, blocked, walked_in = (
        CarFactory(vehicle_class=compact, location=london, model=f"Car {n}") for n in range(5)
    )
    released = hold(
        returned,
        at(start, 10),
        at(start + DAY, 10),
        state=ReservationState.RELEASED,
        picked_up_at=at(start, 10),
    )
    future = hold(returned, at(today + 2 * DAY, 9), at(today + 4 * DAY, 9))
    also_booked = hold(booked, at(today + 5 * DAY, 9), at(today + 6 * DAY, 9))
    overdue = hold(late, at(start + DAY, 12), timezone.now() - 2 * HOUR, picked_up_at=at(start + DAY, 12))
    block = services.block_create(
        car_id=blocked.id, starts_at=at(today + DAY, 8), ends_at=at(today + DAY, 17), reason="Brake service"
    )
    open_ended = hold(walked_in, timezone.now() - HOUR, None, picked_up_at=timezone.now() - HOUR)

    status, page, html = board(viewer, location="LON-LHR", start=start.isoformat())

    assert status == 200
    bars = page.bars
    assert set(bars) == {str(h.id) for h in (released, future, also_booked, overdue, block, open_ended)}
    assert bars[str(future.id)]["class"].split() == ["bar", "bar-rental"]
    assert bars[str(also_booked.id)]["class"].split() == ["bar", "bar-rental"]
    assert bars[str(released.id)]["class"].split() == ["bar", "bar-rental", "bar-released"]
    assert bars[str(overdue.id)]["class"].split() == ["bar", "bar-overdue"]
    assert bars[str(block.id)]["class"].split() == ["bar", "bar-block"]
    assert bars[str(open_ended.id)]["class"].split() == ["bar", "bar-rental", "bar-goes-on"]
    # what a hover tells: the id (booking's rental id), the kind, the window in the branch's time, a block's reason
    rental_title = bars[str(future.id)]["title"]
    assert f"Rental {future.id}" in rental_title and "booking's rental id" in rental_title
    assert future.starts_at.astimezone(LONDON).strftime("%d %b %Y %H:%M") in rental_title
    assert "then 30 min turnaround" in rental_title
    block_title = bars[str(block.id)]["title"]
    assert f"Block {block.id}" in block_title and "Reason: Brake service" in block_title
    assert "OVERDUE: due back" in bars[str(overdue.id)]["title"]
    assert "open-ended" in bars[str(open_ended.id)]["title"]
    assert "Released" in bars[str(released.id)]["title"]
    # every bar goes to its car; the overdue one also marks how late the car is, up to now
    for car, ids in ((returned, (released, future)), (late, (overdue,)), (blocked, (block,))):
        for h in ids:
            assert bars[str(h.id)]["href"] == f"/admin/fleet/car/{car.id}/change/"
    late_bands = page.having("bar-late")
    assert [band["data-reservation"] for band in late_bands] == [str(overdue.id)]
    assert page.having("board-now")  # the window holds now
    assert set(page.rows) == {str(c.id) for c in (returned, booked, late, blocked, walked_in)}
    assert "Traceback" not in html


def test_a_bar_sits_at_its_instants_and_its_turnaround_is_the_end_of_it(viewer, london, compact):
    car = CarFactory(vehicle_class=compact, location=london)
    start = date(2031, 6, 2)  # no DST change in the fortnight: 336 hours
    rental = hold(car, at(start + 3 * DAY, 12), at(start + 5 * DAY, 12))
    _, page, _ = board(viewer, location="LON-LHR", start=start.isoformat())
    placed = style_of(page.bars[str(rental.id)])
    assert placed["left"] == pytest.approx(100 * (3 * 24 + 12) / 336, abs=1e-3)
    assert placed["width"] == pytest.approx(100 * (48.5) / 336, abs=1e-3)  # two days and the turnaround
    turnaround = next(attrs for attrs in page.having("bar-turnaround"))
    assert float(turnaround["style"].split(":")[1].strip(" %")) == pytest.approx(100 * 0.5 / 48.5, abs=1e-3)


def test_a_hold_across_the_windows_edges_is_cut_there(viewer, london, compact):
    car = CarFactory(vehicle_class=compact, location=london)
    start = date(2031, 6, 2)
    before = hold(car, at(start - DAY, 0), at(start + DAY, 0))
    after = hold(car, at(start + 13 * DAY, 0), at(start + 20 * DAY, 0))
    outside = hold(car, at(start + 30 * DAY, 0), at(start + 31 * DAY, 0))
    _, page, _ = board(viewer, location="LON-LHR", start=start.isoformat())
    bars = page.bars
    assert str(outside.id) not in bars
    assert "bar-from-before" in bars[str(before.id)]["class"] and style_of(bars[str(before.id)])["left"] == 0
    assert "bar-goes-on" in bars[str(after.id)]["class"]
    assert sum(style_of(bars[str(after.id)]).values()) == pytest.approx(100, abs=1e-3)


def test_an_overdue_car_whose_window_ended_before_the_board_still_shows_how_late_it_is(viewer, london, compact):
    car = CarFactory(vehicle_class=compact, location=london, status=CarStatus.RENTED)
    long_ago = timezone.now() - 20 * DAY
    overdue = hold(car, long_ago, long_ago + DAY, picked_up_at=long_ago)
    today = timezone.now().astimezone(LONDON).date()
    _, page, _ = board(viewer, location="LON-LHR", start=today.isoformat())
    bar = page.bars[str(overdue.id)]
    assert bar["class"].split() == ["bar", "bar-overdue", "bar-from-before"]
    assert style_of(bar)["left"] == 0  # from the board's first midnight up to now
    # on a board of the days it was booked for it is overdue too (it is, now), late up to that board's end
    _, page, _ = board(viewer, location="LON-LHR", start=(today - 30 * DAY).isoformat())
    assert "bar-overdue" in page.bars[str(overdue.id)]["class"]


# -- the days of the branch ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "zone", "change", "hours"),
    [
        ("LON-LHR", "Europe/London", date(2031, 3, 30), 23),  # clocks forward: a 23-hour Sunday
        ("LON-LHR", "Europe/London", date(2031, 10, 26), 25),  # back: a 25-hour Sunday
        ("TLV-AIR", "Asia/Jerusalem", date(2031, 3, 28), 23),  # Israel moves on the Friday before
    ],
)
def test_a_dst_day_is_a_column_as_long_as_the_day(viewer, code, zone, change, hours):
    Location.objects.create(code=code, name=code, time_zone=zone)
    CarFactory(location=Location.objects.get(code=code))
    start = change - 3 * DAY
    _, page, html = board(viewer, location=code, start=start.isoformat())
    days = page.having("board-day")
    assert [d["data-date"] for d in days] == [(start + n * DAY).isoformat() for n in range(14)]
    assert [d["data-hours"] for d in days] == ["24"] * 3 + [str(hours)] + ["24"] * 10
    total = 13 * 24 + hours
    widths = [style_of(d)["width"] for d in days]
    assert widths[3] == pytest.approx(100 * hours / total, abs=1e-3)
    assert widths[0] == pytest.approx(100 * 24 / total, abs=1e-3)
    assert sum(widths) == pytest.approx(100, abs=1e-2)
    assert style_of(days[4])["left"] == pytest.approx(100 * (3 * 24 + hours) / total, abs=1e-3)
    assert f"{hours} h" in html


def test_a_bar_on_a_dst_day_sits_at_its_wall_clock_time_in_that_short_column(viewer, london, compact):
    car = CarFactory(vehicle_class=compact, location=london)
    change = date(2031, 3, 30)  # 01:00 GMT → 02:00 BST: 23 hours
    block = services.block_create(car_id=car.id, starts_at=at(change, 12), ends_at=at(change, 13), reason="Wash")
    _, page, _ = board(viewer, location="LON-LHR", start=change.isoformat())
    placed = style_of(page.bars[str(block.id)])
    # noon BST is 11 real hours after the day's midnight GMT, on a board of 13 × 24 + 23 hours
    assert placed["left"] == pytest.approx(100 * 11 / 335, abs=1e-3)
    assert placed["width"] == pytest.approx(100 * 1 / 335, abs=1e-3)


def test_the_window_is_the_branchs_14_local_days():
    window = Window(date(2031, 3, 28), JERUSALEM)
    assert window.starts_at == datetime(2031, 3, 27, 22, 0, tzinfo=UTC)  # midnight IST (UTC+2)
    assert window.ends_at == datetime(2031, 4, 10, 21, 0, tzinfo=UTC)  # 14 days on, midnight IDT (UTC+3)
    assert [d.hours for d in window.days[:2]] == ["23", "24"]
    assert window.span(window.ends_at, None) is None and window.span(window.starts_at - DAY, window.starts_at) is None


# -- filters and defaults -----------------------------------------------------------------------------------------
def test_the_board_shows_the_branch_and_the_class_asked_for(viewer, london, tel_aviv, compact, suv):
    here_compact = CarFactory(location=london, vehicle_class=compact)
    here_suv = CarFactory(location=london, vehicle_class=suv)
    elsewhere = CarFactory(location=tel_aviv, vehicle_class=compact)
    CarFactory(location=london, vehicle_class=compact, status=CarStatus.RETIRED)
    in_maintenance = CarFactory(location=london, vehicle_class=suv, status=CarStatus.MAINTENANCE)

    _, page, html = board(viewer, location="LON-LHR")
    assert page.rows == [str(here_compact.id), *sorted([str(here_suv.id), str(in_maintenance.id)], key=_model_of)]
    assert "In maintenance" in html
    _, page, _ = board(viewer, location="LON-LHR", vehicle_class="SUV")
    assert set(page.rows) == {str(here_suv.id), str(in_maintenance.id)}
    _, page, _ = board(viewer, location="TLV-AIR", vehicle_class="COMPACT")
    assert page.rows == [str(elsewhere.id)]
    _, page, html = board(viewer, location="TLV-AIR", vehicle_class="SUV")
    assert page.rows == [] and "No cars at TLV-AIR in SUV" in html


def _model_of(car_id: str) -> tuple[str, str]:
    car = Car.objects.get(id=car_id)
    return car.model, car.plate or ""


def test_without_parameters_the_board_is_the_first_branch_from_today_in_its_zone(viewer, london, tel_aviv):
    CarFactory(location=london)
    _, page, html = board(viewer)
    today = timezone.now().astimezone(LONDON).date()  # LON-LHR comes before TLV-AIR
    assert page.having("board-day")[0]["data-date"] == today.isoformat()
    assert "<strong>LON-LHR</strong>" in html and "in Europe/London" in html
    assert page.having("board-today")  # today's column is marked
    shown = {attrs["name"]: attrs for tag, attrs in page.elements if tag in ("input", "select") and "name" in attrs}
    assert shown["start"]["value"] == today.isoformat()  # the form says what the board shows
    assert 'value="LON-LHR" selected' in html


def test_the_earlier_and_later_links_move_a_fortnight_keeping_the_filters(viewer, london, compact):
    CarFactory(location=london, vehicle_class=compact)
    _, page, _ = board(viewer, location="LON-LHR", vehicle_class="COMPACT", start="2031-06-02")
    later = page.having("board-later")[0]["href"]
    earlier = page.having("board-earlier")[0]["href"]
    assert "start=2031-06-16" in later and "vehicle_class=COMPACT" in later and "location=LON-LHR" in later
    assert "start=2031-05-19" in earlier


def test_many_cars_are_paged_60_rows_at_a_time(viewer, london):
    for _ in range(CARS_PER_PAGE + 1):
        CarFactory(location=london)
    _, first, html = board(viewer, location="LON-LHR")
    assert len(first.rows) == CARS_PER_PAGE and "Cars 1–60 of 61" in html
    _, second, _ = board(viewer, location="LON-LHR", page=2)
    assert len(second.rows) == 1 and not set(second.rows) & set(first.rows)
    _, clamped, _ = board(viewer, location="LON-LHR", page="x")  # not a page number: the first
    assert clamped.rows == first.rows


# -- the statements -----------------------------------------------------------------------------------------------
def _statements(client: Client, **params) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL, params).status_code == 200
    return statement_labels(queries.captured_queries)


def test_one_statement_reads_the_holds_of_every_car_on_the_page(viewer, london, compact):
    start = date(2031, 6, 2)

    def add_cars(count: int) -> None:
        for _ in range(count):
            car = CarFactory(location=london, vehicle_class=compact)
            hold(car, at(start + DAY, 9), at(start + 2 * DAY, 9))
            services.block_create(
                car_id=car.id, starts_at=at(start + 4 * DAY, 9), ends_at=at(start + 5 * DAY, 9), reason="Service"
            )

    add_cars(3)
    few = _statements(viewer, location="LON-LHR", start=start.isoformat())
    add_cars(CARS_PER_PAGE - 3)
    full_page = _statements(viewer, location="LON-LHR", start=start.isoformat())
    assert (
        full_page
        == few
        == [
            "SELECT django_session",
            "SELECT auth_user",
            "SELECT auth_permission",  # the account's own permissions, then its groups' (may it view cars?)
            "SELECT auth_permission",
            "SELECT fleet_location",  # the branches and classes to choose from
            "SELECT fleet_vehicleclass",
            "SELECT fleet_car",  # how many cars, then the page of them with their classes
            "SELECT fleet_car",
            "SELECT fleet_reservation",  # every hold and block of the page's cars
        ]
    )


def test_board_holds_is_one_statement_whatever_the_number_of_cars(london, compact):
    start = date(2031, 6, 2)
    cars = [CarFactory(location=london, vehicle_class=compact) for _ in range(10)]
    for car in cars:
        hold(car, at(start, 9), at(start + DAY, 9))
    window = Window(start, LONDON)
    with CaptureQueriesContext(connection) as queries:
        holds = selectors.board_holds(car_ids=[c.id for c in cars], starts_at=window.starts_at, ends_at=window.ends_at)
        assert [h.vehicle_class_code for h in holds] == ["COMPACT"] * 10
        assert {h.overdue for h in holds} == {False} and {h.turnaround_minutes for h in holds} == {30}
    assert statement_labels(queries.captured_queries) == ["SELECT fleet_reservation"]


# -- who may see it, and what it says to parameters it cannot use -------------------------------------------------
def test_anonymous_is_sent_to_the_admin_login():
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=/admin/fleet/board/")


def test_an_account_that_is_not_staff_is_refused(db):
    client = Client()
    client.force_login(User.objects.create_user("someone"))
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_who_may_not_view_cars_get_a_403_and_no_link(london):
    client = _staff_with("view_location")
    assert client.get(URL).status_code == 403
    assert "/admin/fleet/board/" not in client.get("/admin/").content.decode()


def test_staff_who_may_view_cars_find_it_on_the_index_the_fleet_page_and_the_car_list(viewer, london):
    for page in ("/admin/", "/admin/fleet/", "/admin/fleet/car/"):
        html = viewer.get(page).content.decode()
        assert 'href="/admin/fleet/board/"' in html and "Planning board" in html, page
    assert viewer.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"location": "NOWHERE"}, "location: Select a valid choice"),
        ({"vehicle_class": "HOVERCRAFT"}, "vehicle_class: Select a valid choice"),
        ({"start": "2031-02-30"}, "start: Enter a valid date"),
        ({"start": "next tuesday"}, "start: Enter a valid date"),
        ({"start": "9999-12-25"}, "start: Choose a day from 1900-01-01 to 2100-12-31"),
        ({"start": "1066-10-14"}, "start: Choose a day from"),
        ({"location": "LON\x00"}, "location: Select a valid choice"),
        ({"start": "2031-06-02\x00"}, "start: Enter a valid date"),
    ],
)
def test_parameters_it_cannot_use_are_a_400_that_says_why(viewer, london, params, says):
    status, page, html = board(viewer, **params)
    assert status == 400
    assert says in html and "Traceback" not in html
    assert page.having("board-filters") and not page.rows  # the form, to correct them; no board


def test_a_branch_with_a_time_zone_nobody_knows_is_a_message_not_a_500(viewer):
    Location.objects.create(code="MARS", name="Mars base", time_zone="Mars/Olympus_Mons")
    status, _, html = board(viewer, location="MARS")
    assert status == 400 and "time zone this server does not know" in html


def test_without_branches_the_board_says_so(viewer):
    status, _, html = board(viewer)
    assert status == 200 and "There are no branches yet" in html


def test_behind_the_gateway_the_links_to_the_cars_keep_the_prefix(viewer, london):
    car = CarFactory(location=london)
    services.block_create(car_id=car.id, starts_at=at(date(2031, 6, 3), 9), ends_at=at(date(2031, 6, 4), 9), reason="X")
    set_script_prefix("/inventory/")  # what gunicorn does with the gateway's SCRIPT_NAME (the test client does not)
    try:
        response = viewer.get(URL, {"start": "2031-06-02"}, SCRIPT_NAME="/inventory")
    finally:
        set_script_prefix("/")
    page = Page(response.content.decode())
    car_page = f"/inventory/admin/fleet/car/{car.id}/change/"
    assert page.bars and {bar["href"] for bar in page.bars.values()} == {car_page}
    assert [a["href"] for a in page.having("board-car-link")] == [car_page]


def test_a_reason_with_markup_is_shown_as_text(viewer, london):
    car = CarFactory(location=london, model='<img src=x onerror="alert(1)">')
    reason = '"><script>alert(1)</script>'
    block = services.block_create(
        car_id=car.id, starts_at=at(date(2031, 6, 3), 9), ends_at=at(date(2031, 6, 4), 9), reason=reason
    )
    _, page, html = board(viewer, location="LON-LHR", start="2031-06-02")
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert f"Reason: {reason}" in page.bars[str(block.id)]["title"]  # the parser unescapes what the page escaped
