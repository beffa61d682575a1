"""Contract fuzzing: schemathesis generates requests from booking's own OpenAPI document and holds every answer to
it — every check, every phase (stateful included: links inferred from the schema), a fixed seed and a fresh one —
against booking under gunicorn, reserving real cars in a live inventory."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from drivenow_contracts.testing import live_service
from drivenow_contracts.testing.fuzzing import fuzz_examples, fuzz_seeds, problems_of, run_schemathesis
from rentals.tests.support import drop_database

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="module")
def booking(live_inventory, metrics_dir):
    db_name = f"fuzz_booking_{os.getpid()}"
    env = {
        "BOOKING_INVENTORY_URL": live_inventory.url,
        "BOOKING_INVENTORY_TOKEN": live_inventory.service_token,
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    try:
        with live_service(settings.BASE_DIR, db_prefix="BOOKING", db_name=db_name, env=env) as service:
            yield service, service.manage("seed_demo").strip()
    finally:
        drop_database(db_name)


@pytest.mark.parametrize("seed", fuzz_seeds(), ids=["fixed-seed", "random-seed"])
def test_booking_holds_to_its_openapi_contract(booking, live_inventory, seed, tmp_path: Path, capsys):
    service, staff_token = booking
    headers = {"Authorization": f"Token {staff_token}"}
    customers = requests.get(f"{service.url}/api/v1/customers/?status=active", headers=headers, timeout=10).json()
    now = timezone.now()
    run = run_schemathesis(
        service.url,
        workdir=tmp_path,
        seed=seed,
        headers=headers,
        operation_headers={},
        # A webhook is signed over its body with the provider's secret: unsigned, it is 400 bad_signature.
        signed_path_regexes=("/webhooks/",),
        max_examples=fuzz_examples(),
        stateful_steps=10,
        # "In the future" is a rule no schema can state: a start's expected return is moved ahead in every phase.
        future_fields=("expected_return_at",),
        # Real cars and customers for some of the starts, so rentals get made, refused as taken, and ended.
        dictionaries={
            "cars": [str(live_inventory.make_car()) for _ in range(20)],
            "customers": [customer["id"] for customer in customers["results"]],
            # "In the future" is a rule no schema can state: the start request's expected return is always one.
            "returns": [(now + timedelta(days=days)).isoformat() for days in (1, 7, 30, 365, 3650)],
        },
        parameters={
            "body.car_id": ("cars", 0.5),
            "body.customer_id": ("customers", 0.5),
            "body.expected_return_at": ("returns", 1.0),
        },
    )
    with capsys.disabled():
        print(f"\n[figures] fuzz booking: {run.summary()}")
    assert not problems_of(run), "\n".join(problems_of(run)) + "\n" + run.output[-20000:]
    assert run.generated > 300
