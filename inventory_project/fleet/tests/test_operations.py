"""What operators rely on: health probes, metrics, docs and schema, production settings, management commands."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Count
from rest_framework.authtoken.models import Token

from drivenow_contracts.testing import hostile
from fleet import services
from fleet.tests.factories import CarFactory

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_health_probes(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_metrics_show_requests_cars_by_status_and_reservation_outcomes(client):
    car = CarFactory()
    CarFactory(status="maintenance")
    services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    text = client.get("/metrics").content.decode()
    assert 'inventory_cars{status="rented"} 1.0' in text
    assert 'inventory_cars{status="maintenance"} 1.0' in text
    assert 'inventory_reservations_total{outcome="created"}' in text
    assert "django_http_requests_total_by_method_total" in text


def test_docs_pages_and_schema_are_served(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
    schema = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/reservations/{id}/release/" in schema.json()["paths"]


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "CarStatusEnum" in (tmp_path / "schema.yaml").read_text()


def _walk(schema):
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _walk(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _walk(item)


def test_a_blank_plate_the_api_accepts_is_one_the_schema_allows(staff, client):
    """Contract fuzzing found PATCH {"plate": ""} answered 200 although the schema's `oneOf` refused "" (it matched
    both the plate pattern and the blank branch). Every blank-allowed string is now `anyOf`."""
    document = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    plate = hostile._resolve(document, document["components"]["schemas"]["PatchedCarUpdateInputRequest"])
    plate = plate["properties"]["plate"]
    car = CarFactory(plate="AB12CD")
    response = staff.patch(f"/api/v1/cars/{car.id}/", {"plate": ""}, format="json")
    assert response.status_code == 200 and response.json()["plate"] is None
    assert hostile.schema_allows(plate, "") and hostile.schema_allows(plate, "AB 12 CD")
    assert not hostile.schema_allows(plate, "!!")
    blank_in_one_of = [s for s in _walk(document) if {"type": "string", "maxLength": 0} in s.get("oneOf", [])]
    assert blank_in_one_of == []


def test_every_query_parameter_the_schema_offers_is_one_the_view_reads(client):
    """Random-seed fuzzing sent GET /cars/{id}/schedule/?ordering=<nonsense> and got 200: the schema offered the
    car list's `ordering` on the schedule, which never read it. A view that is no list offers no list parameters."""
    document = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schedule = document["paths"]["/api/v1/cars/{id}/schedule/"]["get"]
    assert sorted(p["name"] for p in schedule["parameters"] if p["in"] == "query") == ["from", "until"]


def test_browsable_api_renders_html(client):
    response = client.get("/api/v1/cars/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and b"<html" in response.content.lower()


def test_service_account_command_is_idempotent_and_accepts_a_token():
    first = _call("create_service_account")
    assert first == _call("create_service_account")
    chosen = "a" * 40
    assert _call("create_service_account", "--token", chosen) == chosen
    user = Token.objects.get(key=chosen).user
    assert user.has_perm("fleet.manage_reservations") and not user.is_staff and not user.has_usable_password()


def _call(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.parametrize("earlier", [None, "drivenow-staff"])
def test_seed_demo_never_leaves_the_staff_user_a_known_password(monkeypatch, earlier):
    # Compose and run.sh seed this superuser on a server: without a password given it has none usable, and the
    # retired published default of an earlier seed is taken away.
    from django.contrib.auth.models import User

    monkeypatch.delenv("DRIVENOW_STAFF_PASSWORD", raising=False)
    if earlier:
        User.objects.create_user("staff", password=earlier, is_staff=True)
    call_command("seed_demo", token="demo0token0for0tests0abcdef", stdout=open(os.devnull, "w"))  # noqa: SIM115
    staff = User.objects.get(username="staff")
    assert not staff.has_usable_password() and not staff.check_password("drivenow-staff")

    monkeypatch.setenv("DRIVENOW_STAFF_PASSWORD", "from-the-environment-1")
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert User.objects.get(username="staff").check_password("from-the-environment-1")
    call_command("seed_demo", password="given-on-the-command-line-2", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert User.objects.get(username="staff").check_password("given-on-the-command-line-2")


def _settings_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_process({"DJANGO_SECRET_KEY": ""}, "check")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (
            "DJANGO_SECRET_KEY",
            "change-me-to-50-or-more-random-characters-000000000000",
        ),  # deploy/k8s/secret.example.yaml
        (
            "DJANGO_SECRET_KEY",
            "insecure-demo-key-for-docker-compose-only-change-me-0123456789",
        ),  # compose's old default
        ("DJANGO_SECRET_KEY", "change-me-to-50-or-more-random-characters-000000000001"),  # an example, one digit edited
        ("INVENTORY_DB_PASSWORD", "change-me"),
        ("DRIVENOW_SERVICE_TOKEN", "changemeservicetoken000000000000000000"),
    ],
)
def test_production_refuses_the_example_secrets_published_in_the_repository(name, value):
    # They pass every length check, and anyone can read them.
    env = {"DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-only-0123456789", name: value}
    result = _settings_process(env, "check")
    assert result.returncode != 0 and f"{name} is an example value published with DriveNow" in result.stderr


def test_production_check_deploy_is_clean():
    result = _settings_process(
        {"DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-only-0123456789"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_seed_fleet_adds_a_repeatable_synthetic_fleet():
    from fleet.models import Car

    assert _call("seed_fleet", "--cars", "300", "--seed", "7") == "300 cars added"
    assert Car.objects.count() == 300
    assert Car.objects.filter(status="available").count() > 200
    assert Car.objects.values("plate").distinct().count() == 300
    # analysed at once (the planner's estimate of the table's size comes from it)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'fleet_car'")
        assert cursor.fetchone()[0] == 300


@pytest.mark.django_db
def test_a_loaded_fleet_is_held_to_the_rules_of_car_create():
    from fleet import errors
    from fleet.models import Car

    assert services.cars_load([{"model": "Loaded", "year": 2024, "plate": "lo-ad 1"}]) == 1
    assert Car.objects.get(model="Loaded").plate == "LOAD1"  # one spelling per plate, as car_create stores it
    with pytest.raises(errors.InvalidStatusTransition):
        services.cars_load([{"model": "Rented", "year": 2024, "status": "rented"}])
    with pytest.raises(errors.CarExists):  # a taken plate adds none of the batch
        services.cars_load(
            [{"model": "New", "year": 2024, "plate": "NEW1"}, {"model": "Dup", "year": 2024, "plate": "LOAD1"}]
        )
    assert not Car.objects.filter(model__in=["Rented", "New", "Dup"]).exists()


@pytest.mark.django_db
def test_seed_demo_spreads_its_fleet_over_branches_in_two_zones_and_five_classes():
    from fleet.models import Car, Location, VehicleClass

    CarFactory(id=uuid.UUID("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a05"), plate="DN105")  # a demo car from before v2
    for _ in range(2):  # safe to run twice
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert Location.objects.count() == 3 and VehicleClass.objects.count() == 5
    assert set(Location.objects.values_list("time_zone", flat=True)) == {"Asia/Jerusalem", "Europe/London"}
    assert Car.objects.count() == 60 and not Car.objects.filter(vehicle_class=None).exists()
    assert Car.objects.get(plate="DN105").location.code == "TLV-CEN"
    per_class_and_branch = Car.objects.values("location__code", "vehicle_class__code").annotate(n=Count("id"))
    assert len(per_class_and_branch) == 15 and {row["n"] for row in per_class_and_branch} == {4}


@pytest.mark.django_db
def test_seed_demo_blocks_cars_over_the_next_fortnight_once_whatever_the_number_of_runs():
    from fleet.management.commands.seed_demo import DEMO_BLOCKS
    from fleet.models import HoldKind, Reservation

    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    blocks = Reservation.objects.filter(kind=HoldKind.BLOCK, state="active")
    made = set(blocks.values_list("id", flat=True))
    assert len(made) == len(DEMO_BLOCKS) == 16
    assert set(blocks.values_list("car__location__code", flat=True)) == {"LON-LHR", "TLV-AIR", "TLV-CEN"}
    now = datetime.now(UTC)
    assert all(now - timedelta(days=1) < b.starts_at < now + timedelta(days=14) for b in blocks)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert set(blocks.values_list("id", flat=True)) == made


@pytest.mark.django_db
def test_seed_demo_leaves_out_a_demo_car_whose_plate_someone_took(capsys):
    from fleet.models import Car

    own = CarFactory(plate="DN130", model="Someone's own")
    call_command("seed_demo", token="demo0token0for0tests0abcdef")
    out, err = capsys.readouterr()
    assert out.strip() == "demo0token0for0tests0abcdef"  # stdout is the token alone: scripts read it
    assert "plate DN-130 is taken" in err
    assert Car.objects.count() == 60 and Car.objects.get(plate="DN130").id == own.id
