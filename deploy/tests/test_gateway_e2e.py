"""End to end through the gateway: nginx in front of two gunicorn instances of each service.

The rental tour, the routing (reservations hidden), request ids, the docs under their prefixes, and the
gateway's own problem+json errors."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from stack import (
    HAS_BOOKING,
    NO_BOOKING_REASON,
    REPO_ROOT,
    SERVICE_TOKEN,
    STAFF_PASSWORD,
    Gateway,
    Stack,
    local_stack,
)

pytestmark = pytest.mark.live
needs_booking = pytest.mark.skipif(not HAS_BOOKING, reason=NO_BOOKING_REASON)

NOT_FOUND = {
    "type": "urn:drivenow:problem:not_found",
    "title": "Not Found",
    "status": 404,
    "detail": "No such resource.",
    "code": "not_found",
}


@pytest.fixture(scope="module")
def stack(nginx: str) -> Iterator[Stack]:
    with local_stack("e2e", nginx) as running:
        yield running


@pytest.fixture
def staff(stack: Stack) -> requests.Session:
    return stack.staff()


def access_log(stack: Stack) -> list[dict]:
    return [json.loads(line) for line in stack.gateway.access_log.read_text().splitlines() if line.strip()]


def log_entries(stack: Stack, request_id: str, *, timeout: float = 3.0) -> list[dict]:
    """The gateway's JSON access-log lines of one request id (nginx writes them when the answer is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [entry for entry in access_log(stack) if entry["request_id"] == request_id]
        if entries or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def instance_logged(stack: Stack, entry: dict, request_id: str, *, timeout: float = 5.0) -> bool:
    """The instance that served `entry` wrote `rid=<request_id>` in its access log (written after the answer)."""
    served_by = next(s for s in [*stack.inventory, *stack.booking] if entry["upstream_addr"] == f"127.0.0.1:{s.port}")
    deadline = time.monotonic() + timeout
    while f"rid={request_id}" not in served_by.log_path.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def make_car(stack: Stack, staff: requests.Session) -> str:
    created = staff.post(
        f"{stack.gateway.url}/api/v1/cars/",
        json={"model": f"Gateway {uuid.uuid4().hex[:6]}", "year": 2024, "status": "available"},
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


# -- routing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/reservations/"),
        ("POST", "/api/v1/reservations/"),
        ("GET", "/api/v1/reservations/0b5e7d3c-8f4a-4d2b-9c1e-5a6f7b8c9d00/"),
        ("POST", "/api/v1/reservations/0b5e7d3c-8f4a-4d2b-9c1e-5a6f7b8c9d00/release/"),
        ("GET", "/api/v1/reservations"),
        ("GET", "/inventory/api/v1/reservations/"),
    ],
)
def test_reservations_are_not_reachable_through_the_gateway(stack, method, path):
    # Even with the service account's token: the route does not exist on the public port.
    response = requests.request(
        method,
        stack.gateway.url + path,
        json={"id": str(uuid.uuid4())},
        headers={"Authorization": f"Token {SERVICE_TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json() == NOT_FOUND


def test_reservations_still_work_on_the_internal_listener(stack):
    response = requests.get(
        f"{stack.gateway.internal_url}/api/v1/reservations/{uuid.uuid4()}/",
        headers={"Authorization": f"Token {SERVICE_TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "reservation_not_found"  # inventory's own answer, not the gateway's


def test_cars_go_to_inventory_and_both_instances_serve(stack):
    for _ in range(8):
        response = requests.get(f"{stack.gateway.url}/api/v1/cars/?limit=1", timeout=5)
        assert response.status_code == 200, response.text
        assert set(response.json()) >= {"count", "results"}
    upstreams = {entry["upstream_addr"] for entry in access_log(stack) if entry["uri"] == "/api/v1/cars/?limit=1"}
    assert upstreams == {f"127.0.0.1:{service.port}" for service in stack.inventory}


@needs_booking
def test_customers_and_rentals_go_to_booking(stack, staff):
    for path in ("/api/v1/customers/", "/api/v1/rentals/", "/api/v1/rate-plans/", "/api/v1/extras/"):
        response = staff.get(stack.gateway.url + path, timeout=5)
        assert response.status_code == 200, response.text
    # A provider's webhook reaches booking, which checks its signature (none here: 400 bad_signature).
    unsigned = requests.post(f"{stack.gateway.url}/api/v1/payments/webhooks/fake/", json={}, timeout=5)
    assert (unsigned.status_code, unsigned.json()["code"]) == (400, "bad_signature")
    unauthenticated = requests.get(f"{stack.gateway.url}/api/v1/rentals/", timeout=5)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["Content-Type"].startswith("application/problem+json")  # booking's own


def test_unknown_paths_are_a_problem_json_404(stack):
    for path in ("/nothing-here", "/api/v2/cars/", "/inventory/metrics", "/booking/metrics"):
        response = requests.get(stack.gateway.url + path, timeout=5)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json() == NOT_FOUND


def test_the_index_page_links_both_services_docs(stack):
    response = requests.get(stack.gateway.url + "/", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    for link in ("/inventory/docs", "/booking/docs", "/inventory/redoc", "/booking/schema"):
        assert f'href="{link}"' in response.text


# Spellings of a path that nginx normalises ($uri) while the request line it would pass on keeps them: each
# once reached gunicorn with a SCRIPT_NAME its path did not start with, and came back as an HTML 500.
NON_CANONICAL_PATHS = [
    "//inventory/docs",
    "/%69nventory/docs",
    "/booking/docs/../../inventory/docs",
    "//booking/admin/",
    "/inventory//docs",
    "/inventory/./docs",
    "/inventory/docs/%2e%2e/admin/",
    "/%2e%2e/inventory/docs",
    "/../inventory/docs",
    "/booking/%61dmin/",
    "//api/v1/cars/",
    "/api/v1//rentals/",
    "/api/v1/cars/%2e/",
    "/api/v1/reservations/../cars/",
    "//static/admin/css/base.css",
]


def raw_request(url: str, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """The path exactly as given (requests and urllib3 would normalise dot segments before sending)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def assert_problem_4xx(response: http.client.HTTPResponse, what: str) -> dict:
    assert 400 <= response.status < 500, (what, response.status, response.body[:300])  # type: ignore[attr-defined]
    assert response.getheader("Content-Type") == "application/problem+json", (what, response.getheader("Content-Type"))
    problem = json.loads(response.body)  # type: ignore[attr-defined]
    assert problem["status"] == response.status and problem["code"], what
    return problem


@pytest.mark.parametrize("path", NON_CANONICAL_PATHS)
@pytest.mark.parametrize("listener", ["public", "internal"])
def test_a_non_canonical_path_is_a_problem_json_4xx_on_both_listeners(stack, listener, path):
    url = stack.gateway.url if listener == "public" else stack.gateway.internal_url
    for method in ("GET", "POST"):
        assert_problem_4xx(raw_request(url, method, path), f"{method} {path}")


def test_the_canonical_spellings_still_route_by_prefix(stack):
    expected = {
        "/inventory/docs": 200,
        "/api/v1/cars/": 200,
        "/api/v1/locations/": 200,
        "/api/v1/vehicle-classes/": 200,
        "/api/v1/availability/?location=X": 400,
        "/inventory/admin/": 302,
        "/static/admin/css/base.css": 200,
        "/inventory/docs?next=/a/../b//c": 200,
    }
    if HAS_BOOKING:
        expected |= {"/booking/docs": 200, "/booking/admin/": 302}
    for path, status in expected.items():
        assert raw_request(stack.gateway.url, "GET", path).status == status, path


@pytest.mark.parametrize(
    ("request_bytes", "what"),
    [
        (b"GET /docs HTTP/1.1\r\nHost: x\r\nSCRIPT_NAME: /inventory\r\n\r\n", "a path outside its SCRIPT_NAME"),
        (b"GET //inventory/docs HTTP/1.1\r\nHost: x\r\nSCRIPT_NAME: /inventory\r\n\r\n", "// before the prefix"),
        (b"GET /docs HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "a malformed header"),
        (b"GET /docs HTTP/9.9\r\nHost: x\r\n\r\n", "an unknown HTTP version"),
        (b"G(T /docs HTTP/1.1\r\nHost: x\r\n\r\n", "a malformed method"),
    ],
)
def test_an_instance_reached_directly_answers_a_bad_request_with_problem_json(stack, request_bytes, what):
    # gunicorn answers these itself, before Django: with the service's problem+json, not its own HTML page.
    for instance in [*stack.inventory, *stack.booking]:
        with socket.create_connection(("127.0.0.1", instance.port), timeout=10) as conn:
            conn.sendall(request_bytes)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        assert 400 <= status < 500, (what, head)
        assert b"\r\ncontent-type: application/problem+json" in head.lower(), (what, head)
        assert json.loads(body)["status"] == status, what


def test_the_gateway_serves_its_pages_from_a_checkout_only_its_owner_can_enter(nginx, tmp_path):
    # A clone in a `mktemp -d` directory or a Debian 12 home (mode 700): nginx's workers, which drop from root to
    # another user, cannot read anything under it. Nothing the gateway answers may need them to.
    checkout = tmp_path / "clone"
    checkout.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o700)
    shutil.copytree(REPO_ROOT / "deploy" / "gateway", checkout / "deploy" / "gateway")
    from drivenow_contracts.testing import free_port

    gateway = Gateway(
        nginx,
        inventory=[f"127.0.0.1:{free_port()}"],
        booking=[f"127.0.0.1:{free_port()}"],
        prefix=checkout / ".drivenow" / "nginx",
        render_script=checkout / "deploy" / "gateway" / "render.py",
    )
    try:
        gateway.start()
        index = requests.get(gateway.url + "/", timeout=5)
        assert index.status_code == 200, index.text[:300]
        assert index.headers["Content-Type"].startswith("text/html")
        assert index.text == (REPO_ROOT / "deploy" / "gateway" / "html" / "index.html").read_text()
        assert requests.get(gateway.url + "/nothing-here", timeout=5).json() == NOT_FOUND
        assert requests.get(gateway.url + "/api/v1/cars/", timeout=10).json()["code"] == "bad_gateway"
        assert_problem_4xx(raw_request(gateway.url, "GET", "//inventory/docs"), "//inventory/docs")
    finally:
        gateway.cleanup()


# -- request ids ------------------------------------------------------------------------------------------


def test_a_request_id_is_made_when_absent_and_reaches_the_instance(stack):
    response = requests.get(f"{stack.gateway.url}/api/v1/cars/?limit=2", timeout=5)
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [entry] = log_entries(stack, request_id)
    # The instance that served it logged the same id (gunicorn's access log: rid=<the id it got>).
    assert instance_logged(stack, entry, request_id)


def test_a_client_request_id_is_kept_and_passed_on(stack):
    request_id = f"client-{uuid.uuid4().hex[:12]}"
    response = requests.get(f"{stack.gateway.url}/api/v1/cars/", headers={"X-Request-ID": request_id}, timeout=5)
    assert response.headers["X-Request-ID"] == request_id
    assert response.headers.get("X-Request-ID").count(",") == 0  # exactly one header, not the gateway's + the service's
    [entry] = log_entries(stack, request_id)
    assert entry["status"] == 200 and entry["method"] == "GET"
    assert instance_logged(stack, entry, request_id)


def test_a_malformed_request_id_is_replaced(stack):
    response = requests.get(f"{stack.gateway.url}/api/v1/cars/", headers={"X-Request-ID": "bad id <script>"}, timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_gateway_errors_carry_a_request_id_too(stack):
    response = requests.get(
        f"{stack.gateway.url}/api/v1/reservations/", headers={"X-Request-ID": "rid-404-check"}, timeout=5
    )
    assert response.headers["X-Request-ID"] == "rid-404-check"


# -- limits and gateway errors ----------------------------------------------------------------------------


def test_a_body_over_one_mebibyte_is_refused_by_the_gateway(stack, staff):
    response = staff.post(
        f"{stack.gateway.url}/api/v1/cars/",
        data=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "request_too_large"


def test_no_live_instance_is_a_problem_json_502(nginx, tmp_path):
    from drivenow_contracts.testing import free_port

    dead = Gateway(nginx, inventory=[f"127.0.0.1:{free_port()}"], booking=[f"127.0.0.1:{free_port()}"])
    try:
        dead.start()
        for path in ("/api/v1/cars/", "/api/v1/rentals/", "/static/admin/css/base.css"):
            response = requests.get(dead.url + path, timeout=10)
            assert response.status_code == 502, path
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.json()["code"] == "bad_gateway"
            assert response.headers["X-Request-ID"]
    finally:
        dead.cleanup()


# -- docs, admin and static files under the service prefixes ---------------------------------------------


@pytest.mark.parametrize("service", ["inventory", "booking"])
def test_swagger_ui_loads_through_the_prefix(stack, service):
    if service == "booking" and not HAS_BOOKING:
        pytest.skip(NO_BOOKING_REASON)
    page = requests.get(f"{stack.gateway.url}/{service}/docs", timeout=5)
    assert page.status_code == 200
    # The page fetches its schema from the URL the service renders: it carries the prefix...
    assert f'url: "/{service}/schema"' in page.text
    schema = requests.get(f"{stack.gateway.url}/{service}/schema?format=json", timeout=5)
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert ("/api/v1/cars/" if service == "inventory" else "/api/v1/rentals/") in paths
    # ...and every script, stylesheet and icon it references loads through the gateway.
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        loaded = requests.get(stack.gateway.url + asset, timeout=10)
        assert loaded.status_code == 200, asset
        assert len(loaded.content) > 0


@pytest.mark.parametrize("service", ["inventory", "booking"])
def test_redoc_and_admin_work_through_the_prefix(stack, service):
    if service == "booking" and not HAS_BOOKING:
        pytest.skip(NO_BOOKING_REASON)
    redoc = requests.get(f"{stack.gateway.url}/{service}/redoc", timeout=5)
    assert redoc.status_code == 200 and f"/{service}/schema" in redoc.text
    admin = requests.get(f"{stack.gateway.url}/{service}/admin/", allow_redirects=False, timeout=5)
    assert admin.status_code == 302
    assert admin.headers["Location"].startswith(f"/{service}/admin/login/")
    login = requests.get(f"{stack.gateway.url}/{service}/admin/login/", timeout=5)
    assert login.status_code == 200
    assert f'action="/{service}/admin/login/' in login.text
    # The two admins' cookies are scoped to their prefix, so logging in to one does not log out the other.
    assert f"Path=/{service}/" in login.headers["Set-Cookie"]
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', login.text):
        assert requests.get(stack.gateway.url + asset, timeout=5).status_code == 200, asset


@needs_booking
def test_staff_can_log_in_to_the_booking_admin_through_the_gateway(stack):
    session = requests.Session()
    login_url = f"{stack.gateway.url}/booking/admin/login/"
    page = session.get(login_url, timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.post(
        login_url,
        data={"csrfmiddlewaretoken": token, "username": "staff", "password": STAFF_PASSWORD, "next": "/booking/admin/"},
        headers={"Referer": login_url, "Origin": stack.gateway.url},
        timeout=5,
    )
    assert done.status_code == 200
    assert done.url.endswith("/booking/admin/"), done.url
    assert "Site administration" in done.text


# -- the rental tour --------------------------------------------------------------------------------------


@needs_booking
def test_the_rental_tour_through_the_gateway(stack, staff):
    base = stack.gateway.url
    car_id = make_car(stack, staff)
    customer = staff.post(
        f"{base}/api/v1/customers/", json={"name": "Gateway Tour", "email": f"tour-{uuid.uuid4().hex[:8]}@example.com"}
    )
    assert customer.status_code == 201, customer.text

    request_id = f"tour-{uuid.uuid4().hex[:8]}"
    rental = staff.post(
        f"{base}/api/v1/rentals/",
        json={"car_id": car_id, "customer_id": customer.json()["id"]},
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Request-ID": request_id},
    )
    assert rental.status_code == 201, rental.text
    assert rental.json()["status"] == "active"
    assert requests.get(f"{base}/api/v1/cars/{car_id}/", timeout=5).json()["status"] == "rented"

    # Booking took the car through the gateway's internal listener, with the client's request id.
    entries = log_entries(stack, request_id)
    assert {(e["method"], e["uri"].split("?")[0]) for e in entries} >= {
        ("POST", "/api/v1/rentals/"),
        ("POST", "/api/v1/reservations/"),
    }
    internal = next(e for e in entries if e["uri"] == "/api/v1/reservations/")
    assert internal["server_port"] == str(stack.gateway.internal_port)

    ended = staff.post(f"{base}/api/v1/rentals/{rental.json()['id']}/end/", json={})
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "completed"
    deadline = time.monotonic() + 15
    while requests.get(f"{base}/api/v1/cars/{car_id}/", timeout=5).json()["status"] != "available":
        assert time.monotonic() < deadline, "the car was not freed within 15 s"
        time.sleep(0.2)


@needs_booking
def test_a_rental_on_a_rented_car_is_refused_through_the_gateway(stack, staff):
    base = stack.gateway.url
    car_id = make_car(stack, staff)
    customers = staff.get(f"{base}/api/v1/customers/").json()["results"]
    first = staff.post(f"{base}/api/v1/rentals/", json={"car_id": car_id, "customer_id": customers[0]["id"]})
    assert first.status_code == 201, first.text
    second = staff.post(f"{base}/api/v1/rentals/", json={"car_id": car_id, "customer_id": customers[1]["id"]})
    assert second.status_code == 409
    assert second.json()["code"] == "car_unavailable"
    assert staff.post(f"{base}/api/v1/rentals/{first.json()['id']}/end/", json={}).status_code == 200
