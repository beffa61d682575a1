"""What the containers will do, checked without a Docker engine: the image's build-time collectstatic works with
only the placeholders the Dockerfile gives it, and the production settings start (and pass `check --deploy`) with
exactly the environment docker-compose.yml and the Kubernetes manifests give each container."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
import yaml
from test_compose import SECRETS_ENV, interpolate

from stack import HAS_BOOKING, NO_BOOKING_REASON, REPO_ROOT

PROJECTS = {"inventory": "inventory_project", "booking": "booking_project"}


def manage(project: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # A clean environment like a container's: PATH and the interpreter only, then what the deployment sets.
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT / PROJECTS[project],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def skip_without(project: str) -> None:
    if project == "booking" and not HAS_BOOKING:
        pytest.skip(NO_BOOKING_REASON)


@pytest.mark.parametrize("project", PROJECTS)
def test_build_time_collectstatic_needs_no_real_secret(project):
    skip_without(project)
    dockerfile = (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    # What the Dockerfile's RUN line makes: a random key and token, thrown away after the command.
    assert (
        "DJANGO_SECRET_KEY=\"collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')\""
        in dockerfile
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": f"collectstatic-only-{secrets.token_urlsafe(48)}",
    }
    if "BOOKING_INVENTORY_TOKEN=\"$(python -c 'import secrets; print(secrets.token_hex(20))')\"" in dockerfile:
        env["BOOKING_INVENTORY_TOKEN"] = secrets.token_hex(20)
    result = manage(project, env, "collectstatic", "--noinput", "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]


def compose_env(service: str) -> dict[str, str]:
    compose = interpolate(yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text()), SECRETS_ENV)  # the .env
    env = {key: str(value) for key, value in compose["services"][service]["environment"].items()}
    return {"DJANGO_SETTINGS_MODULE": "config.settings.production", **env}  # the image's default settings


@pytest.mark.parametrize(
    ("service", "project"),
    [
        ("inventory", "inventory"),
        ("inventory-migrate", "inventory"),
        ("booking", "booking"),
        ("relay", "booking"),
        ("booking-migrate", "booking"),
    ],
)
def test_compose_environment_starts_the_production_settings(service, project):
    skip_without(project)
    result = manage(project, compose_env(service), "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr[-2000:]


def _generated(key: str) -> str:
    return secrets.token_hex(32) if key.endswith("SECRET_KEY") else secrets.token_hex(20)


def k8s_env(deployment: str) -> dict[str, str]:
    k8s = REPO_ROOT / "deploy" / "k8s"
    docs = [d for f in k8s.glob("*.yaml") if f.name != "kustomization.yaml" for d in yaml.safe_load_all(f.read_text())]
    configmaps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    # The example Secret with each of its (published, so refused) values replaced by a generated one, the same value
    # everywhere the example has the same one (the service token both Secrets carry).
    generated: dict[str, str] = {}
    secret_values = {
        d["metadata"]["name"]: {
            key: generated.setdefault(value, _generated(key)) for key, value in d["stringData"].items()
        }
        for d in docs
        if d["kind"] == "Secret"
    }
    [workload] = [d for d in docs if d["kind"] in ("Deployment", "Job") and d["metadata"]["name"] == deployment]
    [container] = workload["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        ref = item["valueFrom"]["secretKeyRef"] if "valueFrom" in item else None
        if ref and ref.get("optional") and ref["key"] not in secret_values[ref["name"]]:
            continue  # an optional key the Secret leaves out: Kubernetes sets no variable
        env[item["name"]] = secret_values[ref["name"]][ref["key"]] if ref else item["value"]
    return env


@pytest.mark.parametrize(
    ("workload", "project"),
    [
        ("inventory", "inventory"),
        ("inventory-migrate", "inventory"),
        ("booking", "booking"),
        ("booking-relay", "booking"),
        ("booking-migrate", "booking"),
    ],
)
def test_kubernetes_environment_starts_the_production_settings(workload, project):
    skip_without(project)
    env = k8s_env(workload)
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    result = manage(project, env, "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr[-2000:]


def test_production_settings_refuse_to_start_without_the_secret():
    env = {**compose_env("inventory"), "DJANGO_SECRET_KEY": ""}
    result = manage("inventory", env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_gunicorn_reads_its_config_with_the_deployment_env(tmp_path):
    # GUNICORN_CMD_ARGS from the ConfigMap must be a valid gunicorn option set (`--check-config` parses it all).
    env = {**k8s_env("inventory"), "PATH": os.environ["PATH"], "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--check-config", "config.wsgi"],
        cwd=REPO_ROOT / "inventory_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
