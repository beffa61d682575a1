"""The planning board in a real browser: headless Chromium (Debian's chromium and chromium-driver, which the test
command installs) driven by Selenium against the inventory service under gunicorn. A branch, classes, cars,
rentals, blocks, a completed rental, a walk-in and an overdue rental are made through the API; the staff user logs
in through the admin's login form, opens the board, finds every bar where the API's schedules put them, in the
legend's colours, with the hover text, clicks one to reach its car, and leaves a screenshot in
docs/screenshots/board.png."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests
from django.conf import settings

from drivenow_contracts.testing import LiveService, live_service
from drivenow_contracts.testing.browser import headless_chrome

SCREENSHOT = Path(settings.BASE_DIR).parent / "docs" / "screenshots" / "board.png"
LONDON = ZoneInfo("Europe/London")
STAFF_PASSWORD = "board-browser-staff-password-1"
BRANCH = "BRD-LON"


@pytest.fixture(scope="module")
def inventory() -> Iterator[LiveService]:
    with live_service(settings.BASE_DIR, db_prefix="INVENTORY", db_name="inventory_board_browser") as service:
        yield service


@pytest.fixture
def browser() -> Iterator[object]:
    with headless_chrome() as driver:
        yield driver


class Api:
    """The inventory API as the staff user and the booking service's account call it."""

    def __init__(self, service: LiveService, staff_token: str, service_token: str) -> None:
        self.url = service.url + "/api/v1"
        self.staff = {"Authorization": f"Token {staff_token}"}
        self.booking = {"Authorization": f"Token {service_token}"}

    def post(self, path: str, body: dict[str, object], *, who: dict[str, str], expect: int = 201) -> dict:
        answer = requests.post(f"{self.url}/{path}", json=body, headers=who, timeout=10)
        assert answer.status_code in (expect, 200), (path, body, answer.status_code, answer.text[:500])
        return answer.json()

    def reserve(self, car: str, starts_at: datetime, ends_at: datetime) -> str:
        body = {"id": str(uuid.uuid4()), "car_id": car, "starts_at": iso(starts_at), "ends_at": iso(ends_at)}
        return self.post("reservations/", body, who=self.booking)["id"]

    def block(self, car: str, starts_at: datetime, ends_at: datetime, reason: str) -> str:
        body = {"starts_at": iso(starts_at), "ends_at": iso(ends_at), "reason": reason}
        return self.post(f"cars/{car}/blocks/", body, who=self.staff)["id"]


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def test_staff_see_the_board_in_a_browser_and_click_through_to_a_car(inventory, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    service_token = inventory.manage("create_service_account").strip()
    staff_token = inventory.manage("seed_demo", "--password", STAFF_PASSWORD).strip()
    api = Api(inventory, staff_token, service_token)
    api.post("locations/", {"code": BRANCH, "name": "Board test branch", "time_zone": "Europe/London"}, who=api.staff)
    for code, name, seats, turnaround in (("BRD-CAR", "Board cars", 5, 60), ("BRD-VAN", "Board vans", 3, 120)):
        body = {"code": code, "name": name, "seats": seats, "transmission": "manual", "turnaround_minutes": turnaround}
        api.post("vehicle-classes/", body, who=api.staff)
    models = ["Skoda Octavia", "Toyota Corolla", "Kia Ceed", "Mazda 3", "Seat Leon", "Ford Transit", "VW Crafter"]
    cars = [
        api.post(
            "cars/",
            {
                "model": model,
                "year": 2024,
                "plate": f"BRD-{n}",
                "vehicle_class": "BRD-CAR" if n < 5 else "BRD-VAN",
                "location": BRANCH,
            },
            who=api.staff,
        )["id"]
        for n, model in enumerate(models)
    ]

    today = datetime.now(LONDON).date()
    start = today - timedelta(days=2)  # the board from two days ago: the past rentals are on it

    def day(n: int, hour: int) -> datetime:
        """`hour` o'clock in London, n days from today."""
        return datetime(today.year, today.month, today.day, hour, tzinfo=LONDON) + timedelta(days=n)

    now = datetime.now(UTC)
    rentals, blocks = [], []
    # car 0: a rental picked up yesterday and returned now (completed), then two ahead
    completed = api.reserve(cars[0], day(-1, 9), day(1, 9))
    api.post(f"reservations/{completed}/pick-up/", {}, who=api.booking, expect=200)
    api.post(f"reservations/{completed}/release/", {}, who=api.booking, expect=200)
    rentals += [api.reserve(cars[0], day(3, 10), day(6, 10)), api.reserve(cars[0], day(8, 8), day(9, 18))]
    # car 1: picked up yesterday, due back in a few seconds — then overdue — and booked again next week
    overdue_due = now + timedelta(seconds=4)
    overdue = api.reserve(cars[1], day(-1, 10), overdue_due)
    api.post(f"reservations/{overdue}/pick-up/", {}, who=api.booking, expect=200)
    rentals.append(api.reserve(cars[1], day(4, 12), day(7, 12)))
    # car 2: in the workshop from today, then a long rental; car 3: a walk-in (open-ended, from now)
    blocks.append(api.block(cars[2], day(0, 8), day(2, 17), "Brake service"))
    rentals.append(api.reserve(cars[2], day(5, 9), day(10, 9)))
    walk_in = api.post("reservations/", {"id": str(uuid.uuid4()), "car_id": cars[3]}, who=api.booking)["id"]
    # car 4: booked by class (inventory chooses the car), vans booked and blocked, car 6 free but for a block
    by_class = api.post(
        "reservations/",
        {
            "id": str(uuid.uuid4()),
            "vehicle_class": "BRD-CAR",
            "location": BRANCH,
            "starts_at": iso(day(2, 9)),
            "ends_at": iso(day(3, 9)),
        },
        who=api.booking,
    )
    rentals += [by_class["id"], api.reserve(cars[5], day(1, 8), day(4, 8)), api.reserve(cars[5], day(9, 8), day(12, 8))]
    blocks += [
        api.block(cars[5], day(6, 7), day(8, 7), "Transfer to LON-LHR"),
        api.block(cars[6], day(11, 8), day(12, 16), "Annual inspection"),
    ]
    while datetime.now(UTC) <= overdue_due + timedelta(seconds=1):  # until the car should be back, and is not
        time.sleep(0.2)

    # the board must draw what the API's schedule of each car says, no more, no less
    window = (iso(datetime(start.year, start.month, start.day, tzinfo=LONDON)), iso(day(12, 0)))
    scheduled = set()
    for car in cars:
        answer = requests.get(
            f"{api.url}/cars/{car}/schedule/", {"from": window[0], "until": window[1]}, headers=api.staff, timeout=10
        )
        assert answer.status_code == 200, answer.text
        scheduled |= {entry["id"] for entry in answer.json()}
    assert scheduled == {completed, overdue, walk_in, *rentals, *blocks}

    # log in through the admin's own form, and land on the board
    board_url = f"/admin/fleet/board/?location={BRANCH}&start={start.isoformat()}"
    browser.get(f"{inventory.url}/admin/login/?next={quote(board_url)}")
    browser.find_element(By.ID, "id_username").send_keys("staff")
    browser.find_element(By.ID, "id_password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    WebDriverWait(browser, 15).until(shown.presence_of_element_located((By.CSS_SELECTOR, ".board-row")))
    assert browser.current_url.endswith(board_url)
    assert browser.title.startswith("Planning board")

    bars = {
        bar.get_attribute("data-reservation"): bar for bar in browser.find_elements(By.CSS_SELECTOR, ".board-row .bar")
    }
    assert set(bars) == scheduled
    assert len(browser.find_elements(By.CSS_SELECTOR, ".board-row")) == len(cars)

    def classes(hold: str) -> set[str]:
        return set(bars[hold].get_attribute("class").split())

    assert {"bar", "bar-overdue"} <= classes(overdue) and "bar-rental" not in classes(overdue)
    assert {"bar-rental", "bar-released"} <= classes(completed)
    assert {"bar-rental", "bar-goes-on"} <= classes(walk_in)
    assert all(
        {"bar", "bar-rental"} <= classes(r) and not {"bar-overdue", "bar-released"} & classes(r) for r in rentals
    )
    assert all({"bar", "bar-block"} <= classes(b) and "bar-rental" not in classes(b) for b in blocks)

    # colours: the stylesheet came (served by the service itself), and each kind wears its legend's colour
    def colour(element) -> str:
        return element.value_of_css_property("background-color")

    legend = {
        kind: colour(browser.find_element(By.CSS_SELECTOR, f".legend-{kind}"))
        for kind in ("rental", "block", "overdue")
    }
    assert len(set(legend.values())) == 3 and "rgba(0, 0, 0, 0)" not in legend.values()
    assert colour(bars[rentals[0]]) == legend["rental"]
    assert colour(bars[blocks[0]]) == legend["block"]
    assert colour(bars[overdue]) == legend["overdue"]
    assert float(bars[completed].value_of_css_property("opacity")) < 1
    assert bars[rentals[0]].value_of_css_property("position") == "absolute"
    assert browser.find_elements(By.CSS_SELECTOR, ".board-now")

    # what a hover tells
    ActionChains(browser).move_to_element(bars[blocks[0]]).perform()
    block_title = bars[blocks[0]].get_attribute("title")
    assert f"Block {blocks[0]}" in block_title and "Reason: Brake service" in block_title
    rental_title = bars[rentals[0]].get_attribute("title")
    assert f"Rental {rentals[0]}" in rental_title and "booking's rental id" in rental_title
    assert "then 60 min turnaround" in rental_title
    assert "OVERDUE" in bars[overdue].get_attribute("title")
    assert "open-ended" in bars[walk_in].get_attribute("title")

    # the picture for the README: the whole board
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1600, max(700, height + 40))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    # a bar is a link to its car
    bars[blocks[0]].click()
    # a click does not wait for the next page as get() does: wait for the car's form itself
    model = WebDriverWait(browser, 15).until(shown.presence_of_element_located((By.ID, "id_model")))
    assert f"/admin/fleet/car/{cars[2]}/change/" in browser.current_url
    assert model.get_attribute("value") == "Kia Ceed"
