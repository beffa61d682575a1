"""Writes of prices: rate plans, extras, quotes. Reads are in selectors."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from drivenow_contracts.server.errors import DomainError
from rentals.models import Rental

from . import errors, rules, selectors
from .models import Charge, ChargeKind, Extra, ExtraPer, Quote, QuoteLine, RatePlan

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


def quote_for_booking_if_priced(
    *,
    vehicle_class: str,
    pickup_location: str,
    pickup_at: datetime,
    return_at: datetime,
    return_location: str | None = None,
) -> Quote | None:
    """A booking by class made without a quote is priced as a quote would price it at that moment (the quote is
    kept with the booking, as one the customer asked for would be); None when nothing prices it (no plan for the
    class and branch, plans in two currencies, …): the booking is made unpriced, as before prices existed. In the
    booking's transaction: a refusal rolls back only its savepoint."""
    try:
        with transaction.atomic():
            return quote_create(
                vehicle_class=vehicle_class,
                pickup_location=pickup_location,
                return_location=return_location,
                pickup_at=pickup_at,
                return_at=return_at,
            )
    except DomainError:
        return None


def _price_from_ledger(rental_id: UUID) -> int:
    """The rental's price is the sum of its ledger: written in the transaction that added the line."""
    total = Charge.objects.filter(rental_id=rental_id).aggregate(total=Sum("amount"))["total"] or 0
    Rental.objects.filter(id=rental_id).update(price=total)
    return int(total)


def charges_from_quote(*, rental_id: UUID, quote_id: UUID) -> int:
    """A booking made at a quote: the quote's lines become the rental's first charges (once: a retried booking
    finds them there). Runs in the caller's transaction, the one that makes the booking `reserved`. Returns the
    rental's price."""
    assert transaction.get_connection().in_atomic_block, "charges are written with the change they bill"
    quote = Quote.objects.prefetch_related("lines").get(id=quote_id)
    rows = [
        (
            rules.Line(line.kind, line.description, line.quantity, line.unit_price, line.amount, line.rule),
            f"quote:{quote.id}:{line.position}",
        )
        for line in quote.lines.all()
    ]
    return _bill(rental_id, rows, currency=quote.currency)


def charge_add(
    *,
    rental_id: UUID,
    kind: str,
    description: str,
    amount: int,
    source: str,
    currency: str | None = None,
    created_by: str = "",
) -> tuple[Charge, bool]:
    """A staff line on a rental's ledger (an adjustment, negative for a credit, or a damage charge). The same
    `source` (the request's Idempotency-Key) again returns the first line, not a second one. Returns (line, created).
    Refused: a damage line that is no charge, a credit beyond what the rental owes, a key used for another line.
    Raises ChargedRentalNotFound, CurrencyMismatch, ChargeCurrencyMissing, ChargeRefused, ChargeKeyReused."""
    with transaction.atomic():
        rental = Rental.objects.select_for_update(no_key=True).filter(id=rental_id).first()
        if rental is None:
            raise errors.ChargedRentalNotFound()
        existing = Charge.objects.filter(rental_id=rental_id, source=source).first()
        if existing is not None:  # the same key: the same line again, or a different request under an old key
            asked = (kind, description, amount, currency or existing.currency)
            if asked != (existing.kind, existing.description, existing.amount, existing.currency):
                raise errors.ChargeKeyReused()
            return existing, False
        if kind == ChargeKind.DAMAGE and amount <= 0:
            raise errors.ChargeRefused("A damage line charges something: a credit is an adjustment.")
        total = Charge.objects.filter(rental_id=rental_id).aggregate(total=Sum("amount"))["total"] or 0
        if total + amount < 0:
            raise errors.ChargeRefused(f"A credit of {-amount} would leave the rental owing {total + amount}.")
        ledger_currency = (
            rental.currency or Charge.objects.filter(rental_id=rental_id).values_list("currency", flat=True).first()
        )
        if ledger_currency and currency and currency != ledger_currency:
            raise errors.CurrencyMismatch(f"This rental is billed in {ledger_currency}.")
        currency = currency or ledger_currency
        if not currency:
            raise errors.ChargeCurrencyMissing()
        line = Charge.objects.create(
            rental_id=rental_id,
            kind=kind,
            description=description,
            quantity=1,
            unit_price=amount,
            amount=amount,
            currency=currency,
            source=source,
            rule=f"staff:{kind}",
            created_by=created_by,
        )
        if not rental.currency:
            Rental.objects.filter(id=rental_id).update(currency=currency)
        _price_from_ledger(rental_id)
    return line, True


STAFF_CHARGE_KINDS = (ChargeKind.ADJUSTMENT, ChargeKind.DAMAGE)
# What a booking itself costs (a cancellation or no-show credits these back).
BOOKED_KINDS = (ChargeKind.RENTAL, ChargeKind.EXTRA, ChargeKind.ONE_WAY)


# -- what a return, a cancellation and a no-show add to the ledger ----------------------------------------------
def _plan_at_pickup(rental: Rental) -> RatePlan | None:
    """The plan that priced the booking: in force at its pick-up for its class, the branch's own first."""
    if not rental.vehicle_class or rental.pickup_at is None:
        return None
    plans = RatePlan.objects.filter(
        vehicle_class=rental.vehicle_class,
        location__in=[rental.pickup_location or "", ""],
        valid_from__lte=rental.pickup_at,
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gt=rental.pickup_at))
    return min(plans, key=lambda plan: plan.location == "", default=None)


def _fees(plan: RatePlan) -> rules.Fees:
    return rules.Fees(
        rule=f"rate_plan:{plan.id}",
        rates=rules.Rates(hour=plan.hour, day=plan.day, week=plan.week),
        km_per_day=plan.km_per_day,
        per_extra_km=plan.per_extra_km,
        fuel_per_eighth=plan.fuel_per_eighth,
        one_way_fee=plan.one_way_fee,
        late_grace=timedelta(minutes=settings.BOOKING_LATE_GRACE_MINUTES),
    )


def _bill(rental_id: UUID, rows: Sequence[tuple[rules.Line, str]], *, currency: str) -> int:
    """Lines on the ledger, each with the source that wrote it: once per (rental, kind, source), whatever the
    retries (a line already there is left as it is); then the price is the ledger's sum. Returns the price."""
    if rows:
        Charge.objects.bulk_create(
            [
                Charge(
                    rental_id=rental_id,
                    kind=line.kind,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                    currency=currency,
                    source=source,
                    rule=line.rule,
                )
                for line, source in rows
            ],
            ignore_conflicts=True,  # charge_once_per_source
        )
        Rental.objects.filter(id=rental_id, currency="").update(currency=currency)
    return _price_from_ledger(rental_id)


def charges_for_return(*, rental_id: UUID) -> None:
    """The return's lines, from the handovers and the plan that priced the booking: late (past the grace), km
    over the allowance, fuel missing, a one-way return not booked as one. Once per rental (source `return`):
    ending again, or a retry after a crash here, adds nothing twice. A walk-in (no window) has no plan: nothing."""
    with transaction.atomic():
        rental = Rental.objects.select_for_update(no_key=True).filter(id=rental_id).first()
        if rental is None or rental.pickup_at is None or rental.ended_at is None or rental.return_at is None:
            return
        if Charge.objects.filter(rental_id=rental.id, source="return").exists():
            return  # billed: a plan changed since does not bill the same return again
        plan = _plan_at_pickup(rental)
        if plan is None or (rental.currency and rental.currency != plan.currency):
            return
        fees = _fees(plan)
        readings = {handover.kind: handover for handover in rental.handovers.all()}
        out, back = readings.get("out"), readings.get("in")
        lines = [rules.late_line(fees, due=rental.return_at, returned=rental.ended_at)]
        if out is not None and back is not None:
            if out.odometer_km is not None and back.odometer_km is not None:
                booked_days = math.ceil((rental.return_at - rental.pickup_at) / timedelta(days=1))
                lines.append(
                    rules.mileage_line(fees, km_driven=back.odometer_km - out.odometer_km, booked_days=booked_days)
                )
            if out.fuel_eighths is not None and back.fuel_eighths is not None:
                lines.append(rules.fuel_line(fees, out_eighths=out.fuel_eighths, in_eighths=back.fuel_eighths))
        returned_at = back.location if back is not None and back.location else rental.return_location
        one_way_billed = Charge.objects.filter(rental_id=rental.id, kind=ChargeKind.ONE_WAY).exists()
        if returned_at and returned_at != rental.pickup_location and plan.one_way_fee and not one_way_billed:
            lines.append(
                rules.Line(
                    "one_way",
                    f"Returned at {returned_at}",
                    1,
                    plan.one_way_fee,
                    plan.one_way_fee,
                    f"rate_plan:{plan.id}:one_way",
                )
            )
        _bill(rental.id, [(line, "return") for line in lines if line is not None], currency=plan.currency)


def charges_for_cancellation(*, rental: Rental, cancelled_at: datetime) -> None:
    """In the cancel's transaction: the booked price credited back, and, inside BOOKING_FREE_CANCELLATION_HOURS of
    the pick-up, BOOKING_CANCELLATION_PERCENT of it kept; cancelled once the pick-up time has passed (before the
    no-show sweep came), BOOKING_NO_SHOW_PERCENT, as a no-show would."""
    percent = 0
    if rental.pickup_at is not None and cancelled_at >= rental.pickup_at:
        percent = settings.BOOKING_NO_SHOW_PERCENT
    elif rental.pickup_at is not None and rental.pickup_at - cancelled_at < timedelta(
        hours=settings.BOOKING_FREE_CANCELLATION_HOURS
    ):
        percent = settings.BOOKING_CANCELLATION_PERCENT
    _credit_and_keep(rental, kind=ChargeKind.CANCELLATION, percent=percent)


def charges_for_no_show(*, rental: Rental) -> None:
    """In the sweep's transaction: the booked price credited back and BOOKING_NO_SHOW_PERCENT of it kept."""
    _credit_and_keep(rental, kind=ChargeKind.NO_SHOW, percent=settings.BOOKING_NO_SHOW_PERCENT)


def _credit_and_keep(rental: Rental, *, kind: str, percent: int) -> None:
    assert transaction.get_connection().in_atomic_block, "charges are written with the change they bill"
    # The booked price: the booking's own lines (its quote's and its extensions'), not what staff added since.
    booked = Charge.objects.filter(rental_id=rental.id, kind__in=BOOKED_KINDS)
    price = booked.aggregate(total=Sum("amount"))["total"] or 0
    currency = rental.currency or Charge.objects.filter(rental_id=rental.id).values_list("currency", flat=True).first()
    if price <= 0 or not currency:
        return  # nothing was priced: nothing to credit or keep
    label = "Cancellation" if kind == ChargeKind.CANCELLATION else "No-show"
    lines = [rules.Line(kind, f"{label}: booked price credited", 1, -price, -price, f"policy:{kind}:credit")]
    kept = rules.kept_share(price, percent)
    if kept:
        lines.append(rules.Line(kind, f"{label} fee: {percent} % of the price", 1, kept, kept, f"policy:{kind}:fee"))
    # Two lines of one kind: each its own source (cancellation:credit, cancellation:fee).
    _bill(rental.id, [(line, f"{kind}:{line.rule.rsplit(':', 1)[1]}") for line in lines], currency=currency)


def extension_lines(*, rental: Rental, return_at: datetime) -> list[tuple[rules.Line, str]]:
    """What moving a priced booking's return to `return_at` adds: the stretch from the old return priced as a quote
    prices a window (the cheapest combination, the plans in force then), and its per-day extras. Read before anything
    changes, so a stretch no plan prices is 422 no_rate_plan with the booking as it was. A booking without a price,
    or a return moved earlier, adds nothing (no refund for a shorter rental)."""
    if rental.return_at is None or return_at <= rental.return_at or not rental.vehicle_class:
        return []
    if not Charge.objects.filter(rental_id=rental.id, kind__in=BOOKED_KINDS).exists():
        return []
    plans = _plans_for(rental.vehicle_class, rental.pickup_location or "", rental.return_at, return_at)
    extras = [extra for extra in _extras_for(rental.quote.extras if rental.quote else []) if extra.per_day]
    try:
        lines, currency = rules.quote_lines(plans, rental.return_at, return_at, extras=extras)
    except rules.NoPlan as exc:
        raise errors.NoRatePlan(f"No rate plan prices the extension at {exc.at.isoformat()}.") from None
    except rules.MixedCurrencies as exc:
        raise errors.CurrencyMismatch(f"The extension's plans and extras are priced in {exc}.") from None
    if rental.currency and currency != rental.currency:
        raise errors.CurrencyMismatch(f"The booking is billed in {rental.currency}; the extension in {currency}.")
    stamp = return_at.isoformat()
    return [
        (
            rules.Line(
                line.kind, f"Extension: {line.description}", line.quantity, line.unit_price, line.amount, line.rule
            ),
            f"extend:{stamp}:{line.rule}",
        )
        for line in lines
    ]


def bill_extension(*, rental: Rental, rows: Sequence[tuple[rules.Line, str]]) -> None:
    """In the transaction that moves the booking's return: the extension's lines, then the price."""
    if rows:
        _bill(rental.id, rows, currency=rental.currency or "")
