"""The local stack as the deploy tests see it: nginx as the gateway in front of two gunicorn instances of each
service, each pair sharing one fresh database of the test cluster (drivenow_contracts.testing.live_service)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import requests

from drivenow_contracts.testing import LiveService, free_port, live_service

REPO_ROOT = Path(__file__).resolve().parents[2]
RENDER = REPO_ROOT / "deploy" / "gateway" / "render.py"
# DN_DEPLOY_TESTS_NO_BOOKING=1 runs the suite as if booking_project were not there yet (checks the skip paths).
HAS_BOOKING = (REPO_ROOT / "booking_project" / "manage.py").is_file() and not os.environ.get(
    "DN_DEPLOY_TESTS_NO_BOOKING"
)
NO_BOOKING_REASON = "booking_project is not in this tree yet: the booking parts of the deploy tests are skipped"

STAFF_TOKEN = "deploystafftoken000000000000000000000000"  # 40 letters and digits, as seed_demo wants
SERVICE_TOKEN = "deployservicetoken0000000000000000000000"
STAFF_PASSWORD = "deploy-staff-password-for-this-suite"  # seed_demo sets none unless given one

# Every instance logs its requests (with the request id) and runs without gunicorn's control socket: several
# gunicorns of one user would otherwise share ~/.gunicorn/gunicorn.ctl.
INSTANCE_ENV = {"GUNICORN_ACCESSLOG": "-"}


def nginx_binary() -> str | None:
    return (
        os.environ.get("DN_NGINX")
        or shutil.which("nginx")
        or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    )


def nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=True).stderr
    return tuple(int(part) for part in out.strip().rsplit("/", 1)[-1].split(".")[:3])


def nginx_test(binary: str, conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a config, with its own prefix and error log (never the system's)."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )


@dataclass
class Gateway:
    """nginx rendered for `local` with the given upstreams, on free ports, with a private prefix."""

    binary: str
    inventory: list[str]
    booking: list[str]
    port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="drivenow-gateway-")))
    process: subprocess.Popen[bytes] | None = None
    render_script: Path = RENDER  # a copy elsewhere renders (and serves) from that checkout

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    def render(self) -> None:
        args = [
            sys.executable,
            str(self.render_script),
            "local",
            "--state-dir",
            str(self.prefix),
            "--out",
            str(self.conf),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--internal-listen",
            f"127.0.0.1:{self.internal_port}",
        ]
        for address in self.inventory:
            args += ["--inventory", address]
        for address in self.booking:
            args += ["--booking", address]
        subprocess.run(args, check=True, timeout=30)

    def start(self, timeout: float = 15.0) -> None:
        self.render()
        checked = nginx_test(self.binary, self.conf, self.prefix)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(
            [
                self.binary,
                "-p",
                str(self.prefix),
                "-c",
                str(self.conf),
                "-e",
                str(self.prefix / "logs" / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=open(self.prefix / "logs" / "stdout.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.prefix / 'logs' / 'error.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/gateway/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not come up on {self.url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


def second_instance(first: LiveService, log_dir: Path) -> LiveService:
    """Another gunicorn of the same service on the same database, on its own free port."""
    port = free_port()
    other = LiveService(
        first.name,
        first.db_name,
        port,
        dict(first.env),
        first.project_dir,
        log_path=log_dir / f"{first.db_name}-{port}.log",
    )
    other.start()
    return other


@dataclass
class Stack:
    gateway: Gateway
    inventory: list[LiveService]
    booking: list[LiveService]  # empty when booking_project is not there yet
    log_dir: Path

    def staff(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {STAFF_TOKEN}"
        return session


@contextmanager
def local_stack(name: str, nginx: str, booking_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """Inventory ×2 and booking ×2 (+ the relay) on fresh databases `deploy_<name>_*`, nginx in front.
    `booking_env` is added to booking's and the relay's environment."""
    log_dir = Path(os.environ.get("DN_TEST_LOG_DIR") or tempfile.mkdtemp(prefix=f"drivenow-{name}-logs-"))
    with ExitStack() as stack:
        # Ports of the gateway first: booking is told where inventory's internal listener will be.
        inventory_a = stack.enter_context(
            live_service(
                REPO_ROOT / "inventory_project",
                db_prefix="INVENTORY",
                db_name=f"deploy_{name}_inventory",
                env=INSTANCE_ENV,
                log_dir=log_dir,
            )
        )
        inventory_a.manage("create_service_account", "--token", SERVICE_TOKEN)
        inventory_a.manage("seed_demo", "--token", STAFF_TOKEN, "--password", STAFF_PASSWORD)
        inventory_b = second_instance(inventory_a, log_dir)
        stack.callback(inventory_b.stop_all)
        inventories = [inventory_a, inventory_b]

        gateway = Gateway(nginx, inventory=[f"127.0.0.1:{s.port}" for s in inventories], booking=[])
        stack.callback(gateway.cleanup)

        bookings: list[LiveService] = []
        if HAS_BOOKING:
            booking_env = {
                **INSTANCE_ENV,
                "BOOKING_INVENTORY_URL": gateway.internal_url,
                "BOOKING_INVENTORY_TOKEN": SERVICE_TOKEN,
                "BOOKING_OUTBOX_POLL_INTERVAL": "0.2",
                **(booking_env or {}),
            }
            booking_a = stack.enter_context(
                live_service(
                    REPO_ROOT / "booking_project",
                    db_prefix="BOOKING",
                    db_name=f"deploy_{name}_booking",
                    env=booking_env,
                    log_dir=log_dir,
                )
            )
            booking_a.manage("seed_demo", "--token", STAFF_TOKEN, "--password", STAFF_PASSWORD)
            booking_b = second_instance(booking_a, log_dir)
            stack.callback(booking_b.stop_all)
            booking_a.spawn("run_outbox_relay")
            bookings = [booking_a, booking_b]
            gateway.booking = [f"127.0.0.1:{s.port}" for s in bookings]
        else:
            # Nothing listens there: booking's routes answer the gateway's 502 problem.
            gateway.booking = [f"127.0.0.1:{free_port()}"]

        gateway.start()
        yield Stack(gateway=gateway, inventory=inventories, booking=bookings, log_dir=log_dir)


def published_secrets(project: str) -> ModuleType:
    """`<project>/config/published_secrets.py`, the list of example secrets that project's production settings
    refuse (each project keeps its own copy; the deploy tests hold both to the repository's example files)."""
    path = REPO_ROOT / project / "config" / "published_secrets.py"
    spec = importlib.util.spec_from_file_location(f"{project}_published_secrets", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
