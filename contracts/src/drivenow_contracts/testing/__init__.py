"""The `[testing]` extra: helpers for the services' test suites; never installed in an image.

Real processes for end-to-end tests: a fresh database on the test cluster, migrated, a Django project (given by
its directory) served by gunicorn. Used by every suite that needs a live service (the contracts client's tests,
booking's end-to-end tests, the system tests in deploy/tests):

    with live_service(INVENTORY_DIR, db_prefix="INVENTORY", db_name="e2e_inventory") as inventory:
        token = inventory.manage("create_service_account").strip()
        requests.get(inventory.url + "/api/v1/cars/")

The cluster comes from the test command (DN_TEST_PG_PORT, user `drivenow`, its password in PGPASSWORD and
<PREFIX>_DB_PASSWORD, which every connection here and every service inherits).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports on 127.0.0.1 that can all be bound now, taken below the kernel's
    range of ephemeral ports: a port the kernel hands out for bind(0) is also what it hands to the next outgoing
    connection, which may take it before the service we start binds it ("Address already in use")."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low, high = 10000, max(10000 + 1000, ephemeral_low) - count
    for _ in range(200):
        first = random.randrange(low, high)
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError(f"no {count} free consecutive ports below {ephemeral_low}")


def free_port() -> int:
    return free_ports(1)


def pg_port() -> str:
    port = os.environ.get("DN_TEST_PG_PORT")
    if not port:
        raise RuntimeError("DN_TEST_PG_PORT is not set: run the suites through deploy/local/test.sh")
    return port


def recreate_database(name: str) -> None:
    """Drop (if there) and create database `name` on the test cluster."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=pg_port(), user="drivenow", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class LiveService:
    name: str
    db_name: str
    port: int
    env: dict[str, str]
    project_dir: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run `manage.py <args>` against this service's database; returns stdout."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.project_dir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def spawn(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a long-running `manage.py <args>` (e.g. the outbox relay); stopped with the service."""
        assert self.log_path is not None
        with open(self.log_path.with_suffix(f".{args[0]}.log"), "ab") as log:  # the child keeps its own handle
            proc = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=self.project_dir,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.extra.append(proc)
        return proc

    def start(self, timeout: float = 30.0) -> None:
        """Start (or restart) gunicorn on the same port and wait until /health/live answers."""
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "config/gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "config.wsgi",
                ],
                cwd=self.project_dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited early; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if requests.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or too busy starting up
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up on {self.url}; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop gunicorn (SIGKILL for a crash) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def stop_all(self) -> None:
        self.stop()
        for proc in self.extra:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def live_service(
    project_dir: Path,
    *,
    db_prefix: str,
    db_name: str,
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> Iterator[LiveService]:
    """A fresh database `db_name`, migrated, and the Django project in `project_dir` (its `manage.py`, its
    `config/gunicorn.conf.py`) under gunicorn on a free port, with local settings. The project reads its database
    from `<db_prefix>_DB_*`; the service is named after its directory (`inventory_project` → `inventory`)."""
    project_dir = Path(project_dir).resolve()
    prefix, name = db_prefix, project_dir.name.removesuffix("_project")
    recreate_database(db_name)
    port = free_port()
    service_env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},  # gunicorn makes its own
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        f"{prefix}_DB_HOST": "127.0.0.1",
        f"{prefix}_DB_PORT": pg_port(),
        f"{prefix}_DB_USER": "drivenow",
        f"{prefix}_DB_NAME": db_name,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESSLOG": "",
        # Test clients hammer one service from one address: no throttling unless the test (or the caller's
        # environment) sets a rate.
        **{name: os.environ.get(name, "off") for name in ("DJANGO_THROTTLE_ANON", "DJANGO_THROTTLE_USER")},
        **(env or {}),
    }
    log_dir = log_dir or Path(os.environ.get("DN_TEST_LOG_DIR", "/tmp"))
    log_dir.mkdir(parents=True, exist_ok=True)
    service = LiveService(name, db_name, port, service_env, project_dir, log_path=log_dir / f"{db_name}-{port}.log")
    service.manage("migrate", "--noinput")
    try:
        service.start()
        yield service
    finally:
        service.stop_all()


# -- helpers for the services' own test suites ---------------------------------------------------------------
def token_client(user: Any) -> Any:
    """A DRF test client authenticated with a fresh API token of `user`."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def assert_problem(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code (and names `field` in `errors`)."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and body["detail"]
    assert body["type"] == f"urn:drivenow:problem:{code}"
    if field:
        assert field in body["errors"], body
    assert "Traceback" not in response.content.decode(errors="replace")
    return body


@dataclass(frozen=True)
class BadRequest:
    """One row of a hostile-input catalogue: a request and the problem it must get."""

    name: str
    method: str
    path: str
    status: int
    code: str
    body: object = None  # JSON-encoded unless `raw` is given
    raw: bytes | None = None
    content_type: str = "application/json"
    who: str = "staff"  # which client sends it; the suite maps names to clients
    field: str | None = None  # must be named in `errors`
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # (`field` is a row attribute here)

    def send(self, client: Any, *, other: object = "") -> Any:
        """Send it with `client`; `{other}` in the path becomes `other`."""
        data = self.raw if self.raw is not None else (b"" if self.body is None else json.dumps(self.body).encode())
        kwargs: dict[str, Any] = dict(self.headers)
        if data or self.content_type != "application/json":
            kwargs["content_type"] = self.content_type
        return client.generic(self.method, self.path.replace("{other}", str(other)), data, **kwargs)


_STATEMENT = re.compile(r'^(\w+)\s+(?:.*?(?:FROM|INTO)\s+)?"(\w+)"', re.S)


def statement_labels(queries: list[dict[str, Any]]) -> list[str]:
    """'BEGIN', 'SELECT fleet_car', 'INSERT fleet_reservation', … — what each captured statement does to which
    table, for query-budget tests (CaptureQueriesContext.captured_queries)."""
    labels = []
    for query in queries:
        sql = query["sql"]
        # A WITH statement's tables are several: it is labelled "WITH" alone.
        match = None if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "WITH")) else _STATEMENT.match(sql)
        labels.append(f"{match[1]} {match[2]}" if match else sql.split(" ", 1)[0])
    return labels


def actions_without_permissions(site: Any) -> list[str]:
    """Every action of every ModelAdmin on `site` that declares no permission (so anyone who may view the list may
    run it), or declares one its admin has no `has_<name>_permission` for: "Model: action"."""
    found = []
    for model, model_admin in site._registry.items():
        for action in model_admin.actions or []:
            func = getattr(model_admin, action) if isinstance(action, str) else action
            permissions = getattr(func, "allowed_permissions", None) or ()
            if not permissions or any(not hasattr(model_admin, f"has_{p}_permission") for p in permissions):
                found.append(f"{model.__name__}: {getattr(func, '__name__', action)}")
    return found
