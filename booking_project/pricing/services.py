"""Writes of prices: rate plans, extras, quotes. Reads are in selectors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import errors, rules, selectors
from .models import Extra, ExtraPer, Quote, QuoteLine, RatePlan

# The longest window a quote prices.
QUOTE_MAX_DAYS = 366
PICKUP_GRACE = timedelta(minutes=5)


def _constraint_of(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _saved(plan: RatePlan, **kwargs: Any) -> RatePlan:
    _validity_check(plan)
    try:
        with transaction.atomic():
            plan.save(**kwargs)
    except IntegrityError as exc:
        constraint = _constraint_of(exc)
        if constraint == "rate_plan_no_overlap":
            raise errors.RatePlanOverlap() from None
        if constraint == "rate_plan_valid_until_after_from":
            raise errors.RatePlanValidity() from None
        raise
    return plan


def rate_plan_create(**fields: Any) -> RatePlan:
    """A new plan. 409 rate_plan_overlap when another plan for the class and branch is in force during its
    validity (the exclusion constraint decides, so two staff adding plans at once cannot both succeed)."""
    return _saved(RatePlan(**fields), force_insert=True)


def rate_plan_update(*, plan_id: UUID, **fields: Any) -> RatePlan:
    """Change a plan (prices, validity…). Quotes already given keep their price: they copied it."""
    with transaction.atomic():
        plan = selectors.rate_plan_get(plan_id=plan_id, for_update=True)
        for name, value in fields.items():
            setattr(plan, name, value)
        return _saved(plan)


def _validity_check(plan: RatePlan) -> None:
    if plan.valid_until is not None and plan.valid_until <= plan.valid_from:
        raise errors.RatePlanValidity()


def extra_create(**fields: Any) -> Extra:
    try:
        with transaction.atomic():
            return Extra.objects.create(**fields)
    except IntegrityError as exc:
        if _constraint_of(exc) == "extra_code_unique":
            raise errors.ExtraExists() from None
        raise


def _plans_for(vehicle_class: str, branch: str, starts_at: datetime, ends_at: datetime) -> list[rules.Plan]:
    """The plans of the class at the branch (or at every branch) in force at some moment of the window."""
    found = RatePlan.objects.filter(vehicle_class=vehicle_class, location__in=[branch, ""], valid_from__lt=ends_at)
    found = found.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=starts_at))
    return [
        rules.Plan(
            rule=f"rate_plan:{plan.id}",
            label=f"{plan.vehicle_class} at {plan.location}" if plan.location else plan.vehicle_class,
            rates=rules.Rates(hour=plan.hour, day=plan.day, week=plan.week),
            currency=plan.currency,
            valid_from=plan.valid_from,
            valid_until=plan.valid_until,
            for_branch=bool(plan.location),
            one_way_fee=plan.one_way_fee,
        )
        for plan in found
    ]


def _extras_for(asked: Sequence[dict[str, Any]]) -> list[rules.Extra]:
    codes = [item["code"] for item in asked]
    if len(set(codes)) != len(codes):
        raise errors.ExtrasRefused("Each extra once, with its quantity.")
    known = {extra.code: extra for extra in Extra.objects.filter(code__in=codes)}
    chosen = []
    for item in asked:
        extra = known.get(item["code"])
        if extra is None:
            raise errors.NamedExtraNotFound(f"No extra has the code {item['code']!r}.")
        if item["quantity"] > extra.max_quantity:
            raise errors.ExtrasRefused(f"{extra.code}: at most {extra.max_quantity}.")
        chosen.append(
            rules.Extra(
                rule=f"extra:{extra.code}",
                name=extra.name,
                price=extra.price,
                currency=extra.currency,
                per_day=extra.per == ExtraPer.DAY,
                quantity=item["quantity"],
            )
        )
    return chosen


def quote_create(
    *,
    vehicle_class: str,
    pickup_location: str,
    pickup_at: datetime,
    return_at: datetime,
    return_location: str | None = None,
    extras: Sequence[dict[str, Any]] = (),
) -> Quote:
    """Price a class at a branch for a window, and keep that price until the quote expires
    (BOOKING_QUOTE_TTL_MINUTES). 422: no_rate_plan (no plan in force for part of the window), currency_mismatch,
    return_before_pickup, pickup_in_past, extra_not_found, invalid (too many of an extra, a window over 366 days)."""
    now = timezone.now()
    if return_at <= pickup_at:
        raise errors.QuoteWindowRefused()
    if pickup_at < now - PICKUP_GRACE:  # "now" as the desk typed it, a moment ago
        raise errors.PickupInPast()
    if return_at - pickup_at > timedelta(days=QUOTE_MAX_DAYS):
        raise errors.QuoteWindowTooLong()
    dropoff = return_location or pickup_location
    plans = _plans_for(vehicle_class, pickup_location, pickup_at, return_at)
    chosen = _extras_for(extras)
    try:
        lines, currency = rules.quote_lines(
            plans, pickup_at, return_at, extras=chosen, one_way=dropoff != pickup_location
        )
    except rules.NoPlan as exc:
        raise errors.NoRatePlan(
            f"No rate plan prices {vehicle_class} at {pickup_location} at {exc.at.isoformat()}."
        ) from None
    except rules.MixedCurrencies as exc:
        raise errors.CurrencyMismatch(f"The window's plans and extras are priced in {exc}.") from None
    with transaction.atomic():
        quote = Quote.objects.create(
            vehicle_class=vehicle_class,
            pickup_location=pickup_location,
            return_location=dropoff,
            pickup_at=pickup_at,
            return_at=return_at,
            extras=[{"code": item["code"], "quantity": item["quantity"]} for item in extras],
            currency=currency,
            total=sum(line.amount for line in lines),
            expires_at=now + timedelta(minutes=settings.BOOKING_QUOTE_TTL_MINUTES),
        )
        QuoteLine.objects.bulk_create(
            QuoteLine(
                quote=quote,
                position=position,
                kind=line.kind,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                rule=line.rule,
            )
            for position, line in enumerate(lines)
        )
    return selectors.quote_get(quote_id=quote.id)
