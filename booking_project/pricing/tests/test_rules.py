"""The pricing rules, table by table, and hypothesis: the combination chosen is never dearer than any other."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import rules
from pricing.currencies import shown

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
RATES = rules.Rates(hour=1_000, day=6_000, week=30_000)  # a week costs 5 days


def plan(valid_from=T0 - timedelta(days=365), valid_until=None, rates=RATES, *, rule="rate_plan:a", **kwargs):
    return rules.Plan(
        rule=rule,
        label=kwargs.pop("label", "COMPACT"),
        rates=rates,
        currency=kwargs.pop("currency", "EUR"),
        valid_from=valid_from,
        valid_until=valid_until,
        for_branch=kwargs.pop("for_branch", False),
        one_way_fee=kwargs.pop("one_way_fee", 0),
    )


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(1, 1), (59, 1), (60, 1), (61, 2), (24 * 60, 24), (24 * 60 + 1, 25)],
)
def test_a_window_is_billed_by_the_started_hour(minutes, hours):
    assert rules.billable_hours(T0, T0 + timedelta(minutes=minutes)) == hours


@pytest.mark.parametrize(
    ("hours", "rates", "combination", "why"),
    [
        (3, RATES, (0, 0, 3), "three hours are three hours"),
        (6, RATES, (0, 1, 0), "six hours cost a day: one unit, not six"),
        (7, RATES, (0, 1, 0), "seven hours cost more than a day"),
        (25, RATES, (0, 1, 1), "a day and an hour"),
        (30, RATES, (0, 2, 0), "a day and six hours cost two days: two units, not seven"),
        (31, RATES, (0, 2, 0), "two days are cheaper than a day and seven hours"),
        (5 * 24, RATES, (1, 0, 0), "five days cost a week: one unit, not five"),
        (6 * 24, RATES, (1, 0, 0), "six days cost more than a week"),
        (8 * 24, RATES, (1, 1, 0), "eight days are a week and a day, not three 3-day lines"),
        (13 * 24, RATES, (2, 0, 0), "thirteen days: two weeks are cheaper than a week and six days"),
        (8 * 24, rules.Rates(hour=1_000, day=6_000, week=50_000), (0, 8, 0), "a week dearer than 8 days"),
        (9 * 24, rules.Rates(hour=100, day=6_000, week=50_000), (0, 0, 216), "hours cheaper than days"),
        (10 * 24, rules.Rates(hour=1_000, day=4_000, week=50_000), (0, 10, 0), "days cheaper than weeks"),
    ],
)
def test_the_cheapest_combination_of_weeks_days_and_hours(hours, rates, combination, why):
    assert rules.cheapest(hours, rates) == combination, why


def _every_combination(hours: int):
    """Every (weeks, days, hours) worth considering for `hours`: none bigger than covers the window alone."""
    for weeks, days in itertools.product(range(math.ceil(hours / 168) + 1), range(math.ceil(hours / 24) + 1)):
        for extra_hours in range(hours + 1):
            if weeks * 168 + days * 24 + extra_hours >= hours:
                yield weeks, days, extra_hours
                break  # more hours only cost more


@settings(max_examples=150, deadline=None)
@given(
    hours=st.integers(min_value=1, max_value=400),
    hour=st.integers(min_value=1, max_value=5_000),
    day=st.integers(min_value=1, max_value=50_000),
    week=st.integers(min_value=1, max_value=300_000),
)
def test_the_chosen_combination_covers_the_window_and_is_never_dearer_than_any_other(hours, hour, day, week):
    rates = rules.Rates(hour=hour, day=day, week=week)
    chosen = rules.cheapest(hours, rates)
    weeks, days, left = chosen
    assert weeks * 168 + days * 24 + left >= hours
    assert rules.price_of(chosen, rates) == min(rules.price_of(c, rates) for c in _every_combination(hours))


def test_a_long_window_is_priced_at_once():
    # a year: ~160 sums, whatever the prices
    assert rules.cheapest(366 * 24, rules.Rates(hour=1, day=1_000_000, week=10_000_000)) == (0, 0, 366 * 24)


def test_every_line_names_its_rule_and_the_total_is_their_sum():
    lines, currency = rules.quote_lines([plan()], T0, T0 + timedelta(days=8, hours=2))
    assert currency == "EUR"
    assert [(line.kind, line.quantity, line.unit_price, line.amount, line.rule) for line in lines] == [
        ("rental", 1, 30_000, 30_000, "rate_plan:a:week"),
        ("rental", 1, 6_000, 6_000, "rate_plan:a:day"),
        ("rental", 2, 1_000, 2_000, "rate_plan:a:hour"),
    ]
    assert [line.description for line in lines] == ["1 week of COMPACT", "1 day of COMPACT", "2 hours of COMPACT"]


def test_a_window_crossing_two_plans_is_priced_piecewise():
    change = T0 + timedelta(days=2)
    winter = plan(valid_until=change, rule="rate_plan:winter")
    spring = plan(valid_from=change, rates=rules.Rates(hour=2_000, day=9_000, week=40_000), rule="rate_plan:spring")
    lines, _ = rules.quote_lines([spring, winter], T0, T0 + timedelta(days=3))
    assert [(line.rule, line.quantity, line.amount) for line in lines] == [
        ("rate_plan:winter:day", 2, 12_000),
        ("rate_plan:spring:day", 1, 9_000),
    ]


def test_a_plan_for_the_branch_wins_over_the_plan_for_every_branch_where_both_are_in_force():
    everywhere = plan(rule="rate_plan:all")
    airport = plan(
        valid_from=T0 + timedelta(days=1),
        valid_until=T0 + timedelta(days=2),
        rates=rules.Rates(hour=1_500, day=8_000, week=45_000),
        rule="rate_plan:airport",
        for_branch=True,
    )
    lines, _ = rules.quote_lines([everywhere, airport], T0, T0 + timedelta(days=3))
    assert [line.rule for line in lines] == ["rate_plan:all:day", "rate_plan:airport:day", "rate_plan:all:day"]


@pytest.mark.parametrize(
    "plans",
    [
        [],
        [plan(valid_from=T0 + timedelta(hours=1))],  # starts after the pick-up
        [plan(valid_until=T0 + timedelta(days=1)), plan(valid_from=T0 + timedelta(days=2), rule="rate_plan:b")],  # gap
    ],
)
def test_a_window_any_moment_of_which_no_plan_prices_is_refused(plans):
    with pytest.raises(rules.NoPlan):
        rules.quote_lines(plans, T0, T0 + timedelta(days=3))


def test_one_quote_is_in_one_currency():
    change = T0 + timedelta(days=1)
    with pytest.raises(rules.MixedCurrencies):
        rules.quote_lines(
            [plan(valid_until=change), plan(valid_from=change, currency="GBP", rule="b")], T0, T0 + timedelta(days=2)
        )
    seat = rules.Extra(rule="extra:SEAT", name="Child seat", price=500, currency="USD", per_day=True, quantity=1)
    with pytest.raises(rules.MixedCurrencies):
        rules.quote_lines([plan()], T0, T0 + timedelta(days=2), extras=[seat])


def test_extras_by_the_day_or_by_the_rental_and_the_one_way_fee():
    seat = rules.Extra(rule="extra:SEAT", name="Child seat", price=500, currency="EUR", per_day=True, quantity=2)
    gps = rules.Extra(rule="extra:GPS", name="GPS", price=1_500, currency="EUR", per_day=False, quantity=1)
    lines, _ = rules.quote_lines(
        [plan(one_way_fee=4_000)], T0, T0 + timedelta(days=2, hours=1), extras=[seat, gps], one_way=True
    )
    priced = [(line.kind, line.quantity, line.unit_price, line.amount, line.rule) for line in lines]
    assert priced[-3:] == [
        ("extra", 6, 500, 3_000, "extra:SEAT"),  # 2 seats × 3 started days
        ("extra", 1, 1_500, 1_500, "extra:GPS"),
        ("one_way", 1, 4_000, 4_000, "rate_plan:a:one_way"),
    ]
    same_branch, _ = rules.quote_lines([plan(one_way_fee=4_000)], T0, T0 + timedelta(days=1))
    assert all(line.kind != "one_way" for line in same_branch)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(12_345, "EUR", "123.45 EUR"), (5, "EUR", "0.05 EUR"), (500, "JPY", "500 JPY"), (1_234, "KWD", "1.234 KWD")],
)
def test_amounts_are_minor_units_shown_with_their_currencys_digits(amount, currency, text):
    assert shown(amount, currency) == text


FEES = rules.Fees(
    rule="rate_plan:a",
    rates=RATES,
    km_per_day=200,
    per_extra_km=30,
    fuel_per_eighth=1_200,
    one_way_fee=4_000,
    late_grace=timedelta(minutes=29),
)


@pytest.mark.parametrize(
    ("late", "line"),
    [
        (timedelta(minutes=29), None),  # within the grace
        (timedelta(minutes=30), (1, 1_000, "rate_plan:a:late_hour")),  # past it: from the due time
        (timedelta(hours=5), (5, 1_000, "rate_plan:a:late_hour")),
        (timedelta(hours=6, minutes=1), (1, 6_000, "rate_plan:a:late_day")),  # 7 hours would cost more than a day
        (timedelta(hours=23), (1, 6_000, "rate_plan:a:late_day")),
        (timedelta(hours=25), (2, 6_000, "rate_plan:a:late_day")),  # past a day: per started day
        (timedelta(days=3), (3, 6_000, "rate_plan:a:late_day")),
    ],
)
def test_a_late_return_is_billed_by_the_hour_up_to_a_day_then_by_the_day(late, line):
    billed = rules.late_line(FEES, due=T0, returned=T0 + late)
    assert (billed and (billed.quantity, billed.unit_price, billed.rule)) == line
    assert billed is None or billed.amount == billed.quantity * billed.unit_price


@pytest.mark.parametrize(("km", "days", "over"), [(400, 2, None), (401, 2, 1), (1_000, 3, 400), (0, 1, None)])
def test_kilometres_over_the_allowance_are_billed(km, days, over):
    billed = rules.mileage_line(FEES, km_driven=km, booked_days=days)
    assert (billed and billed.quantity) == over
    assert billed is None or billed.amount == over * 30


def test_unlimited_kilometres_and_a_full_tank_cost_nothing_more():
    unlimited = rules.Fees(**{**FEES.__dict__, "km_per_day": None})
    assert rules.mileage_line(unlimited, km_driven=10_000, booked_days=1) is None
    assert rules.fuel_line(FEES, out_eighths=8, in_eighths=8) is None
    assert rules.fuel_line(FEES, out_eighths=6, in_eighths=8) is None  # more back than out: no credit
    missing = rules.fuel_line(FEES, out_eighths=8, in_eighths=5)
    assert missing is not None and (missing.quantity, missing.amount) == (3, 3_600)


@pytest.mark.parametrize(("price", "percent", "kept"), [(10_001, 50, 5_000), (999, 0, 0), (12_345, 100, 12_345)])
def test_a_cancellation_or_no_show_keeps_its_share_rounded_down(price, percent, kept):
    assert rules.kept_share(price, percent) == kept


@pytest.mark.parametrize(
    ("change", "hours"),
    [
        (T0 + timedelta(hours=2, minutes=50), [(("a",), 3), (("b",), 0)]),  # the 3 hours start before 11:50
        (T0 + timedelta(hours=1, minutes=30), [(("a",), 2), (("b",), 1)]),
        (T0 + timedelta(hours=1), [(("a",), 1), (("b",), 2)]),
    ],
)
def test_a_window_cut_by_a_plan_change_bills_its_started_hours_once(change, hours):
    cheap = rules.Rates(hour=100, day=10_000, week=50_000)
    first = plan(valid_until=change, rates=cheap, rule="a")
    second = plan(valid_from=change, rates=cheap, rule="b")
    lines, _ = rules.quote_lines([first, second], T0, T0 + timedelta(hours=3))
    billed = {line.rule.split(":")[0]: line.quantity for line in lines}
    assert sum(billed.values()) == 3  # 09:00–12:00 is three started hours, wherever the plans change
    assert [(rule, billed.get(rule[0], 0)) for (rule, _) in hours] == hours


def test_a_day_cut_at_midnight_bills_its_24_started_hours_once():
    midnight = T0.replace(hour=0) + timedelta(days=1)
    start = midnight - timedelta(hours=13, minutes=30)  # 10:30 the day before
    plans = [plan(valid_until=midnight, rule="a"), plan(valid_from=midnight, rule="b")]
    spans = rules.pieces(plans, start, start + timedelta(days=1))
    assert [(p.rule, hours) for p, hours in rules.hours_by_plan(spans, start, start + timedelta(days=1))] == [
        ("a", 14),  # 10:30 … 23:30 start before midnight
        ("b", 10),
    ]
