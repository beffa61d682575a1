"""Contract fuzzing: schemathesis generates requests from inventory's own OpenAPI document and holds every answer to
it — every check (no 5xx, status codes / content types / headers / bodies as documented, invalid input refused,
valid input accepted, auth enforced, …) in every phase, stateful included (links inferred from the schema), with a
fixed seed and a fresh one. Staff token for the fleet, the booking service's token for reservations."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from drivenow_contracts.testing import live_service, pg_port
from drivenow_contracts.testing.fuzzing import fuzz_examples, fuzz_seeds, problems_of, run_schemathesis

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="module")
def inventory():
    db_name = f"fuzz_inventory_{os.getpid()}"
    try:
        with live_service(settings.BASE_DIR, db_prefix="INVENTORY", db_name=db_name) as service:
            yield (
                service,
                {
                    "service": service.manage("create_service_account").strip(),
                    "staff": service.manage("seed_demo").strip(),
                },
            )
    finally:
        with psycopg.connect(
            host="127.0.0.1", port=pg_port(), user="drivenow", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@pytest.mark.parametrize("seed", fuzz_seeds(), ids=["fixed-seed", "random-seed"])
def test_inventory_holds_to_its_openapi_contract(inventory, seed, tmp_path: Path, capsys):
    service, tokens = inventory
    run = run_schemathesis(
        service.url,
        workdir=tmp_path,
        seed=seed,
        headers={"Authorization": f"Token {tokens['staff']}"},
        operation_headers={"^/api/v1/reservations": {"Authorization": f"Token {tokens['service']}"}},
        max_examples=fuzz_examples(),
        stateful_steps=10,
    )
    with capsys.disabled():
        print(f"\n[figures] fuzz inventory: {run.summary()}")
    assert not problems_of(run), "\n".join(problems_of(run)) + "\n" + run.output[-20000:]
    assert run.generated > 300
