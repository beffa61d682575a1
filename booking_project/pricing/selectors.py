"""Reads of prices."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Charge, Extra, Quote, RatePlan


def rate_plan_list() -> QuerySet[RatePlan]:
    return RatePlan.objects.all()


def rate_plan_get(*, plan_id: UUID | str, for_update: bool = False) -> RatePlan:
    parsed = parse_uuid(plan_id)
    plans = RatePlan.objects.select_for_update() if for_update else RatePlan.objects.all()
    found = None if parsed is None else plans.filter(id=parsed).first()
    if found is None:
        raise errors.RatePlanNotFound()
    return found


def extra_list() -> QuerySet[Extra]:
    return Extra.objects.all()


def extra_get(*, extra_id: UUID | str) -> Extra:
    parsed = parse_uuid(extra_id)
    found = None if parsed is None else Extra.objects.filter(id=parsed).first()
    if found is None:
        raise errors.ExtraNotFound()
    return found


def quote_get(*, quote_id: UUID | str) -> Quote:
    """A quote with its lines, in order (one more statement)."""
    parsed = parse_uuid(quote_id)
    found = None if parsed is None else Quote.objects.prefetch_related("lines").filter(id=parsed).first()
    if found is None:
        raise errors.QuoteNotFound()
    return found


def quote_for_booking(
    *,
    quote_id: UUID,
    vehicle_class: str | None,
    pickup_location: str,
    return_location: str,
    pickup_at: datetime,
    return_at: datetime,
) -> Quote:
    """The quote a booking names, if it prices exactly this booking and has not expired. Raises
    BookedQuoteNotFound, QuoteExpired, QuoteMismatch (a booking by car: a quote prices a class)."""
    quote = Quote.objects.filter(id=quote_id).first()
    if quote is None:
        raise errors.BookedQuoteNotFound("No quote has this id.")
    asked = (vehicle_class, pickup_location, return_location, pickup_at, return_at)
    quoted = (quote.vehicle_class, quote.pickup_location, quote.return_location, quote.pickup_at, quote.return_at)
    if asked != quoted:
        raise errors.QuoteMismatch()
    if quote.expires_at <= timezone.now():
        raise errors.QuoteExpired()
    return quote


def charge_list(*, rental_id: UUID) -> QuerySet[Charge]:
    return Charge.objects.filter(rental_id=rental_id).order_by("id")
