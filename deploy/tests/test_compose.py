"""docker-compose.yml against the Compose Specification schema (what `docker compose config` checks), plus the
properties the stack relies on; the Prometheus config and the Grafana provisioning beside it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

from stack import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROMETHEUS = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
# The test command installs promtool and says where (DN_PROMTOOL=missing when it could not): then these fail.
_PROMTOOL_ENV = os.environ.get("DN_PROMTOOL")
PROMTOOL = shutil.which("promtool") if _PROMTOOL_ENV in (None, "", "missing") else _PROMTOOL_ENV
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and _PROMTOOL_ENV != "missing",
    reason="promtool is not installed (apt-get install prometheus; the test command installs it)",
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "the test command could not install promtool (apt-get install prometheus)"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True)


GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "drivenow.json"

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")
# Settings whose value is a secret: none may have a default but empty (which means "none", never a known value).
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN")
# What an operator's .env holds: generated values, as the README's line makes them.
SECRETS_ENV = {
    "INVENTORY_SECRET_KEY": "inventory-generated-secret-key-for-the-compose-tests-0123456789",
    "BOOKING_SECRET_KEY": "booking-generated-secret-key-for-the-compose-tests-0123456789",
    "INVENTORY_DB_PASSWORD": "3f9a0c4e5b6d7e8f9a0b1c2d",
    "BOOKING_DB_PASSWORD": "8e7d6c5b4a3f2e1d0c9b8a7f",
    "DRIVENOW_SERVICE_TOKEN": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
    "DRIVENOW_STAFF_TOKEN": "f0e1d2c3b4a5968778695a4b3c2d1e0f98765432",
    "GRAFANA_ADMIN_PASSWORD": "5c4b3a29180f7e6d5c4b3a29",
}


class MissingVariable(Exception):
    """What `docker compose` stops with for ${NAME:?message} when NAME is unset or empty."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error} and
    ${NAME?error} (stops with the error); $$ is a literal $."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, op, arg = match.group("name"), match.group("op") or "", match.group("arg") or ""
            given = env.get(name)
            unset = given is None or (op.startswith(":") and given == "")
            if op.endswith("?") and unset:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return arg if unset and op.endswith("-") else (given or "")

        return _VARIABLE.sub(substitute, value)
    return value


def compose_schema() -> dict[str, Any]:
    # The Compose Specification's JSON schema, as vendored by check-jsonschema (pinned in requirements/test.txt).
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(vendored.read_text())


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # anchors and `<<` merge keys resolved, as compose does


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(raw_compose(), SECRETS_ENV)  # the operator's .env


def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_the_schema_check_catches_a_broken_file(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["inventory"]["depends_on"]["inventory-migrate"]["condition"] = "service_finished"
    schema = compose_schema()
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(broken))


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_docker_compose_config_when_the_plugin_is_there():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin here; the schema test above stands in for it")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_every_service_of_the_issue_is_there(compose):
    assert set(compose["services"]) >= {
        "gateway",
        "inventory",
        "booking",
        "relay",
        "inventory-db",
        "booking-db",
        "inventory-migrate",
        "booking-migrate",
        "prometheus",
        "grafana",
    }


@pytest.mark.parametrize("service", ["inventory", "booking"])
def test_services_scale_two_by_default_without_host_ports(compose, service):
    spec = compose["services"][service]
    assert "ports" not in spec, "a fixed host port would make `--scale` fail"
    assert spec["deploy"]["replicas"] == 2


@pytest.mark.parametrize(
    ("service", "migrate"),
    [("inventory", "inventory-migrate"), ("booking", "booking-migrate"), ("relay", "booking-migrate")],
)
def test_migrations_run_once_before_the_service(compose, service, migrate):
    assert compose["services"][service]["depends_on"][migrate] == {"condition": "service_completed_successfully"}
    assert compose["services"][migrate]["restart"] == "no"
    assert "migrate --noinput" in " ".join(compose["services"][migrate]["command"])


@pytest.mark.parametrize(("db", "name"), [("inventory-db", "cars_inventory_db"), ("booking-db", "booking_db")])
def test_databases_are_postgres_15_with_named_volumes_and_health_checks(compose, db, name):
    spec = compose["services"][db]
    assert re.fullmatch(r"postgres:15\.\d+-\w+", spec["image"])
    assert spec["environment"]["POSTGRES_DB"] == name
    volume = spec["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert "pg_isready" in " ".join(spec["healthcheck"]["test"])
    for migrate in ("inventory-migrate", "booking-migrate"):
        if migrate.split("-")[0] == db.split("-")[0]:
            assert compose["services"][migrate]["depends_on"][db] == {"condition": "service_healthy"}


def test_every_image_is_pinned(compose):
    for name, spec in compose["services"].items():
        image = spec["image"]
        if image.startswith("drivenow/"):
            continue  # built here
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image}"


def test_booking_reaches_inventory_through_the_internal_listener(compose):
    env = compose["services"]["booking"]["environment"]
    assert env["BOOKING_INVENTORY_URL"] == "http://gateway:8081"
    migrate_env = compose["services"]["inventory-migrate"]["environment"]
    assert env["BOOKING_INVENTORY_TOKEN"] == migrate_env["DRIVENOW_SERVICE_TOKEN"]
    gateway = compose["services"]["gateway"]
    assert gateway["ports"] == ["8080:8080"]  # 8081 is not published
    assert "8081" in gateway["expose"]


def test_the_gateway_mounts_the_rendered_config(compose):
    mounts = compose["services"]["gateway"]["volumes"]
    assert "./deploy/gateway/compose/nginx.conf:/etc/nginx/nginx.conf:ro" in mounts
    image = compose["services"]["gateway"]["image"]
    major, minor, patch = (int(part) for part in re.match(r"nginx:(\d+)\.(\d+)\.(\d+)", image).groups())
    assert (major, minor, patch) >= (1, 27, 3), "the upstream `resolve` parameter needs nginx >= 1.27.3"


def test_no_secret_is_baked_into_the_image():
    dockerfile = (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert not re.search(r"^\s*ENV\s+.*(SECRET|PASSWORD|TOKEN)", dockerfile, re.M | re.I)
    assert re.search(r"^USER\s+drivenow", dockerfile, re.M)
    assert re.search(r"^FROM\s+\$\{PYTHON_IMAGE\}\s+AS\s+runtime", dockerfile, re.M)
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", dockerfile)
    assert "HEALTHCHECK" in dockerfile


# -- Prometheus ------------------------------------------------------------------------------------------


def test_prometheus_scrapes_every_instance_of_both_services():
    config = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, port in (("inventory", 3131), ("booking", 1313)):
        [sd] = jobs[service]["dns_sd_configs"]
        assert sd == {"names": [service], "type": "A", "port": port, "refresh_interval": "10s"}
        assert jobs[service].get("metrics_path", "/metrics") == "/metrics"


@needs_promtool
def test_promtool_accepts_the_prometheus_config():
    result = _promtool("check", "config", "--syntax-only", str(PROMETHEUS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_alert_rules():
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_alerts_fire_on_a_dead_release_an_old_backlog_and_failing_readiness():
    """promtool's rule unit tests: series as the services export them, and the alerts they must raise."""
    result = _promtool("test", "rules", str(REPO_ROOT / "deploy" / "tests" / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_are_loaded_and_mounted(compose):
    assert yaml.safe_load(PROMETHEUS.read_text())["rule_files"] == ["alerts.yml"]
    assert (
        "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose["services"]["prometheus"]["volumes"]
    )


def test_every_alert_is_about_metrics_the_services_export():
    exported = "\n".join(
        path.read_text()
        for path in (
            REPO_ROOT / "booking_project" / "rentals" / "metrics.py",
            REPO_ROOT / "inventory_project" / "fleet" / "metrics.py",
        )
    )
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert rules
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "ticket") and rule["annotations"]["summary"], rule["alert"]
        for name in re.findall(r"\b(?:booking|inventory)_[a-z_]+", rule["expr"]):
            assert f'"{name.removesuffix("_total")}' in exported, (rule["alert"], name)


# -- Grafana ---------------------------------------------------------------------------------------------


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_grafana_datasource_and_dashboard_are_provisioned():
    provisioning = GRAFANA / "provisioning"
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090" and datasource["uid"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "drivenow.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == datasource["uid"]


@pytest.mark.parametrize(
    "needle",
    [
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "histogram_quantile(0.5,",
        "histogram_quantile(0.99,",
        'status=~"5.."',
        "booking_rentals_started_total",
        "booking_rentals_failed_total",
        "sum by (code)",
        "inventory_cars",
        "booking_outbox_pending",
        "booking_payments_captured_minor_total",
        "booking_payment_operations_total",
        "booking_payment_provider_seconds_bucket",
    ],
)
def test_the_dashboard_shows(needle):
    assert any(needle in expr for expr in dashboard_expressions()), needle


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": expr.replace("$__rate_interval", "1m")}
                    for i, expr in enumerate(dashboard_expressions())
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_env_example_names_every_secret_the_compose_file_reads():
    example = (REPO_ROOT / ".env.example").read_text()
    names = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    missing = {name for name in names if not re.search(rf"^{name}=", example, re.M)}
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_compose_reads_no_env_file_into_the_containers():
    # Secrets reach a container only by name (environment:), never a whole .env with every service's secrets.
    assert "env_file" not in COMPOSE_FILE.read_text()
    assert os.path.exists(REPO_ROOT / ".env.example")


# -- no known credentials -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SECRETS_ENV))
def test_compose_refuses_to_start_while_a_secret_is_unset_or_empty(name):
    for env in ({k: v for k, v in SECRETS_ENV.items() if k != name}, {**SECRETS_ENV, name: ""}):
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw_compose(), env)


def test_no_secret_has_a_default_value():
    # A default would be published in this file, and so known to everyone: the only one allowed is "none".
    for match in _VARIABLE.finditer(COMPOSE_FILE.read_text()):
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if name and SECRET_NAME.search(name):
            assert op == ":?" or (op == ":-" and arg == ""), match.group(0)
    assert "drivenow-demo" not in COMPOSE_FILE.read_text() and "drivenow-staff" not in COMPOSE_FILE.read_text()


def test_no_known_password_is_seeded(compose):
    for migrate in ("inventory-migrate", "booking-migrate"):
        service = compose["services"][migrate]
        assert "--password" not in " ".join(service["command"])  # seed_demo reads DRIVENOW_STAFF_PASSWORD
        assert service["environment"]["DRIVENOW_STAFF_PASSWORD"] == ""  # not in .env: no usable admin password
    operator_set = interpolate(raw_compose(), {**SECRETS_ENV, "DRIVENOW_STAFF_PASSWORD": "the-operators-own-pw"})
    assert (
        operator_set["services"]["booking-migrate"]["environment"]["DRIVENOW_STAFF_PASSWORD"] == "the-operators-own-pw"
    )


def test_prometheus_and_grafana_listen_on_this_machine_only_unless_asked(compose):
    # Prometheus has no login at all; Grafana's is the only thing between the internet and the dashboards.
    assert compose["services"]["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
    assert compose["services"]["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
    asked = interpolate(raw_compose(), {**SECRETS_ENV, "DRIVENOW_MONITORING_ADDRESS": "0.0.0.0"})
    assert asked["services"]["prometheus"]["ports"] == ["0.0.0.0:9090:9090"]
    published = {service: spec["ports"] for service, spec in compose["services"].items() if spec.get("ports")}
    assert set(published) == {"gateway", "prometheus", "grafana"}


def test_grafana_has_no_anonymous_access_and_the_operators_admin_password(compose):
    env = compose["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == SECRETS_ENV["GRAFANA_ADMIN_PASSWORD"]
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_an_env_made_from_the_example_starts_nothing_until_filled_in():
    example = dict(
        line.split("=", 1)
        for line in (REPO_ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    with pytest.raises(MissingVariable):
        interpolate(raw_compose(), example)
    from stack import published_secrets

    for project in ("inventory_project", "booking_project"):
        is_published = published_secrets(project).is_published
        assert not any(is_published(value) for name, value in example.items() if SECRET_NAME.search(name) and value)
