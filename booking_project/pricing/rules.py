"""How a window is priced: pure functions over rate plans and a window (no database, no clock), so every rule is
tested by a table and by hypothesis.

- A window is billed by the started hour.
- Each stretch of it under one plan is priced by the cheapest combination of that plan's weeks, days and hours
  that covers it: 8 days is a week and a day (or two weeks, or eight days, whichever costs least).
- A window that crosses the end of a plan's validity is priced piecewise, each piece by the plan in force there;
  a plan for the pick-up branch wins over a plan for every branch.
- Every line names the rule it came from (`rule`): the plan and its unit, the extra, the fee.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 7 * HOURS_PER_DAY


@dataclass(frozen=True)
class Rates:
    """A plan's prices in minor units, each > 0."""

    hour: int
    day: int
    week: int


@dataclass(frozen=True)
class Plan:
    """A rate plan as the rules see it: in force over [valid_from, valid_until) (None: open-ended)."""

    rule: str  # "rate_plan:<id>"
    label: str  # what a line calls it: "COMPACT", "COMPACT at TLV-AIR"
    rates: Rates
    currency: str
    valid_from: datetime
    valid_until: datetime | None
    for_branch: bool  # for the pick-up branch only (wins over a plan for every branch)
    one_way_fee: int = 0


@dataclass(frozen=True)
class Extra:
    rule: str  # "extra:<code>"
    name: str
    price: int
    currency: str
    per_day: bool  # else per rental
    quantity: int


@dataclass(frozen=True)
class Line:
    kind: str  # a charge kind of API.md: rental, extra, one_way, …
    description: str
    quantity: int
    unit_price: int
    amount: int
    rule: str


class NoPlan(Exception):
    """No plan is in force at `at` (a moment of the window)."""

    def __init__(self, at: datetime) -> None:
        super().__init__(at.isoformat())
        self.at = at


class MixedCurrencies(Exception):
    """The plans or extras of one window are priced in more than one currency."""


def billable_hours(starts_at: datetime, ends_at: datetime) -> int:
    """Started hours of [starts_at, ends_at): 61 minutes are 2 hours."""
    return max(1, math.ceil((ends_at - starts_at) / timedelta(hours=1)))


def cheapest(hours: int, rates: Rates) -> tuple[int, int, int]:
    """(weeks, days, hours) that cover at least `hours` for the least money; of equal prices, the fewest units.

    Every number of weeks up to the one that covers the window alone is tried (more only cost more: prices are
    positive). For the r hours the weeks leave, d days and r - 24d hours cost r·hour + d·(day - 24·hour): a line
    in d, so the cheapest is at an end — no days, or as many whole days as fit — or else days enough to cover
    r with no hours. Three candidates per number of weeks: a year is ~160 sums, not a search."""
    best: tuple[tuple[int, int], tuple[int, int, int]] | None = None
    for weeks in range(math.ceil(hours / HOURS_PER_WEEK) + 1):
        rest = max(0, hours - weeks * HOURS_PER_WEEK)
        whole = rest // HOURS_PER_DAY
        for days, left in ((0, rest), (whole, rest - whole * HOURS_PER_DAY), (math.ceil(rest / HOURS_PER_DAY), 0)):
            combination = (weeks, days, left)
            key = (price_of(combination, rates), weeks + days + left)
            if best is None or key < best[0]:
                best = (key, combination)
    assert best is not None
    return best[1]


def price_of(combination: tuple[int, int, int], rates: Rates) -> int:
    weeks, days, hours = combination
    return weeks * rates.week + days * rates.day + hours * rates.hour


def pieces(plans: Sequence[Plan], starts_at: datetime, ends_at: datetime) -> list[tuple[Plan, datetime, datetime]]:
    """The window cut where the plan in force changes: (plan, start, end) in order. Raises NoPlan."""
    cuts = {starts_at, ends_at}
    for plan in plans:
        for edge in (plan.valid_from, plan.valid_until):
            if edge is not None and starts_at < edge < ends_at:
                cuts.add(edge)
    result: list[tuple[Plan, datetime, datetime]] = []
    for start, end in pairwise(sorted(cuts)):
        in_force = [p for p in plans if p.valid_from <= start and (p.valid_until is None or p.valid_until >= end)]
        if not in_force:
            raise NoPlan(start)
        plan = max(in_force, key=lambda p: (p.for_branch, p.valid_from))
        if result and result[-1][0] == plan:
            result[-1] = (plan, result[-1][1], end)
        else:
            result.append((plan, start, end))
    return result


def hours_by_plan(
    spans: Sequence[tuple[Plan, datetime, datetime]], starts_at: datetime, ends_at: datetime
) -> list[tuple[Plan, int]]:
    """The window's started hours, counted from the pick-up, each billed by the plan in force when it starts: the
    pieces add up to billable_hours(window) (rounding each piece up on its own would bill a 09:00–12:00 window cut at
    11:50 as 3 + 1 hours). A piece no started hour begins in is dropped."""
    total = billable_hours(starts_at, ends_at)

    def started_before(instant: datetime) -> int:  # how many of the window's hours start before `instant`
        return min(total, max(0, math.ceil((instant - starts_at) / timedelta(hours=1))))

    result = []
    for index, (plan, start, end) in enumerate(spans):
        upper = total if index == len(spans) - 1 else started_before(end)
        hours = upper - started_before(start)
        if hours > 0:
            result.append((plan, hours))
    return result


_UNITS = (("week", "weeks"), ("day", "days"), ("hour", "hours"))


def quote_lines(
    plans: Sequence[Plan],
    starts_at: datetime,
    ends_at: datetime,
    *,
    extras: Sequence[Extra] = (),
    one_way: bool = False,
) -> tuple[list[Line], str]:
    """The lines of a quote for the window and their currency. Raises NoPlan, MixedCurrencies."""
    lines: list[Line] = []
    spans = pieces(plans, starts_at, ends_at)
    currencies = {plan.currency for plan, _, _ in spans} | {extra.currency for extra in extras}
    if len(currencies) != 1:
        raise MixedCurrencies(", ".join(sorted(currencies)))
    for plan, hours in hours_by_plan(spans, starts_at, ends_at):
        combination = cheapest(hours, plan.rates)
        for count, (unit, units), unit_price in zip(
            combination, _UNITS, (plan.rates.week, plan.rates.day, plan.rates.hour), strict=True
        ):
            if count:
                lines.append(
                    Line(
                        kind="rental",
                        description=f"{count} {unit if count == 1 else units} of {plan.label}",
                        quantity=count,
                        unit_price=unit_price,
                        amount=count * unit_price,
                        rule=f"{plan.rule}:{unit}",
                    )
                )
    days = math.ceil(billable_hours(starts_at, ends_at) / HOURS_PER_DAY)
    for extra in extras:
        quantity = extra.quantity * (days if extra.per_day else 1)
        per = f" × {days} {'day' if days == 1 else 'days'}" if extra.per_day else ""
        lines.append(
            Line(
                kind="extra",
                description=f"{extra.name} × {extra.quantity}{per}",
                quantity=quantity,
                unit_price=extra.price,
                amount=quantity * extra.price,
                rule=extra.rule,
            )
        )
    first = spans[0][0]
    if one_way and first.one_way_fee:
        lines.append(
            Line(
                kind="one_way",
                description="Return at another branch",
                quantity=1,
                unit_price=first.one_way_fee,
                amount=first.one_way_fee,
                rule=f"{first.rule}:one_way",
            )
        )
    return lines, currencies.pop()


@dataclass(frozen=True)
class Fees:
    """What a return, a cancellation or a no-show costs beyond the booked window: from the plan in force at the
    pick-up (prices, allowance, fuel) and the settings (grace, cancellation and no-show policy)."""

    rule: str  # the plan's: "rate_plan:<id>"
    rates: Rates
    km_per_day: int | None  # None: unlimited
    per_extra_km: int | None
    fuel_per_eighth: int
    one_way_fee: int
    late_grace: timedelta


def late_line(fees: Fees, *, due: datetime, returned: datetime) -> Line | None:
    """Within the grace, nothing; past it, each started hour since `due` at the hour price, up to a day's price;
    past a day, each started day at the day price."""
    late = returned - due
    if late <= fees.late_grace:
        return None
    hours = math.ceil(late / timedelta(hours=1))
    if hours <= HOURS_PER_DAY and hours * fees.rates.hour <= fees.rates.day:
        return Line(
            "late_return",
            f"{hours} {'hour' if hours == 1 else 'hours'} late",
            hours,
            fees.rates.hour,
            hours * fees.rates.hour,
            f"{fees.rule}:late_hour",
        )
    days = math.ceil(late / timedelta(days=1))
    return Line(
        "late_return",
        f"{days} {'day' if days == 1 else 'days'} late",
        days,
        fees.rates.day,
        days * fees.rates.day,
        f"{fees.rule}:late_day",
    )


def mileage_line(fees: Fees, *, km_driven: int, booked_days: int) -> Line | None:
    if fees.km_per_day is None or not fees.per_extra_km:
        return None
    over = km_driven - fees.km_per_day * booked_days
    if over <= 0:
        return None
    return Line(
        "mileage",
        f"{over} km over the {fees.km_per_day * booked_days} km included",
        over,
        fees.per_extra_km,
        over * fees.per_extra_km,
        f"{fees.rule}:per_extra_km",
    )


def fuel_line(fees: Fees, *, out_eighths: int, in_eighths: int) -> Line | None:
    missing = out_eighths - in_eighths
    if missing <= 0 or not fees.fuel_per_eighth:
        return None
    return Line(
        "fuel",
        f"{missing}/8 tank missing",
        missing,
        fees.fuel_per_eighth,
        missing * fees.fuel_per_eighth,
        f"{fees.rule}:fuel_per_eighth",
    )


def kept_share(price: int, percent: int) -> int:
    """What a cancellation or no-show keeps of the price, rounded down to the minor unit."""
    return price * percent // 100
