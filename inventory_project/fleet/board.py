"""The planning board of the inventory admin: a branch's cars × 14 of its local days, each hold and block a bar.

A day is the branch's (its IANA time zone), so the day of a DST change is 23 or 25 hours wide and every bar sits
at its real instants. One statement reads the holds of a whole page of cars (selectors.board_holds)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib.admin import AdminSite
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from . import selectors
from .models import Car, HoldKind, Location, Reservation, ReservationState, VehicleClass

DAYS = 14
CARS_PER_PAGE = 60
# What a start may be: far enough either way for any plan, near enough that every day is a real date everywhere.
FIRST_START, LAST_START = date(1900, 1, 1), date(2100, 12, 31)
TEMPLATE = "admin/fleet/board.html"


@dataclass(frozen=True)
class Span:
    """Where a stretch of time sits on the board, in % of the whole window from its left edge."""

    left: float
    width: float

    @property
    def style(self) -> str:
        return f"left: {self.left:.4f}%; width: {self.width:.4f}%"


@dataclass(frozen=True)
class Day:
    """One column: a local day of the branch, from its midnight to the next (instants, in UTC)."""

    date: date
    starts_at: datetime
    ends_at: datetime
    span: Span
    today: bool

    @property
    def hours(self) -> str:
        """'24', or '23' / '25' on the day of a DST change ('23.5' where a zone moves by half an hour)."""
        return f"{(self.ends_at - self.starts_at) / timedelta(hours=1):g}"


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a branch's day begins. Where a zone skips midnight (a DST change at 00:00), the wall clock's
    first minute of that day: zoneinfo maps the missing 00:00 to the instant of the change."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


class Window:
    """`days` local days of a branch from `start`: the board's columns, and where a stretch of time falls on them.
    Every instant is kept in UTC: Python subtracts two datetimes of one zone by their wall clocks."""

    def __init__(self, start: date, zone: ZoneInfo, *, days: int = DAYS, now: datetime | None = None) -> None:
        self.zone = zone
        self.now = now or timezone.now()
        midnights = [local_midnight(start + timedelta(days=n), zone) for n in range(days + 1)]
        self.starts_at, self.ends_at = midnights[0], midnights[-1]
        today = self.now.astimezone(zone).date()
        self.days = []
        for n, (begins, ends) in enumerate(pairwise(midnights)):
            span = self.span(begins, ends)
            assert span is not None
            self.days.append(Day(start + timedelta(days=n), begins, ends, span, start + timedelta(days=n) == today))

    def span(self, starts_at: datetime, ends_at: datetime | None) -> Span | None:
        """The part of [starts_at, ends_at) inside the window (ends_at None: open-ended), or None if none is."""
        begins = max(starts_at, self.starts_at)
        ends = self.ends_at if ends_at is None else min(ends_at, self.ends_at)
        if ends <= begins:
            return None
        total = self.ends_at - self.starts_at
        return Span(100 * ((begins - self.starts_at) / total), 100 * ((ends - begins) / total))

    @property
    def now_left(self) -> str | None:
        """Where now is, as a CSS left (None when the window is not around now)."""
        if not self.starts_at <= self.now < self.ends_at:
            return None
        return f"{100 * ((self.now - self.starts_at) / (self.ends_at - self.starts_at)):.4f}%"

    def local(self, instant: datetime) -> str:
        return instant.astimezone(self.zone).strftime("%a %d %b %Y %H:%M %Z")


@dataclass(frozen=True)
class Bar:
    """A hold or a block on its car's row. `turnaround` is the share of the bar (in %) that is the cleaning
    after a rental; `late`, for an overdue rental, the stretch from when the car was due back until now."""

    hold: Reservation
    css: str
    span: Span
    label: str
    title: str
    turnaround: str | None = None
    late: Span | None = None


@dataclass(frozen=True)
class Row:
    car: Car
    href: str
    bars: list[Bar]


def bar_for(hold: Reservation, window: Window) -> Bar | None:
    """The bar of one hold of selectors.board_holds (annotated `overdue` and `turnaround_minutes`), or None when
    nothing of it falls in the window."""
    overdue = bool(getattr(hold, "overdue", False))
    late = window.span(hold.ends_at, window.now) if overdue else None
    span = window.span(hold.starts_at, hold.busy_until)
    if span is None and late is None:
        return None
    if span is None:  # its window is before this one, and the car is still not back: the late stretch alone
        assert late is not None
        span, late = late, None
    if hold.kind == HoldKind.BLOCK:
        css, label = "bar bar-block", hold.reason or "block"
    elif overdue:
        css, label = "bar bar-overdue", f"overdue · {str(hold.id)[:8]}"
    else:
        css, label = "bar bar-rental", str(hold.id)[:8]
    if hold.state == ReservationState.RELEASED:
        css += " bar-released"
    if hold.starts_at < window.starts_at:
        css += " bar-from-before"
    if hold.busy_until is None or hold.busy_until > window.ends_at:
        css += " bar-goes-on"
    return Bar(
        hold=hold,
        css=css,
        span=span,
        label=label,
        title=_title(hold, window, overdue),
        turnaround=_turnaround_share(hold, window, span),
        late=late,
    )


def _cleaning_starts(hold: Reservation) -> datetime | None:
    """When the turnaround after a rental begins: at the end booked while the hold is on, at the return (its end
    less the class's turnaround) once released; a hold never picked up, a block or an open-ended one has none."""
    if hold.kind != HoldKind.RENTAL or hold.busy_until is None:
        return None
    if hold.state == ReservationState.ACTIVE:
        return hold.ends_at
    minutes = getattr(hold, "turnaround_minutes", None)
    if hold.picked_up_at is None or not minutes:
        return None
    return hold.busy_until - timedelta(minutes=minutes)


def _turnaround_share(hold: Reservation, window: Window, bar: Span) -> str | None:
    cleaning_starts = _cleaning_starts(hold)
    cleaning = None if cleaning_starts is None else window.span(cleaning_starts, hold.busy_until)
    if cleaning is None or bar.width <= 0:
        return None
    return f"{min(100.0, 100 * cleaning.width / bar.width):.4f}%"


def _title(hold: Reservation, window: Window, overdue: bool) -> str:
    """What a hover tells: the id, the kind, the window (in the branch's time), and for a block its reason."""
    if hold.kind == HoldKind.BLOCK:
        lines = [
            f"Block {hold.id}",
            f"Reason: {hold.reason or '(none given)'}",
            f"{window.local(hold.starts_at)} → {window.local(hold.ends_at)}",
        ]
        if hold.state == ReservationState.RELEASED:
            lines.append("Lifted")
        return "\n".join(lines)
    lines = [f"Rental {hold.id}", "Reservation id = booking's rental id: the customer is in booking's rental"]
    if hold.ends_at is None:
        lines.append(f"From {window.local(hold.starts_at)}, open-ended (a walk-in)")
    else:
        lines.append(f"{window.local(hold.starts_at)} → {window.local(hold.ends_at)}")
        minutes = getattr(hold, "turnaround_minutes", None)
        if minutes:
            lines.append(f"then {minutes} min turnaround")
    if hold.picked_up_at is not None:
        lines.append(f"Picked up {window.local(hold.picked_up_at)}")
    if overdue:
        lines.append(f"OVERDUE: due back {window.local(hold.ends_at)}, not returned")
    elif hold.state == ReservationState.RELEASED:
        lines.append(f"Released (car free from {window.local(hold.busy_until)})")
    return "\n".join(lines)


def board_rows(cars: list[Car], window: Window) -> list[Row]:
    """Each car's row with its bars: the holds of every car read in one statement."""
    holds_of: dict[Any, list[Reservation]] = defaultdict(list)
    for hold in selectors.board_holds(
        car_ids=[car.id for car in cars], starts_at=window.starts_at, ends_at=window.ends_at
    ):
        holds_of[hold.car_id].append(hold)
    rows = []
    for car in cars:
        href = reverse("admin:fleet_car_change", args=[quote(car.pk)])
        bars = [bar for hold in holds_of[car.id] if (bar := bar_for(hold, window)) is not None]
        rows.append(Row(car=car, href=href, bars=bars))
    return rows


class BoardQuery(forms.Form):
    """The board's GET parameters: a branch by code (default: the first), a class by code (default: all), the
    first day (default: today at the branch)."""

    location = forms.ChoiceField(required=False, label="Branch")
    vehicle_class = forms.ChoiceField(required=False, label="Class")
    start = forms.DateField(
        required=False,
        label="From",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, data: QueryDict, *, locations: list[Location], classes: list[VehicleClass]) -> None:
        super().__init__(data)
        self.fields["location"].choices = [(branch.code, str(branch)) for branch in locations]  # type: ignore[attr-defined]
        self.fields["vehicle_class"].choices = [  # type: ignore[attr-defined]
            ("", "All classes"),
            *((vehicle_class.code, str(vehicle_class)) for vehicle_class in classes),
        ]

    def clean_start(self) -> date | None:
        start: date | None = self.cleaned_data["start"]
        if start is not None and not FIRST_START <= start <= LAST_START:
            raise forms.ValidationError(f"Choose a day from {FIRST_START} to {LAST_START}.")
        return start


def index_entry(request: HttpRequest, site: AdminSite) -> dict[str, Any] | None:
    """The board's line among the fleet's models on the admin index and sidebar, for whoever may view cars."""
    if not site.get_model_admin(Car).has_view_permission(request):
        return None
    return {
        "name": "Planning board",
        "object_name": "PlanningBoard",
        "admin_url": reverse("admin:fleet_board", current_app=site.name),
        "add_url": None,
        "view_only": True,
        "perms": {"add": False, "change": False, "delete": False, "view": True},
    }


def board_view(request: HttpRequest, *, site: AdminSite) -> HttpResponse:
    """GET ?location=CODE&vehicle_class=CODE&start=YYYY-MM-DD&page=N. Parameters it cannot use are a 400 with
    the form saying why; staff who may not view cars get a 403 (the admin sends anyone else to its login)."""
    if not site.get_model_admin(Car).has_view_permission(request):
        raise PermissionDenied
    locations = list(selectors.location_list())
    classes = list(selectors.vehicle_class_list())
    form = BoardQuery(request.GET, locations=locations, classes=classes)
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": "Planning board",
        "form": form,
        "days": DAYS,
        "per_page": CARS_PER_PAGE,
    }
    if not form.is_valid():
        return TemplateResponse(request, TEMPLATE, context, status=400)
    if not locations:
        context["message"] = "There are no branches yet: add one, and its cars, to plan them here."
        return TemplateResponse(request, TEMPLATE, context)
    code = form.cleaned_data["location"]
    branch = next((b for b in locations if b.code == code), locations[0])
    vehicle_class = next((c for c in classes if c.code == form.cleaned_data["vehicle_class"]), None)
    try:
        zone = ZoneInfo(branch.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        context["message"] = f"The branch {branch.code} has a time zone this server does not know: {branch.time_zone!r}"
        return TemplateResponse(request, TEMPLATE, context, status=400)
    start = form.cleaned_data["start"] or timezone.now().astimezone(zone).date()
    window = Window(start, zone)
    shown = request.GET.copy()  # the form shows what the board is: the defaults filled in
    shown["location"], shown["start"] = branch.code, start.isoformat()
    context["form"] = BoardQuery(shown, locations=locations, classes=classes)
    page = Paginator(selectors.board_cars(location=branch, vehicle_class=vehicle_class), CARS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context.update(
        branch=branch,
        vehicle_class=vehicle_class,
        start=start,
        window=window,
        page=page,
        rows=board_rows(list(page.object_list), window),
        links=_links(request.GET, branch, start, page),
    )
    return TemplateResponse(request, TEMPLATE, context)


def _links(query: QueryDict, branch: Location, start: date, page: Any) -> dict[str, str]:
    """The board's own links: the fortnight before and after, today, and the pages of cars, filters kept."""

    def to(**changes: Any) -> str:
        params = query.copy()
        params["location"] = branch.code
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = str(value)
        return "?" + params.urlencode()

    earlier, later = start - timedelta(days=DAYS), start + timedelta(days=DAYS)
    links = {
        "earlier": to(start=earlier, page=None) if earlier >= FIRST_START else "",
        "later": to(start=later, page=None) if later <= LAST_START else "",
        "today": to(start=None, page=None),
    }
    if page.has_previous():
        links["previous_page"] = to(page=page.previous_page_number())
    if page.has_next():
        links["next_page"] = to(page=page.next_page_number())
    return links
