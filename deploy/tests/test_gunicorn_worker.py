"""The services' gunicorn worker sends each answer's head and body in one write.

A worker killed between two writes leaves nginx a head without a body: it is too late to retry on the other
instance and the client gets a broken answer (test_failover.py saw it). The bytes on the wire stay gunicorn's."""

from __future__ import annotations

import socket

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.http.wsgi import Response

from drivenow_contracts.server.gunicorn_worker import HeadWithBodyResponse


class RecordingSocket:
    """A real socket whose writes are counted."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.writes = sock, []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.sock.sendall(data)


def answer(response_class, request: bytes, status: str, headers: list[tuple[str, str]], chunks: list[bytes]):
    server, client = socket.socketpair()
    with server, client:
        client.sendall(request)
        cfg = Config()
        req = next(iter(RequestParser(cfg, server, ("127.0.0.1", 1))))
        recording = RecordingSocket(server)
        response = response_class(req, recording, cfg)
        response.start_response(status, headers)
        for chunk in chunks:
            response.write(chunk)
        response.close()
    return recording.writes


GET = b"GET /api/v1/cars/ HTTP/1.1\r\nHost: x\r\n\r\n"
# case → (request, status, headers, body chunks, writes of gunicorn's Response, writes of ours)
CASES = {
    "a JSON body": (GET, "200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")], [b"{}"], 2, 1),
    "a chunked body": (GET, "200 OK", [("Content-Type", "text/plain")], [b"first", b"second"], 4, 3),
    "no body": (GET, "204 No Content", [], [b""], 1, 1),
    "a HEAD": (b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "200 OK", [("Content-Length", "2")], [b"{}"], 1, 1),
}


def without_date(writes: list[bytes]) -> list[bytes]:
    return [line for line in b"".join(writes).split(b"\r\n") if not line.startswith(b"Date: ")]


@pytest.mark.parametrize("case", CASES)
def test_the_head_leaves_with_the_first_body_bytes_and_the_wire_is_gunicorns(case):
    *exchange, their_writes, our_writes = CASES[case]
    theirs, ours = answer(Response, *exchange), answer(HeadWithBodyResponse, *exchange)
    assert without_date(ours) == without_date(theirs)
    assert (len(theirs), len(ours)) == (their_writes, our_writes)
    assert b"\r\n\r\n" in ours[0]  # the whole head is in the first write...
    if case in ("a JSON body", "a chunked body"):
        assert ours[0].endswith((b"\r\n\r\n{}", b"\r\n\r\n5\r\nfirst\r\n"))  # ...with the first body bytes
