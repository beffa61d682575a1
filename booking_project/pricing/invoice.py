"""A rental's invoice: its ledger as a page (HTML) or a document (PDF, the same page printed by WeasyPrint),
amounts shown with their currency's digits, with what was paid and what is still due."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.renderers import BaseRenderer, JSONRenderer, TemplateHTMLRenderer

from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import DomainError
from rentals.models import Rental

from .currencies import MINOR_DIGITS, shown
from .models import ChargeKind
from .selectors import charge_list


class InvoiceHTMLRenderer(TemplateHTMLRenderer):
    """The page as text/html; an error is problem+json as everywhere (the exception handler sets its content
    type; a 406 is answered before any renderer was chosen, so the body is made here too)."""

    format = "html"
    template_name = "pricing/invoice.html"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        response = (renderer_context or {}).get("response")
        if response is not None and response.exception:
            return JSONRenderer().render(data, renderer_context=renderer_context)
        return super().render(data, accepted_media_type, renderer_context)


class PdfUnavailable(DomainError):
    code, http_status = ErrorCode.PDF_UNAVAILABLE, 503
    default_detail = "This host cannot render PDF (WeasyPrint's Pango libraries are missing); ask for the HTML page."


def pdf_of(html: str) -> bytes:
    """The page printed to PDF (A4, the template's @page rules) by WeasyPrint: no browser, no network (the page
    has no external resource)."""
    try:
        from weasyprint import HTML
    except OSError as exc:  # the Python package is there, its system libraries are not
        raise PdfUnavailable() from exc
    return bytes(HTML(string=html).write_pdf())


class InvoicePDFRenderer(BaseRenderer):
    """The invoice as application/pdf; an error is problem+json, as with the page."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        response = (renderer_context or {}).get("response")
        if response is not None and response.exception:
            return JSONRenderer().render(data, renderer_context=renderer_context)
        request = (renderer_context or {}).get("request")
        return pdf_of(render_to_string(InvoiceHTMLRenderer.template_name, {**data, "pdf": True}, request=request))


def invoice_context(rental: Rental) -> dict[str, Any]:
    lines = list(charge_list(rental_id=rental.id))
    currency = rental.currency or (lines[0].currency if lines else "")
    labels = dict(ChargeKind.choices)

    def money(amount: int) -> str:
        return shown(amount, currency) if currency in MINOR_DIGITS else str(amount)

    total = sum(line.amount for line in lines)
    paid = sum(payment.captured - payment.refunded for payment in rental.payments.all())
    return {
        "number": f"DN-{rental.id.hex[:8].upper()}",
        "issued": timezone.now(),
        "rental": rental,
        "lines": [
            {
                "kind": line.kind,
                "kind_label": labels.get(line.kind, line.kind),
                "description": line.description,
                "quantity": line.quantity,
                "unit": money(line.unit_price),
                "amount": line.amount,
                "shown": money(line.amount),
            }
            for line in lines
        ],
        "total": money(total),
        "paid": money(paid) if paid else "",
        "due": money(total - paid),
    }
