"""gunicorn's threaded worker, answering the requests gunicorn refuses itself as problem+json like the services.

gunicorn turns a request it cannot parse (a malformed request line, header or chunk, a path outside the
SCRIPT_NAME its forwarder sent) into its own HTML page before Django sees it. This worker keeps gunicorn's
logging and access log but answers those with the same RFC 9457 body every other DriveNow error has; a path
outside SCRIPT_NAME is the request's fault, so it is a 400 here, not gunicorn's 500.

It also sends a response's head and the first body bytes in one write. gunicorn writes them apart, so a worker
killed between the two left the gateway a head without a body: too late for nginx to retry the request on the
other instance, and the client got a broken response. In one write (a Django body is one chunk) the gateway gets
all of the answer or nothing, and nothing is retried."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.http import errors, wsgi
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import ThreadWorker

# Most specific first; a gunicorn refusal not listed is a plain 400.
_REFUSALS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], int, str]] = [
    (errors.LimitRequestLine, 414, "URI Too Long"),
    (errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (errors.ForbiddenProxyRequest, 403, "Forbidden"),
    (errors.ExpectationFailed, 417, "Expectation Failed"),
    (errors.UnsupportedTransferCoding, 501, "Not Implemented"),
]
_APPLICATION_FAULTS = (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName)


def _answer(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, title, code, detail) for an exception gunicorn's worker caught."""
    if isinstance(exc, errors.ParseException) and not isinstance(exc, _APPLICATION_FAULTS):
        status, title = next(
            ((status, title) for kinds, status, title in _REFUSALS if isinstance(exc, kinds)), (400, "Bad Request")
        )
        if isinstance(exc, errors.ConfigurationProblem):
            detail = "The request path does not start with the prefix (SCRIPT_NAME) it was forwarded with."
        else:
            detail = f"{title}: {exc}"[:300]
        return status, title, "bad_request", detail
    return 500, "Internal Server Error", "internal_error", "Something went wrong on our side."


def problem_response(status: int, title: str, code: str, detail: str) -> bytes:
    body = json.dumps(
        {"type": f"urn:drivenow:problem:{code}", "title": title, "status": status, "detail": detail, "code": code},
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body


class HeadWithBodyResponse(Response):
    """gunicorn's Response, holding the head back until the first body bytes go out with it."""

    _holding = False
    _head = b""
    headers_sent: bool

    def send_headers(self) -> None:
        if self.headers_sent or not self._holding:
            super().send_headers()
            return
        lines = self.default_headers() + [f"{name}: {value}\r\n" for name, value in self.headers]
        self._head = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def write(self, arg: bytes) -> None:
        self._holding = True
        try:
            super().write(arg)
        finally:
            self._holding = False
        if self._head:  # no body bytes went out (a body-less answer, an empty chunk): the head alone
            head, self._head = self._head, b""
            util.write(self.sock, head)

    def _emit_body(self, data: bytes) -> None:
        head, self._head = self._head, b""
        if not head:
            super()._emit_body(data)
        elif self.chunked:
            self.sock.sendall(head + b"%X\r\n%s\r\n" % (len(data), data))
        else:
            self.sock.sendall(head + data)


class ProblemThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        wsgi.Response = HeadWithBodyResponse  # what wsgi.create builds for each request this worker answers
        super().init_process()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket has no peer address
        status, title, code, detail = _answer(exc)
        if status == 500:
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        else:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
        if req is None and isinstance(exc, errors.InvalidHeaderName | errors.InvalidHeader):
            req = getattr(exc, "req", None)  # for the access log, as gunicorn does
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            response = Response(req, client, self.cfg)
            response.status = f"{status} {title}"
            response.response_length = len(detail)
            self.log.access(response, req, environ, datetime.now() - started)
        try:
            util.write_nonblock(client, problem_response(status, title, code, detail))
        except Exception:  # the client is gone: nothing to answer
            self.log.debug("Failed to send error message.")
