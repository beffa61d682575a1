"""Contract fuzzing of a live DriveNow service with schemathesis: its CLI, every check, every phase.

`run_schemathesis` writes a schemathesis.toml (which token each operation uses, which answers count as
accepting valid data), runs `st run` against the service's own /schema and returns the JSON report. This module
is also the run's hooks module (`hooks = "drivenow_contracts.testing.fuzzing"`): it teaches schemathesis to generate
the `plain-text` format the schema uses for free text (see drivenow_contracts.server.fields).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# What the services answer for a request that is valid by the schema but cannot be carried out right now (a
# taken car, an unknown car or customer named in the body: 409/422 by API.md) — not a rejection of the data.
ACCEPTING_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
# What counts as refusing data the schema refuses: schemathesis' own list, plus gunicorn's 414 and 431 for a request
# line or headers too long to read (its negative cases can grow the query string past 4 KiB).
REJECTING_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", "431", "5xx"]
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class FuzzRun:
    seed: int
    report: dict[str, Any]
    output: str
    exit_code: int

    @property
    def generated(self) -> int:
        return int(self.report["test_cases"]["generated"])

    @property
    def stateful(self) -> str:
        """The stateful phase's own lines: how many scenarios, and how many links it inferred and followed."""
        scenarios = re.search(r"Scenarios:\s+(\d+)", self.output)
        links = re.search(r"API Links:\s+(.+)", self.output)
        return f"{scenarios.group(1) if scenarios else 0} scenarios, links {links.group(1).strip() if links else '-'}"

    def summary(self) -> str:
        phases = {name: self.report["phases"][name]["status"] for name in PHASES}
        return (
            f"seed={self.seed} cases={self.generated} failures={len(self.report['failures'])} "
            f"errors={len(self.report['errors'])} phases={phases} stateful: {self.stateful}"
        )


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(
    path: Path,
    *,
    headers: dict[str, str],
    operation_headers: dict[str, dict[str, str]],
    max_examples: int,
    stateful_steps: int,
    dictionaries: dict[str, list[str]] | None = None,
    parameters: dict[str, tuple[str, float]] | None = None,
    signed_path_regexes: tuple[str, ...] = (),
) -> None:
    """schemathesis.toml: default headers, per-path-regex headers, accepting statuses, all phases; `parameters`
    binds a parameter (`body.car_id`) to a dictionary of known values, used with the given probability.
    `signed_path_regexes`: operations whose requests carry a signature over their body (a payment provider's
    webhook) that no generator can make: there 400 `bad_signature` is the answer to schema-valid data too."""

    def table(values: dict[str, str]) -> str:
        return "{ " + ", ".join(f"{_toml_string(k)} = {_toml_string(v)}" for k, v in values.items()) + " }"

    lines = [
        'hooks = "drivenow_contracts.testing.fuzzing"',
        f"headers = {table(headers)}",
        "[generation]",
        f"max-examples = {max_examples}",
        'database = "none"',
        "[checks]",
        "enabled = true",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(ACCEPTING_STATUSES)}",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(REJECTING_STATUSES)}",
        "[phases.examples]",
        "fill-missing = true",
        "[phases.stateful]",
        f"max-steps = {stateful_steps}",
        "[phases.stateful.inference]",
        'algorithms = ["location-headers", "dependency-analysis"]',
    ]
    for name, values in (dictionaries or {}).items():  # real ids, so some requests reach the core logic
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    if parameters:
        lines.append("[parameters]")
        lines += [
            f"{_toml_string(key)} = {{ dictionary = {_toml_string(name)}, probability = {probability} }}"
            for key, (name, probability) in parameters.items()
        ]
    for regex, extra_headers in operation_headers.items():
        lines += ["[[operations]]", f"include-path-regex = {_toml_string(regex)}", f"headers = {table(extra_headers)}"]
    for regex in signed_path_regexes:
        lines += [
            "[[operations]]",
            f"include-path-regex = {_toml_string(regex)}",
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps([*ACCEPTING_STATUSES, '400'])}",
        ]
    path.write_text("\n".join(lines) + "\n")


def run_schemathesis(
    base_url: str,
    *,
    workdir: Path,
    seed: int,
    timeout: float = 600,
    future_fields: tuple[str, ...] = (),
    **config: Any,
) -> FuzzRun:
    """One `st run` of every check and phase against base_url/schema; the report is returned, not judged.

    `future_fields`: body fields whose date-time must be in the future, a rule no schema can state. A generated
    case with a valid date-time in the past there has it moved a day ahead before it is sent, in every phase
    (the `returns` dictionary of a test only reaches some of them)."""
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir / "schemathesis.toml", **config)
    report = workdir / f"report-{seed}.json"
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    result = subprocess.run(
        [
            st,
            "--config-file",
            str(workdir / "schemathesis.toml"),
            "run",
            f"{base_url}/schema",
            "--checks",
            "all",
            "--phases",
            ",".join(PHASES),
            "--seed",
            str(seed),
            "--workers",
            "1",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--request-timeout",
            "20",
        ],
        cwd=workdir,
        env={**os.environ, "PYTHONHASHSEED": "0", FUTURE_FIELDS_VARIABLE: ",".join(future_fields)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report (exit {result.returncode}):\n{output[-5000:]}")
    return FuzzRun(seed=seed, report=json.loads(report.read_text()), output=output, exit_code=result.returncode)


FIXED_SEED = 20261122


def fuzz_seeds() -> list[int]:
    """The fixed seed (the same cases every run) and a fresh one (new cases every run; printed, so a failure can be
    replayed with DN_FUZZ_SEED=<seed>)."""
    chosen = os.environ.get("DN_FUZZ_SEED")
    return [FIXED_SEED, int(chosen) if chosen else secrets.randbelow(2**31)]


def fuzz_examples(default: int = 100) -> int:
    """Cases per operation and phase (DN_FUZZ_EXAMPLES); the default keeps the suites' runs short."""
    return int(os.environ.get("DN_FUZZ_EXAMPLES", default))


def problems_of(run: FuzzRun) -> list[str]:
    """Everything wrong with a run: failed checks, errors, phases that did not run, operations not tested."""
    problems = [
        f"{f['code']} {f['title']} ×{f['count']} in {', '.join(f['operations'])}" for f in run.report["failures"]
    ]
    problems += [f"error: {e}" for e in run.report["errors"]]
    problems += [
        f"phase {name}: {run.report['phases'][name]['status']}"
        for name in PHASES
        if run.report["phases"][name]["status"] != "success"
    ]
    operations = run.report["operations"]
    if operations["tested"] != operations["total"] or operations["errored"]:
        problems.append(f"operations: {operations}")
    if run.exit_code != 0 and not problems:
        problems.append(f"schemathesis exited {run.exit_code}")
    return problems


# -- hooks: loaded by schemathesis itself ------------------------------------------------------------------------
_FORBIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn"}
FUTURE_FIELDS_VARIABLE = "DN_FUZZ_FUTURE_FIELDS"


def in_the_past(value: object) -> bool:
    """A valid RFC 3339 date-time (with an offset) that is not a minute ahead of now; anything else is False."""
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment < datetime.now(UTC) + timedelta(minutes=1)


def _register_future_fields() -> None:
    fields = [name for name in os.environ.get(FUTURE_FIELDS_VARIABLE, "").split(",") if name]
    if not fields:
        return
    import schemathesis

    @schemathesis.hook
    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        if isinstance(case.body, dict):
            for name in fields:
                if in_the_past(case.body.get(name)):
                    case.body[name] = (datetime.now(UTC) + timedelta(days=1)).isoformat()


def _register_formats() -> None:
    try:
        import schemathesis
        from hypothesis import strategies as st
    except ImportError:  # imported outside a fuzz run
        return
    from drivenow_contracts.server.fields import PLAIN_TEXT_FORMAT

    printable = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))
    plain_text = (
        st.text(printable, min_size=1, max_size=40)
        .map(lambda text: unicodedata.normalize("NFC", text))
        .filter(lambda text: text.strip() and not any(unicodedata.category(ch) in _FORBIDDEN for ch in text))
    )
    schemathesis.openapi.format(PLAIN_TEXT_FORMAT, plain_text)


_register_formats()
_register_future_fields()
