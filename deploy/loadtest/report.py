"""Summarise one bench run: a line per scenario from the Locust run's tally (statuses, exact latencies) and CPU,
the query plans at each hold count (plans.py), and the audit.

usage: report.py WORK_DIR DURATION USERS   (WORK_DIR holds <scenario>.status.json, <scenario>.time, audit.json,
plans-<holds>.json)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCENARIOS = ["ceiling", "rent_return", "contention", "browse", "availability", "reserve_class", "booking"]
TARGETS = {
    "rent_return_p99_ms": 150,
    "browse_p99_ms": 50,
    "start_ratio": 0.25,
    "availability_p99_ms": 50,
    "reserve_class_p99_ms": 100,
}
# Answers that are a scenario's expected outcome besides success (a 409 is tallied with its problem code).
EXPECTED = {
    "contention": {"409 car_unavailable"},
    "reserve_class": {"409 class_unavailable"},
    "booking": {"409 class_unavailable"},
}
# The request that starts a rental, for starts/s and CPU per start: a walk-in's start, a booking's pick-up.
STARTS = {"booking": ("POST /rentals/{id}/pick-up/", "200")}
WALK_IN_START = ("POST /rentals/", "201")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def scenario_line(work: Path, name: str, duration: float) -> dict[str, object]:
    tally = json.loads((work / f"{name}.status.json").read_text())
    times = sorted(tally["times_ms"])
    requests = len(times)
    statuses: dict[str, int] = {}
    starts = 0
    for key, count in tally["statuses"].items():
        endpoint, code = key.rsplit("|", 1)
        if endpoint == "setup customer":
            continue
        statuses[code] = statuses.get(code, 0) + count
        if (endpoint, code) == STARTS.get(name, WALK_IN_START):
            starts += count
    expected = {"200", "201", "204"} | EXPECTED.get(name, set())
    errors = {code: n for code, n in sorted(statuses.items()) if code not in expected}
    user, system, elapsed = (float(x) for x in (work / f"{name}.time").read_text().split()[:3])
    server_cpu: dict[str, float] = {}
    if (work / f"{name}.cpu-after.json").exists():
        before = json.loads((work / f"{name}.cpu-before.json").read_text())
        after = json.loads((work / f"{name}.cpu-after.json").read_text())
        server_cpu = {part: after[part] - before.get(part, 0.0) for part in after}  # CPU seconds in the scenario
    return {
        "scenario": name,
        "requests": requests,
        "rps": requests / duration,
        "rental_starts_per_s": starts / duration,
        "completed_rentals_per_s": tally.get("completed_rentals", 0) / duration,
        "p50": _percentile(times, 0.50),
        "p95": _percentile(times, 0.95),
        "p99": _percentile(times, 0.99),
        "statuses": dict(sorted(statuses.items())),
        "errors": errors,
        "generator_cpu_percent": 100 * (user + system) / elapsed if elapsed else 0.0,
        "server_cpu_percent": {part: 100 * seconds / elapsed for part, seconds in server_cpu.items()}
        if elapsed
        else {},
        # CPU milliseconds of every server process per rental started (start, end, reserve, release, relay, SQL)
        "server_cpu_ms_per_start": {part: 1000 * seconds / starts for part, seconds in server_cpu.items()}
        if starts
        else {},
    }


def plan_lines(work: Path) -> dict[str, dict[str, object]]:
    """One line per query and hold count from plans-<holds>.json: median and slowest execution over the windows,
    and whether the exclusion constraint's GiST index or a sequential scan read the holds."""
    plans = {
        path.stem.removeprefix("plans-"): json.loads(path.read_text())
        for path in sorted(work.glob("plans-*.json"), key=lambda p: (len(p.stem), p.stem))
    }
    for label, plan in plans.items():
        for query, found in plan.items():
            if query == "runs" or not isinstance(found, dict):
                continue
            print(
                f"plan {label:>7} holds  {query:<26} p50 {found['execution_ms_p50']:6.2f} ms  "
                f"max {found['execution_ms_max']:6.2f} ms  GiST {'yes' if found['gist_used'] else 'NO '}  "
                f"seq scan of holds {'YES' if found['seq_scan_of_holds'] else 'no'}"
            )
    return {label: {k: v for k, v in plan.items() if k != "runs"} for label, plan in plans.items()}


def main(work: Path, duration: float, users: int) -> int:
    lines = {name: scenario_line(work, name, duration) for name in SCENARIOS if (work / f"{name}.status.json").exists()}
    audit = json.loads((work / "audit.json").read_text())
    ceiling = lines["ceiling"]["rps"] if "ceiling" in lines else 0.0
    print(f"\nDriveNow bench — {users} concurrent clients, {duration:.0f} s per scenario\n")
    for line in lines.values():
        if not line["requests"]:
            print(f"{line['scenario']:<12} NO REQUESTS: the clients failed to start; see {work}/{line['scenario']}.log")
            continue
        print(
            f"{line['scenario']:<12} {line['rps']:8.1f} req/s  starts {line['rental_starts_per_s']:6.1f}/s  "
            f"completed {line['completed_rentals_per_s']:6.1f}/s  "
            f"p50 {line['p50']:5.0f} ms  p95 {line['p95']:5.0f} ms  "
            f"p99 {line['p99']:5.0f} ms  errors {line['errors'] or 0}  statuses {line['statuses']}  "
            f"load generator CPU {line['generator_cpu_percent']:.0f}%"
        )
        if line["server_cpu_percent"]:
            shares = "  ".join(f"{part} {pct:.0f}%" for part, pct in line["server_cpu_percent"].items())
            per_start = "  ".join(f"{part} {ms:.1f}" for part, ms in line["server_cpu_ms_per_start"].items())
            print(
                f"{'':<12} server CPU (of {100 * (os.cpu_count() or 1)}%): {shares}"
                + (f"; CPU ms per start: {per_start}" if per_start else "")
            )
    starts = lines.get("rent_return", {}).get("rental_starts_per_s", 0.0)
    ratio = starts / ceiling if ceiling else 0.0
    print(
        f"\nceiling      {ceiling:8.1f} req/s on /health/live; rental starts/s ÷ ceiling = {ratio:.1%}"
        f" (target ≥ {TARGETS['start_ratio']:.0%})"
    )
    ratios = {name: line["rps"] / ceiling for name, line in lines.items() if ceiling and name != "ceiling"}
    if ratios:
        print("÷ ceiling    " + "  ".join(f"{name} {share:.1%}" for name, share in ratios.items()) + " (requests/s)")
    plans = plan_lines(work)
    print(
        f"audit        double bookings {audit['double_bookings']} (must be 0), cars held without a rental "
        f"{audit['held_without_active_rental']} (must be 0; {audit.get('bench_holds_active', 0)} bench holds "
        f"left out), rentals without a hold {audit['active_rental_without_hold']}, outbox drained in "
        f"{audit['outbox_drain_seconds']} s, {audit['rentals_in_booking']} rentals"
    )
    lag = audit.get("release_lag_seconds", {})
    print(
        f"relay        a returned car freed in inventory after p50 {lag.get('p50', 0):.3f} s,"
        f" p99 {lag.get('p99', 0):.3f} s,"
        f" max {lag.get('max', 0):.3f} s (outbox row → delivered)"
    )
    checks = {
        "rent/return p99 < 150 ms": lines.get("rent_return", {}).get("p99", 1e9) < TARGETS["rent_return_p99_ms"],
        "rent/return 0 errors": not lines.get("rent_return", {}).get("errors", {"missing": 1}),
        "browse p99 < 50 ms": lines.get("browse", {}).get("p99", 1e9) < TARGETS["browse_p99_ms"],
        "availability p99 < 50 ms": lines.get("availability", {}).get("p99", 1e9) < TARGETS["availability_p99_ms"],
        "reserve by class p99 < 100 ms": lines.get("reserve_class", {}).get("p99", 1e9)
        < TARGETS["reserve_class_p99_ms"],
        "booking 0 errors": not lines.get("booking", {}).get("errors", {"missing": 1}),
        "starts ≥ 25% of ceiling": ratio >= TARGETS["start_ratio"],
        "0 double bookings": audit["double_bookings"] == 0,
        "0 cars held without rental": audit["held_without_active_rental"] == 0,
        "every scenario ran": all(line["requests"] for line in lines.values()),
    }
    print("targets      " + "  ".join(f"{'✔' if ok else '✘'} {name}" for name, ok in checks.items()))
    (work / "summary.json").write_text(
        json.dumps(
            {
                "scenarios": lines,
                "ceiling_rps": ceiling,
                "ratio": ratio,
                "ratios": ratios,
                "plans": plans,
                "audit": audit,
                "checks": checks,
            },
            indent=2,
        )
    )
    essential = ("0 double bookings", "0 cars held without rental", "every scenario ran")
    return 0 if all(checks[name] for name in essential) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
