"""The invoice in a real browser: headless Chromium logs in through booking's admin login form and opens a rental's
invoice on a live server; the lines and the total are where the ledger puts them, and the page is saved as
docs/screenshots/invoice.png (the README shows it)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from customers.models import Customer
from drivenow_contracts.testing.browser import headless_chrome
from pricing import services
from rentals.models import Rental, RentalStatus

SCREENSHOT = Path(settings.BASE_DIR).parent / "docs" / "screenshots" / "invoice.png"
PASSWORD = "invoice-browser-password-1"


@pytest.mark.django_db(transaction=True)
def test_staff_open_a_rentals_invoice_in_a_browser(live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    User.objects.create_superuser("invoice-staff", password=PASSWORD)
    customer = Customer.objects.create(name="Ada Lovelace", email="ada@example.com")
    picked = timezone.now() - timedelta(days=3, hours=2)
    rental = Rental.objects.create(
        car_id=uuid.uuid4(),
        customer=customer,
        status=RentalStatus.COMPLETED,
        pickup_at=picked,
        return_at=picked + timedelta(days=3),
        started_at=picked,
        ended_at=timezone.now(),
        pickup_location="TLV-AIR",
        return_location="TLV-CEN",
        vehicle_class="EV",
        car_model="Hyundai Ioniq 5",
        car_plate="DN-204",
    )
    for kind, description, amount in (
        ("damage", "Scratch, rear bumper", 45_000),
        ("adjustment", "Loyal customer: 10 % off the damage", -4_500),
    ):
        services.charge_add(
            rental_id=rental.id, kind=kind, description=description, amount=amount, currency="ILS", source=kind
        )
    with headless_chrome(window_size="900,760") as browser:
        browser.get(f"{live_server.url}/admin/login/?next=/api/v1/rentals/{rental.id}/invoice/")
        browser.find_element(By.NAME, "username").send_keys("invoice-staff")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        # The login answers with a redirect to the invoice: wait for that page, however slow the machine.
        WebDriverWait(browser, 30).until(shown.presence_of_element_located((By.ID, "total")))
        assert browser.current_url.endswith(f"/api/v1/rentals/{rental.id}/invoice/"), browser.current_url
        rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [row.get_attribute("data-kind") for row in rows] == ["damage", "adjustment"]
        assert browser.find_element(By.ID, "total").text == "405.00 ILS"
        assert "Hyundai Ioniq 5 · DN-204" in browser.find_element(By.TAG_NAME, "main").text
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
