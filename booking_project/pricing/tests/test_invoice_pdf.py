"""The invoice as PDF (Accept: application/pdf): WeasyPrint prints the invoice page; the test opens the document
with poppler (pdftotext for its words, pdftoppm for a picture of its page) and saves that picture as
docs/screenshots/invoice-pdf.png, which the README shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from drivenow_contracts.testing import assert_problem
from payments.models import Payment, PaymentStatus
from rentals.models import Rental, RentalStatus

pytestmark = pytest.mark.django_db
PICTURE = Path(settings.BASE_DIR).parent / "docs" / "screenshots" / "invoice-pdf.png"


def poppler(tool: str) -> str:
    """The poppler program (Debian's poppler-utils; the test command installs it). Missing: the test fails in CI
    and where the test command could have installed it (DN_PDFTOPPM=missing), else it is skipped."""
    found = shutil.which(tool)
    if found:
        return found
    if os.environ.get("CI") or os.environ.get("DN_PDFTOPPM") == "missing":
        pytest.fail(f"{tool} (poppler-utils) is not installed")
    pytest.skip(f"{tool} (poppler-utils) is not installed")


@pytest.fixture
def invoiced(customer, staff) -> Rental:
    rental = Rental.objects.create(
        car_id=uuid.uuid4(),
        customer=customer,
        status=RentalStatus.COMPLETED,
        started_at=timezone.now(),
        ended_at=timezone.now(),
        car_model="Škoda Octavia",
        car_plate="DN24 PDF",
        vehicle_class="COMPACT",
        pickup_location="LON-LHR",
    )
    url = f"/api/v1/rentals/{rental.id}/charges/"
    for body in (
        {"kind": "damage", "description": "Scratch, rear bumper", "amount": 25_050, "currency": "GBP"},
        {"kind": "adjustment", "description": "Goodwill credit", "amount": -5_000},
    ):
        assert staff.post(url, body, format="json").status_code == 201
    Payment.objects.create(
        rental=rental,
        purpose="charge",
        provider="fake",
        status=PaymentStatus.CAPTURED,
        currency="GBP",
        amount=15_000,
        captured=15_000,
    )
    return rental


def test_the_invoice_as_pdf_is_the_ledger_printed_with_what_was_paid_and_what_is_due(staff, invoiced, tmp_path):
    answer = staff.get(f"/api/v1/rentals/{invoiced.id}/invoice/", HTTP_ACCEPT="application/pdf")
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"] == "application/pdf"
    document = tmp_path / "invoice.pdf"
    document.write_bytes(answer.content)
    assert answer.content.startswith(b"%PDF-")

    words = subprocess.run(
        [poppler("pdftotext"), "-layout", str(document), "-"], capture_output=True, text=True, check=True
    ).stdout
    for text in (
        f"DN-{invoiced.id.hex[:8].upper()}",
        "Scratch, rear bumper",
        "250.50 GBP",
        "-50.00 GBP",
        "200.50 GBP",  # the total
        "150.00 GBP",  # paid
        "50.50 GBP",  # due
        "Škoda Octavia",
    ):
        assert text in words, text
    pages = subprocess.run([poppler("pdfinfo"), str(document)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", pages, re.M) and re.search(r"^Page size:.*\(A4\)$", pages, re.M), pages

    subprocess.run(
        [poppler("pdftoppm"), "-png", "-r", "80", "-singlefile", str(document), str(tmp_path / "page")], check=True
    )
    with Image.open(tmp_path / "page.png") as page:
        width, height = page.size
        assert abs(height / width - 297 / 210) < 0.01  # an A4 page
        inked = sum(1 for pixel in page.convert("L").getdata() if pixel < 128)
        assert inked > width * height * 0.004  # text was drawn (a blank page has none): about 1 % at 80 dpi
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "page.png", PICTURE)


def test_pdf_errors_are_problems_and_the_page_is_still_html(staff, anon, invoiced):
    pdf = {"HTTP_ACCEPT": "application/pdf"}
    assert_problem(anon.get(f"/api/v1/rentals/{invoiced.id}/invoice/", **pdf), 401, "not_authenticated")
    assert_problem(staff.get(f"/api/v1/rentals/{uuid.uuid4()}/invoice/", **pdf), 404, "rental_not_found")
    by_format = staff.get(f"/api/v1/rentals/{invoiced.id}/invoice/?format=pdf")  # as a browser link can ask
    assert by_format.status_code == 200 and by_format.content.startswith(b"%PDF-")
    page = staff.get(f"/api/v1/rentals/{invoiced.id}/invoice/")
    assert page["Content-Type"].startswith("text/html") and '<td class="num" id="due">50.50 GBP</td>' in (
        page.content.decode()
    )
