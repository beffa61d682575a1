"""Reads of prices."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Extra, Quote, RatePlan


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
