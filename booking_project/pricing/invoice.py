"""A rental's invoice: its ledger as a page (HTML), amounts shown with their currency's digits."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer

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


def invoice_context(rental: Rental) -> dict[str, Any]:
    lines = list(charge_list(rental_id=rental.id))
    currency = rental.currency or (lines[0].currency if lines else "")
    labels = dict(ChargeKind.choices)

    def money(amount: int) -> str:
        return shown(amount, currency) if currency in MINOR_DIGITS else str(amount)

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
        "total": money(sum(line.amount for line in lines)),
    }
