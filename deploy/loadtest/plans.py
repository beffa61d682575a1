"""Query plans of the two reads that grow with the holds: availability for a window, and a reserve by class's
candidate query (the free cars of the class at the branch, best fit first, `FOR UPDATE SKIP LOCKED`).

usage: plans.py WORK_DIR [LABEL]   (inventory's database from the environment, as the service reads it; bench.sh
runs it after each hold count it loads, labelled with that count)

The SQL is the ORM's own, captured as the selectors and the service run it (`selectors.availability`, and
`services.reservation_create` by class inside a transaction that is rolled back), then given to
`EXPLAIN (ANALYZE, BUFFERS)` for the same windows at every hold count: the same random branches, classes and
windows over the next year (fixed seed), each explained a few times, its fastest run kept (the machine is
shared). Each query is explained twice: as the planner chooses, and with hash and merge joins off — the
nested loop that probes the exclusion constraint's GiST index once per car, the plan whose cost should not grow
with the holds (with few holds the planner rightly prefers hashing them all). Writes plans-<label>.txt (the first
window's plans in full, then one line per window) and plans-<label>.json (execution times, the indexes and
sequential scans each plan used on the holds' table).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import sys
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "inventory_project"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from fleet import errors, selectors, services  # noqa: E402
from fleet.models import Location, Reservation, VehicleClass  # noqa: E402

WINDOWS = int(os.environ.get("DN_PLAN_WINDOWS", "20"))
RUNS = 3  # per window; the fastest is kept
HOLDS_TABLE = Reservation._meta.db_table
GIST_INDEX = "reservation_no_overlap"  # the exclusion constraint's index


def windows(seed: int = 20261202) -> list[tuple[Location, VehicleClass, datetime, datetime]]:
    """Branch, class and a 1–7 day window over the next year, open at both ends; the same list every call."""
    rng = random.Random(seed)
    branches = list(Location.objects.order_by("code"))
    classes = list(VehicleClass.objects.order_by("code"))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    found = []
    while len(found) < WINDOWS:
        branch, vehicle_class = rng.choice(branches), rng.choice(classes)
        local = today.astimezone(zoneinfo.ZoneInfo(branch.time_zone)).replace(hour=rng.randint(9, 11))
        starts_at = local + timedelta(days=rng.randint(1, 358))
        ends_at = starts_at + timedelta(days=rng.randint(1, 7))
        if branch.is_open_at(starts_at) and branch.is_open_at(ends_at):
            found.append((branch, vehicle_class, starts_at.astimezone(UTC), ends_at.astimezone(UTC)))
    return found


def availability_sql(branch: Location, starts_at: datetime, ends_at: datetime) -> str:
    with CaptureQueriesContext(connection) as captured:
        selectors.availability(location=branch.code, starts_at=starts_at, ends_at=ends_at)
    return next(q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"] and HOLDS_TABLE in q["sql"])


def candidates_sql(branch: Location, vehicle_class: VehicleClass, starts_at: datetime, ends_at: datetime) -> str:
    """The candidate query of a reserve by class, as the service sends it; nothing it does is kept."""
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        with contextlib.suppress(errors.ClassUnavailable):
            services.reservation_create(
                reservation_id=uuid.uuid4(),
                starts_at=starts_at,
                ends_at=ends_at,
                vehicle_class=vehicle_class.code,
                location=branch.code,
            )
        transaction.set_rollback(True)
    return next(q["sql"] for q in captured.captured_queries if "SKIP LOCKED" in q["sql"])


# The plan as chosen, and the per-car nested loop over the GiST index.
VARIANTS = {"planner": [], "gist_loop": ["SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"]}


def explain(sql: str, settings: list[str], *, text: bool = False) -> tuple[dict, str]:
    """The fastest of RUNS `EXPLAIN (ANALYZE, BUFFERS)` runs (JSON), and its text form when asked; rolled back
    (the candidate query locks the rows it returns)."""
    best: dict = {}
    rendered = ""
    for run in range(RUNS + text):
        with transaction.atomic(), connection.cursor() as cursor:
            for setting in settings:
                cursor.execute(setting)
            if run == RUNS:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                rendered = "\n".join(row[0] for row in cursor.fetchall())
            else:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
                plan = cursor.fetchone()[0][0]
                if not best or plan["Execution Time"] < best["Execution Time"]:
                    best = plan
            transaction.set_rollback(True)
    return best, rendered


def scans_of_holds(node: dict, found: list[str]) -> list[str]:
    """Every scan of the holds' table in the plan: 'Index Scan reservation_no_overlap', 'Seq Scan', …"""
    if node.get("Relation Name") == HOLDS_TABLE:
        found.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
    for child in node.get("Plans", []):
        scans_of_holds(child, found)
    return found


def main(work: Path, label: str | None = None) -> dict:
    holds = Reservation.objects.exclude(state="released").count()
    queries: dict[str, list[dict]] = {f"{q} {v}": [] for q in ("availability", "reserve_class") for v in VARIANTS}
    out = [f"# {holds} holds not released; {WINDOWS} windows, fastest of {RUNS} runs each\n"]
    for n, (branch, vehicle_class, starts_at, ends_at) in enumerate(windows()):
        window = f"{branch.code} {vehicle_class.code} {starts_at:%Y-%m-%d %H:%M}Z → {ends_at:%Y-%m-%d %H:%M}Z"
        for query, sql in (
            ("availability", availability_sql(branch, starts_at, ends_at)),
            ("reserve_class", candidates_sql(branch, vehicle_class, starts_at, ends_at)),
        ):
            if n == 0:
                out.append(f"## {query}, {window}\n\n{sql}\n")
            for variant, settings in VARIANTS.items():
                plan, rendered = explain(sql, settings, text=n == 0)
                queries[f"{query} {variant}"].append(
                    {"window": window, "execution_ms": plan["Execution Time"], "planning_ms": plan["Planning Time"]}
                    | {"holds_scans": sorted(set(scans_of_holds(plan["Plan"], [])))}
                )
                if rendered:
                    out.append(f"### {variant}: {'; '.join(settings) or 'as the planner chooses'}\n\n{rendered}\n")
    for name, runs in queries.items():
        out.append(f"## {name}: each window")
        out.extend(
            f"{run['execution_ms']:8.2f} ms  (planning {run['planning_ms']:.2f} ms)  {run['window']}  "
            f"{', '.join(run['holds_scans'])}"
            for run in runs
        )
        out.append("")
    summary: dict = {"holds": holds}
    for name, runs in queries.items():
        times = sorted(run["execution_ms"] for run in runs)
        scans = sorted({scan for run in runs for scan in run["holds_scans"]})
        summary[name] = {
            "windows": len(runs),
            "execution_ms_p50": statistics.median(times),
            "execution_ms_max": times[-1],
            "planning_ms_p50": statistics.median(run["planning_ms"] for run in runs),
            "holds_scans": scans,
            "gist_used": any(GIST_INDEX in scan for scan in scans),
            "seq_scan_of_holds": any(scan.startswith("Seq Scan") for scan in scans),
        }
    label = label or str(holds)
    (work / f"plans-{label}.txt").write_text("\n".join(out))
    (work / f"plans-{label}.json").write_text(json.dumps(summary | {"runs": queries}, indent=2))
    return summary


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)))
