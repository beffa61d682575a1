"""The gateway's nginx config: both renderings pass `nginx -t`, the committed compose copy is current, and the
routing rules the issue asks for are in it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stack import RENDER, REPO_ROOT, nginx_test, nginx_version

COMPOSE_CONF = REPO_ROOT / "deploy" / "gateway" / "compose" / "nginx.conf"
# `server name:port resolve` in an upstream is open-source nginx from 1.27.3 on (the compose image is 1.28).
RESOLVE_SINCE = (1, 27, 3)


def render_local(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "nginx.conf"
    subprocess.run(
        [
            sys.executable,
            str(RENDER),
            "local",
            "--state-dir",
            str(tmp_path),
            "--out",
            str(out),
            "--inventory",
            "127.0.0.1:3131",
            "--inventory",
            "127.0.0.1:3132",
            "--booking",
            "127.0.0.1:1313",
            "--booking",
            "127.0.0.1:1314",
            *extra,
        ],
        check=True,
        timeout=30,
    )
    return out


def test_local_config_passes_nginx_t(nginx, tmp_path):
    result = nginx_test(nginx, render_local(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_compose_config_passes_nginx_t(nginx, tmp_path):
    text = COMPOSE_CONF.read_text()
    if nginx_version(nginx) < RESOLVE_SINCE:
        # This nginx predates `resolve` and cannot resolve the compose service names: check everything else
        # by pointing the upstream servers at loopback without `resolve`. The real file runs in nginx:1.28.
        text = re.sub(r"server (inventory|booking):(\d+) resolve", r"server 127.0.0.1:\2", text)
    # The compose paths (pid in /tmp, temp dirs, the html root) are the container's: keep them inside tmp_path.
    text = text.replace("/tmp/nginx.pid", str(tmp_path / "nginx.pid"))
    text = text.replace("/var/cache/nginx", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "compose.conf"
    conf.write_text(text)
    result = nginx_test(nginx, conf, tmp_path)
    assert result.returncode == 0, result.stderr


def test_committed_compose_config_is_rendered_from_the_template(tmp_path):
    out = tmp_path / "nginx.conf"
    subprocess.run([sys.executable, str(RENDER), "compose", "--out", str(out)], check=True, timeout=30)
    assert out.read_text() == COMPOSE_CONF.read_text(), (
        "deploy/gateway/compose/nginx.conf is stale: run `python deploy/gateway/render.py compose`"
    )


def test_compose_upstreams_re_resolve_the_service_names():
    text = COMPOSE_CONF.read_text()
    assert "resolver 127.0.0.11" in text
    for service, port in (("inventory", 3131), ("booking", 1313)):
        block = re.search(rf"upstream {service} \{{(.*?)\}}", text, re.S)
        assert block, service
        assert re.search(r"zone \w+ 64k;", block.group(1))
        assert re.search(rf"server {service}:{port} resolve max_fails=\d+ fail_timeout=\d+s;", block.group(1))
        assert "keepalive 32;" in block.group(1)


def test_local_config_has_several_servers_per_upstream_with_passive_health_checks(tmp_path):
    text = render_local(tmp_path).read_text()
    for service, ports in (("inventory", (3131, 3132)), ("booking", (1313, 1314))):
        block = re.search(rf"upstream {service} \{{(.*?)\}}", text, re.S).group(1)
        for port in ports:
            assert f"server 127.0.0.1:{port} max_fails=2 fail_timeout=10s;" in block
        assert "keepalive " in block and "keepalive_timeout 4s;" in block


@pytest.mark.parametrize(
    "directive",
    [
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header X-Request-ID $drivenow_request_id;",
        "add_header X-Request-ID $drivenow_request_id always;",
        "proxy_next_upstream error timeout invalid_header;",
        "client_max_body_size 1m;",
        "proxy_connect_timeout 2s;",
        "proxy_read_timeout 35s;",
        "log_format drivenow_json escape=json",
        "access_log /dev/stdout drivenow_json;",
        "error_page 502 /_problem/502;",
        "error_page 504 /_problem/504;",
        "location ^~ /api/v1/reservations {",
    ],
)
def test_compose_config_has(directive):
    assert directive in COMPOSE_CONF.read_text()


def test_retries_never_include_non_idempotent_requests():
    text = COMPOSE_CONF.read_text()
    for line in re.findall(r"^\s*proxy_next_upstream\s[^;]*;", text, re.M):
        assert "non_idempotent" not in line


def test_gateway_problem_bodies_are_problem_json():
    text = COMPOSE_CONF.read_text()
    bodies = {status: body for status, body in re.findall(r"return (\d{3}) '(\{.*?\})';", text) if status >= "400"}
    assert set(bodies) >= {"404", "413", "502", "503", "504"}
    for status, body in bodies.items():
        problem = json.loads(body)
        assert problem["status"] == int(status)
        assert problem["type"] == f"urn:drivenow:problem:{problem['code']}"
        assert set(problem) == {"type", "title", "status", "detail", "code"}
    assert json.loads(bodies["404"]) == {
        "type": "urn:drivenow:problem:not_found",
        "title": "Not Found",
        "status": 404,
        "detail": "No such resource.",
        "code": "not_found",
    }
