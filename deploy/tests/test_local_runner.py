"""deploy/local/run.sh as a person runs it, on free ports and its own state directory: what it prints, who may
reach its PostgreSQL, and that every way of stopping it (Ctrl-C, SIGTERM, a closed terminal) leaves nothing
running, also the PostgreSQL an earlier run left behind."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from drivenow_contracts.testing import free_port, free_ports
from stack import REPO_ROOT

pytestmark = pytest.mark.live

RUN = REPO_ROOT / "deploy" / "local" / "run.sh"
LIB = REPO_ROOT / "deploy" / "local" / "lib.sh"
# run.sh's own lines: its log lines, and the block of URLs and secrets (indented, or blank).
OWN_LINE = re.compile(r"^(\x1b\[1m\[drivenow\]\x1b\[0m |\[drivenow\] error: |  |$)")


def port_busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port_pair() -> int:
    """A free port whose next one is free too: the gateway's public and internal listeners, and each service's
    two instances (run.sh's default DN_INSTANCES) on PORT and PORT+1."""
    return free_ports(2)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _process_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the name: state, ppid, pgrp, session, …) of every process."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue


def processes_of_session(sid: int) -> set[int]:
    return {pid for pid, fields in _process_stats() if int(fields[3]) == sid}


def children_of(pid: int) -> set[int]:
    return {child for child, fields in _process_stats() if int(fields[1]) == pid}


@dataclass
class Runner:
    """One run.sh in its own session (so it has a process group to signal, as a terminal's foreground job has)."""

    state: Path
    pg_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port_pair)
    inventory_port: int = field(default_factory=free_port_pair)
    booking_port: int = field(default_factory=free_port_pair)
    process: subprocess.Popen[bytes] | None = None

    @property
    def output_path(self) -> Path:
        return self.state.parent / f"{self.state.name}-run.out"

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    @property
    def ports(self) -> list[int]:
        return [self.pg_port, self.gateway_port, self.gateway_port + 1, self.inventory_port, self.booking_port]

    def env(self) -> dict[str, str]:
        # Not the test command's database settings: run.sh makes its own.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("INVENTORY_", "BOOKING_", "DJANGO_", "PG", "DN_PG_", "DN_TEST_"))
        }
        return {
            **inherited,
            "DN_STATE_DIR": str(self.state),
            "DN_PG_PORT": str(self.pg_port),
            "GATEWAY_PORT": str(self.gateway_port),
            "INVENTORY_PORT": str(self.inventory_port),
            "BOOKING_PORT": str(self.booking_port),
            "DN_INSTANCES": "1",
            "DN_PG_FSYNC": "off",
        }

    def start(self, timeout: float = 240) -> None:
        self.process = subprocess.Popen(
            ["bash", str(RUN)],
            stdin=subprocess.DEVNULL,
            stdout=open(self.output_path, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while "DriveNow is running" not in self.output or "Logs " not in self.output:
            if self.process.poll() is not None:
                raise AssertionError(f"run.sh exited {self.process.returncode}:\n{self.output}")
            assert time.monotonic() < deadline, f"run.sh did not come up:\n{self.output}"
            time.sleep(0.2)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.state / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def everything_running(self) -> set[int]:
        """run.sh and whatever it started (its session), PostgreSQL's postmaster and its processes."""
        assert self.process is not None
        pids = processes_of_session(self.process.pid)
        postmaster = self.postmaster_pid()
        if postmaster is not None:
            pids |= {postmaster} | children_of(postmaster)
        return pids

    def secrets(self) -> dict[str, str]:
        lines = (self.state / "secrets.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def kill_all(self) -> None:
        """For a failed test: nothing of it may outlive the test either way."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        lib(f"dn_pg_stop {shlex.quote(str(self.state / 'pg'))}")


def lib(script: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["bash", "-c", f"source {shlex.quote(str(LIB))}; {script}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def state() -> Iterator[Path]:
    """One state directory for the module's runs: the first one initialises the cluster, later ones reuse it. It is
    in a directory only its owner may enter (mktemp -d), like a checkout in a home of mode 700."""
    parent = Path(tempfile.mkdtemp(prefix="drivenow-runner-"))
    yield parent / "state"
    lib(f"dn_pg_remove {shlex.quote(str(parent / 'state' / 'pg'))}")
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def runner(state: Path) -> Iterator[Runner]:
    running = Runner(state)
    yield running
    running.kill_all()


def assert_all_stopped(runner: Runner, pids: set[int], expected_code: int) -> None:
    assert runner.process is not None
    try:
        code = runner.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"run.sh did not exit:\n{runner.output}") from None
    deadline = time.monotonic() + 10  # processes run.sh no longer waits for (postgres backends) may take a moment
    while (left := {pid for pid in pids if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left if alive(pid)}
    assert [port for port in runner.ports if port_busy(port)] == []
    assert code == expected_code, runner.output
    assert runner.output.rstrip().endswith("stopped"), runner.output


def test_run_sh_prints_only_its_own_lines_and_its_postgres_wants_the_password(runner, monkeypatch):
    runner.start()
    running = runner.everything_running()
    secrets = runner.secrets()

    # Only run.sh's own lines: the services' and django-axes' logging goes to the log files.
    foreign = [line for line in runner.output.splitlines() if not OWN_LINE.match(line)]
    assert foreign == [], runner.output
    assert "drivenow-staff" not in runner.output
    assert f"staff / {secrets['DN_STAFF_PASSWORD']}" in runner.output

    # Its secrets were never readable by anyone else, and it opened none of the caller's directories to others
    # (as root, PostgreSQL runs as `postgres`, which may not enter a 700 directory).
    assert stat.S_IMODE((runner.state / "secrets.env").stat().st_mode) == 0o600
    assert stat.S_IMODE(runner.state.parent.stat().st_mode) == 0o700

    # PostgreSQL asks every connection for the password: over TCP and on its socket, whoever connects.
    for name in [name for name in os.environ if name.startswith("PG")]:
        monkeypatch.delenv(name)  # libpq would send the test command's password
    no_password = dict(os.environ)
    for host in ("127.0.0.1", str(runner.state / "pg")):
        for password in (None, "wrong-password"):
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(
                    host=host,
                    port=runner.pg_port,
                    user="drivenow",
                    dbname="postgres",
                    password=password,
                    connect_timeout=5,
                ).close()
    refused = subprocess.run(
        [
            "bash",
            "-c",
            f'source {shlex.quote(str(LIB))}; "$(dn_pg_bindir)/psql" -h 127.0.0.1 '
            f"-p {runner.pg_port} -U drivenow -d postgres -w -tAc 'SELECT 1'",
        ],
        capture_output=True,
        text=True,
        env=no_password,
        timeout=30,
    )
    assert refused.returncode != 0 and "password" in refused.stderr
    with psycopg.connect(
        host="127.0.0.1", port=runner.pg_port, user="drivenow", dbname="postgres", password=secrets["DN_PG_PASSWORD"]
    ) as conn:
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)

    # The staff login it printed opens the admin.
    session = requests.Session()
    login_url = f"http://127.0.0.1:{runner.gateway_port}/inventory/admin/login/"
    page = session.get(login_url, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.post(
        login_url,
        data={
            "csrfmiddlewaretoken": token,
            "username": "staff",
            "password": secrets["DN_STAFF_PASSWORD"],
            "next": "/inventory/admin/",
        },
        headers={"Referer": login_url},
        timeout=10,
    )
    assert done.url.endswith("/inventory/admin/") and "Site administration" in done.text, done.url

    os.kill(runner.process.pid, signal.SIGTERM)
    assert_all_stopped(runner, running, 143)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("to", ["the script", "its process group"])
def test_every_way_of_stopping_run_sh_stops_everything_it_started(runner, sig, code, to):
    # A terminal's Ctrl-C signals the whole foreground process group; `kill` or a service manager the script.
    runner.start()
    running = runner.everything_running()
    assert runner.postmaster_pid() in running
    if to == "the script":
        os.kill(runner.process.pid, sig)
    else:
        os.killpg(runner.process.pid, sig)
    assert_all_stopped(runner, running, code)


def test_a_postgres_left_running_by_an_earlier_run_is_stopped_as_well(runner):
    # An earlier run killed outright (kill -9, a crash) leaves the checkout's cluster up; nobody else stops it.
    runner.start()
    killed = runner.everything_running() - {runner.postmaster_pid()} - children_of(runner.postmaster_pid())
    os.killpg(runner.process.pid, signal.SIGKILL)
    runner.process.wait()
    deadline = time.monotonic() + 10  # SIGKILLed processes are gone a moment later, their ports with them
    while any(alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    left_over = runner.postmaster_pid()
    assert left_over is not None and alive(left_over) and port_busy(runner.pg_port)

    runner.start()
    assert "left running by an earlier run" in runner.output
    running = runner.everything_running()
    assert left_over in running
    os.killpg(runner.process.pid, signal.SIGINT)
    assert_all_stopped(runner, running, 130)
