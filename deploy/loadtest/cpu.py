"""CPU seconds used so far by process trees: where a scenario's CPU went (booking, inventory, relay, PostgreSQL).

usage: cpu.py OUT.json NAME=PID [NAME=PID ...]
Writes {NAME: seconds} — user + system of PID and every live descendant, plus what their exited children used
(Linux /proc). bench.sh takes one snapshot before and one after each scenario; report.py prints the difference.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces and parentheses
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime + cutime + cstime) / TICKS


def tree_seconds(roots: dict[str, int]) -> dict[str, float]:
    stats = {pid: s for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()) if (s := _stat(pid))}
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in stats.items():
        children[ppid].append(pid)
    totals: dict[str, float] = {}
    for name, root in roots.items():
        seconds, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                seconds += stats[pid][1]
                todo.extend(children[pid])
        totals[name] = round(seconds, 2)
    return totals


if __name__ == "__main__":
    roots = {name: int(pid) for name, pid in (arg.split("=", 1) for arg in sys.argv[2:])}
    with open(sys.argv[1], "w") as out:
        json.dump(tree_seconds(roots), out)
