"""The plain HTTP side at its edges, with raw requests over a socket to a real server: methods
other than GET and HEAD (405 with Allow), request bodies (an error status, never an empty
reply), heads websockets' parser refuses (400, 414, 431), HEAD, ETag and 304, gzip. And a
Hypothesis fuzz over methods, paths, headers and bodies: always a well-formed status line,
never a dropped connection, never a traceback in the server's log.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import seconds
from tests.test_fuzz import Server

ROUTES = ["/", "/index.html", "/static/app.js", "/static/style.css", "/healthz", "/api/state/territory",
          "/api/events", "/api/catalog", "/api/schema", "/metrics", "/no/such/page", "/ws"]
STATUS = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) [^\r\n]*\r\n")


def raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `data` as is, read until the server closes: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(10)) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return parse(answer)


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    found = STATUS.match(answer)
    assert found, f"not an HTTP answer: {answer[:200]!r}"
    head, _, body = answer.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(found.group(1)), headers, body


def request(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k.replace('_', '-')}: {v}"
                                                               for k, v in headers.items())]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


@pytest.fixture
def server(db: Any) -> Iterator[Server]:
    s = Server(db)
    yield s
    s.close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO"])
def test_methods_other_than_get_and_head_get_405_with_allow_on_every_route(server, method):
    for path in ROUTES:
        status, headers, body = raw(server.port, request(server.port, method, path))
        assert status == 405, (method, path, status, body)
        assert headers["allow"] == "GET, HEAD"
        error = json.loads(body)
        assert error["type"] == "error" and error["code"] == "method_not_allowed" and method in error["message"]


def test_a_request_with_a_body_gets_an_error_status_never_an_empty_reply(server):
    port = server.port
    status, headers, body = raw(port, request(port, "POST", "/api/events", b'{"events": []}'))
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, _, body = raw(port, request(port, "GET", "/api/events", b"hello"))
    assert status == 413 and json.loads(body)["code"] == "body_not_accepted"
    # a body larger than the socket buffers: answered, not reset (the server lingers until it is sent)
    status, _, body = raw(port, request(port, "POST", "/healthz", b"x" * 3_000_000))
    assert status == 405
    status, _, body = raw(port, request(port, "GET", "/healthz", b"x" * 3_000_000))
    assert status == 413
    chunked = (b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
    assert raw(port, chunked)[0] == 405
    assert raw(port, chunked.replace(b"POST", b"GET"))[0] == 413


def test_heads_websockets_refuses_are_answered_with_json_errors(server):
    port = server.port
    for data, expected in [(b"NONSENSE\r\n\r\n", 400), (b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", 400),
                           (b"GET /\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
                           (b"GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 400),
                           (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
                           (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
                           (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431)]:
        status, _, body = raw(port, data)
        assert status == expected, (data[:40], status, body)
        assert json.loads(body)["type"] == "error"


def test_head_answers_the_get_headers_without_a_body(server):
    port = server.port
    for path in ["/", "/static/app.js", "/healthz", "/api/state/territory", "/api/events", "/api/schema",
                 "/metrics", "/no/such/page"]:
        get_status, get_headers, get_body = raw(port, request(port, "GET", path))
        status, headers, body = raw(port, request(port, "HEAD", path))
        assert status == get_status and body == b"", path
        assert headers["content-length"] == str(len(get_body)) == get_headers["content-length"], path
        assert headers["content-type"] == get_headers["content-type"]
    status, headers, body = raw(port, request(port, "HEAD", "/ws"))
    assert status == 426 and body == b"" and headers["upgrade"] == "websocket"


def test_etags_are_strong_content_hashes_and_if_none_match_gives_304(server):
    port = server.port
    for path in ["/static/app.js", "/", "/api/state/territory", "/api/schema", "/healthz"]:
        status, headers, body = raw(port, request(port, "GET", path))
        tag = headers["etag"]
        assert status == 200 and re.fullmatch(r'"[0-9a-f]{32}"', tag), (path, tag)
        assert raw(port, request(port, "GET", path))[1]["etag"] == tag  # the same content, the same tag
        status, again, body = raw(port, request(port, "GET", path, If_None_Match=tag))
        assert status == 304 and body == b"" and again["etag"] == tag, path
        assert raw(port, request(port, "GET", path, If_None_Match=f'"other", W/{tag}'))[0] == 304
        assert raw(port, request(port, "GET", path, If_None_Match='"other"'))[0] == 200
        assert raw(port, request(port, "HEAD", path, If_None_Match=tag))[0] == 304


def test_an_append_changes_the_etag_of_what_it_changes(server, db):
    from websockets.sync.client import connect

    port = server.port
    _, before, _ = raw(port, request(port, "GET", "/healthz"))
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "append", "events": [{"type": "ActorRegistered", "actor": "newcomer",
                                                        "name": "Newcomer", "kind": "state",
                                                        "occurred_on": "2014-06-10",
                                                        "sources": [{"publisher": "Wire"}]}]}))
        assert json.loads(ws.recv(timeout=seconds(5)))["type"] == "appended"
    status, after, _ = raw(port, request(port, "GET", "/healthz", If_None_Match=before["etag"]))
    assert status == 200 and after["etag"] != before["etag"]


def test_gzip_when_the_client_accepts_it_with_vary(server):
    port = server.port
    status, headers, body = raw(port, request(port, "GET", "/metrics", Accept_Encoding="gzip"))
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body).startswith(b"# HELP tracker_")
    for path in ["/static/app.js", "/api/state/territory", "/api/schema", "/api/events"]:
        status, plain, identity = raw(port, request(port, "GET", path))
        assert status == 200 and "content-encoding" not in plain and plain["vary"] == "Accept-Encoding"
        status, headers, body = raw(port, request(port, "GET", path, Accept_Encoding="br, gzip;q=0.8"))
        assert status == 200 and headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(body) == identity and int(headers["content-length"]) == len(body) < len(identity)
        assert headers["etag"] == plain["etag"][:-1] + '-gzip"'  # a strong tag per representation
        assert raw(port, request(port, "GET", path, If_None_Match=headers["etag"],
                                 Accept_Encoding="gzip"))[0] == 304
        assert "content-encoding" not in raw(port, request(port, "GET", path, Accept_Encoding="gzip;q=0"))[1]


methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "G\u00e9T"]) | \
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8)
paths = st.sampled_from([*ROUTES, "/api/state/nope", "/static/../../etc/passwd", "/healthz?x=1", "*"]) | \
    st.text(st.characters(min_codepoint=33, max_codepoint=255), max_size=30).map(lambda t: "/" + t)
header_names = st.sampled_from(["Accept-Encoding", "If-None-Match", "Content-Length", "Transfer-Encoding",
                                "Authorization", "Origin", "Accept", "Host", "Connection", "Upgrade"]) | \
    st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=10)
header_values = st.sampled_from(["gzip", "*", '"x"', "0", "5", "-1", "chunked", "Bearer x", "websocket",
                                 "application/openmetrics-text; version=9", "gzip;q=abc"]) | \
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=20)


@settings(max_examples=int(os.environ.get("TRACKER_FUZZ_EXAMPLES") or 300), deadline=None, database=None,
          derandomize=os.environ.get("TRACKER_FUZZ_RANDOM") is None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def _fuzz_once(data: st.DataObject, port: int) -> None:
    method, path = data.draw(methods), data.draw(paths)
    headers = data.draw(st.lists(st.tuples(header_names, header_values), max_size=5))
    body = data.draw(st.none() | st.binary(max_size=200))
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode("latin-1", "replace")
    head += b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in headers)
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n".encode()
    status, answered, _ = raw(port, head + b"\r\n" + (body or b""))
    assert 200 <= status < 600 and status != 500, (head, status)
    if status == 405:
        assert answered["allow"] in ("GET, HEAD", "GET")


def test_fuzz_http_requests_always_get_a_status(server, caplog, capfd):
    caplog.set_level(logging.WARNING)
    _fuzz_once(port=server.port)
    captured = capfd.readouterr()
    logged = captured.out + captured.err  # the server's structured log, wherever it was configured to go
    assert "Traceback" not in logged and "HTTP request failed" not in logged, logged[-3000:]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("isal", [True, False])
def test_big_bodies_gzip_alike_with_or_without_isal(isal: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.server import representation

    if not isal:
        monkeypatch.setattr(representation, "_igzip", None)
    body = b'{"places": [' + b",".join(b'{"place": "p%d", "controller": null}' % i for i in range(60_000)) + b"]}"
    assert len(body) > representation.MAX_CACHED_BYTES
    packed = representation.fast_gzip(body)
    assert gzip.decompress(packed) == body and len(packed) < len(body) // 5
    assert representation.fast_gzip(body) == packed  # mtime 0: the same bytes every time
