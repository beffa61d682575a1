#!/usr/bin/env python3
"""Render the gateway's nginx.conf from nginx.conf.template, for the local runner / tests or for docker compose.

    render.py local --state-dir .drivenow/nginx --inventory 127.0.0.1:3131 --inventory 127.0.0.1:3132 \
        --booking 127.0.0.1:1313 --booking 127.0.0.1:1314 [--listen 127.0.0.1:8080] [--internal-listen ...]
    render.py compose            # rewrites deploy/gateway/compose/nginx.conf

Standard library only: the local runner calls it before the virtualenv matters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "nginx.conf.template"
COMPOSE_OUT = HERE / "compose" / "nginx.conf"
INDEX_PAGE = HERE / "html" / "index.html"
# nginx refuses a config token longer than its read buffer (4 KiB): the page is set in pieces that stay below
# it even with every character escaped.
INDEX_PIECE = 2000

# Passive health checks: an instance failing twice within 10 s is left out for 10 s.
SERVER_PARAMS = "max_fails=2 fail_timeout=10s"

# The gateway's own errors, as the services render theirs (RFC 9457 problem+json with a stable `code`).
PROBLEMS = {
    400: (
        "bad_request",
        "Bad Request",
        "The request is malformed, or its path is not spelled canonically (no //, . or .. segments, no %-escapes).",
    ),
    404: ("not_found", "Not Found", "No such resource."),
    413: ("request_too_large", "Request Entity Too Large", "The request body is larger than 1 MiB."),
    502: ("bad_gateway", "Bad Gateway", "The service behind the gateway did not answer properly; try again."),
    503: ("service_unavailable", "Service Unavailable", "No instance of the service is available; try again."),
    504: ("gateway_timeout", "Gateway Timeout", "The service behind the gateway did not answer in time."),
}


def problem_body(status: int) -> str:
    code, title, detail = PROBLEMS[status]
    body = {"type": f"urn:drivenow:problem:{code}", "title": title, "status": status, "detail": detail, "code": code}
    return json.dumps(body, separators=(",", ":"))


def problem_locations() -> str:
    blocks = []
    for status in PROBLEMS:
        body = problem_body(status)
        assert "'" not in body
        blocks.append(
            f"        location = /_problem/{status} {{\n"
            f"            internal;\n"
            f"            default_type application/problem+json;\n"
            f"            return {status} '{body}';\n"
            f"        }}"
        )
    return "\n".join(blocks)


def index_page_lines() -> str:
    """The index page inlined into the config (`set` in pieces, one `return 200`): nginx's workers, which run as
    another user when started as root, then read no file of the checkout, whatever its permissions."""
    page = INDEX_PAGE.read_text()
    if "$" in page:
        raise SystemExit(f"render.py: {INDEX_PAGE} contains '$', which nginx would read as a variable")
    pieces = [page[i : i + INDEX_PIECE] for i in range(0, len(page), INDEX_PIECE)]
    lines = []
    for n, piece in enumerate(pieces):
        quoted = piece.replace("\\", "\\\\").replace("'", "\\'")
        lines.append(f"            set $drivenow_index_{n} '{quoted}';")
    lines.append('            return 200 "' + "".join(f"$drivenow_index_{n}" for n in range(len(pieces))) + '";')
    return "\n".join(lines)


def server_lines(addresses: list[str], *, resolve: bool) -> str:
    # `resolve` (open-source nginx >= 1.27.3, needs the upstream `zone`): nginx re-resolves the name while
    # running and balances over every address it gets, so instances added by `--scale` join by themselves.
    lines = []
    if resolve:
        lines.append(f"        zone {addresses[0].split(':')[0]}_upstream 64k;")
    for address in addresses:
        lines.append(f"        server {address}{' resolve' if resolve else ''} {SERVER_PARAMS};")
    return "\n".join(lines)


def render(values: dict[str, str]) -> str:
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    left = re.findall(r"\{\{\w+\}\}", text)
    if left:
        raise SystemExit(f"render.py: unfilled placeholders {sorted(set(left))}")
    return text


def render_local(args: argparse.Namespace) -> str:
    state = Path(args.state_dir).resolve()
    user = "# (workers run as the user who started nginx)"
    if os.geteuid() == 0:
        # nginx refuses to run workers as root by default; they read no file (the index page is inlined).
        user = f"user {args.user};"
    return render(
        {
            "user": user,
            "worker_processes": str(args.workers),
            "pid": str(state / "nginx.pid"),
            "error_log": str(state / "logs" / "error.log"),
            "access_log": str(state / "logs" / "access.log"),
            "temp": str(state / "tmp"),
            "resolver": "",
            "inventory_servers": server_lines(args.inventory, resolve=False),
            "booking_servers": server_lines(args.booking, resolve=False),
            "listen": args.listen,
            "internal_listen": args.internal_listen,
            "index_page": index_page_lines(),
            "problem_locations": problem_locations(),
        }
    )


def render_compose() -> str:
    return render(
        {
            "user": "# (workers run as the image's built-in unprivileged user)",
            "worker_processes": "auto",
            "pid": "/tmp/nginx.pid",
            "error_log": "stderr",
            "access_log": "/dev/stdout",
            "temp": "/var/cache/nginx",  # exists in the nginx image; nginx makes one level below
            # Docker's embedded DNS; short validity so scaled-out (or replaced) containers are seen within 5 s.
            "resolver": "\n    resolver 127.0.0.11 valid=5s ipv6=off;\n    resolver_timeout 2s;\n",
            "inventory_servers": server_lines(["inventory:3131"], resolve=True),
            "booking_servers": server_lines(["booking:1313"], resolve=True),
            "listen": "8080",
            "internal_listen": "8081",
            "index_page": index_page_lines(),
            "problem_locations": problem_locations(),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="target", required=True)
    local = sub.add_parser("local", help="fixed upstream addresses, private pid/log/temp dirs")
    local.add_argument("--state-dir", required=True, help="pid, logs/ and tmp/ go here")
    local.add_argument("--inventory", action="append", required=True, help="host:port, once per instance")
    local.add_argument("--booking", action="append", required=True, help="host:port, once per instance")
    local.add_argument("--listen", default="127.0.0.1:8080")
    local.add_argument("--internal-listen", default="127.0.0.1:8081")
    local.add_argument("--workers", type=int, default=1)
    local.add_argument("--user", default="nobody nogroup", help="worker user and group when started as root")
    local.add_argument("--out", help="file to write (default: stdout)")
    compose = sub.add_parser("compose", help="service names re-resolved through Docker's DNS")
    compose.add_argument("--out", default=str(COMPOSE_OUT))
    args = parser.parse_args(argv)

    if args.target == "local":
        state = Path(args.state_dir)
        for sub_dir in ("logs", "tmp"):
            (state / sub_dir).mkdir(parents=True, exist_ok=True)
        text = render_local(args)
    else:
        text = render_compose()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
