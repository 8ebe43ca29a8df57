"""HTTP requests websockets' handshake parser refuses: answered with a status, never an empty reply.

websockets parses the request head in `ServerProtocol.parse()` with `Request.parse()`, which
raises on any request body (a Content-Length other than 0, any Transfer-Encoding) and on a
malformed head; the server then closes the connection without a word, before the
`process_request` hook (http.Routes) ever sees the request. So a `POST /api/events` with a
body got an empty reply.

The choice: a `ServerProtocol` subclass whose `parse()` runs websockets' own `Request.parse()`
over a tee of the lines it reads. When that refuses only the body, the head (already read
whole) is parsed again without its Content-Length and Transfer-Encoding lines, and the
request goes on to the routes marked with `refused_body`: they answer 405 (a method other
than GET or HEAD) or 413 (a GET with a body), with the usual JSON error. Any other refusal
gets a 400, 414 or 431 JSON error here. The body itself is never read into memory: after
the answer, websockets discards what still arrives. The alternatives were worse: copying
`Request.parse()` (drifts from the library), rewriting bytes in `data_received` (a second
HTTP parser), or a proxy in front (one more process).

The subclass is installed by `Connection`, the `create_connection` class given to `serve()`:
`serve()` builds a plain `ServerProtocol` with the server's settings, and `Connection`
re-classes it before any byte is read and restarts its parser (the only generator that
reads). `Connection.handshake()` also waits briefly, after refusing a request with a body,
for the client to finish sending and close: closing first, with unread bytes, would send a
TCP reset that can destroy the answer in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import HeaderLineTooLong, RequestLineTooLong, TooManyHeaders
from websockets.http11 import Request, Response
from websockets.protocol import CONNECTING, OPEN, Protocol
from websockets.server import ServerProtocol

from .http import error_response

LINGER_S = 2.0  # how long a refused request's body may keep arriving before the connection is closed
_BODY_HEADERS = (b"content-length:", b"transfer-encoding:")

ReadLine = Callable[..., Generator[None, None, bytes | bytearray]]


class HTTPProtocol(ServerProtocol):
    """websockets' server protocol, answering the requests its parser refuses (see the module)."""

    refused_body: str | None = None  # the header that announced a body, e.g. "Content-Length: 12"

    def parse(self) -> Generator[None]:
        if self.state is not CONNECTING:  # pragma: no cover - parse() restarts only while connecting
            yield from super().parse()
            return
        lines: list[bytes] = []

        def teed(limit: int, too_long: type[Exception] = RuntimeError) -> Generator[None, None, bytes | bytearray]:
            line = yield from self.reader.read_line(limit, too_long)
            lines.append(bytes(line))
            return line

        try:
            request = yield from Request.parse(teed)
        except RequestLineTooLong:
            yield from self._refuse(414, "uri_too_long", "the request line is too long (8 KiB at most)")
            return
        except (HeaderLineTooLong, TooManyHeaders) as e:
            yield from self._refuse(431, "headers_too_large", f"the request's headers are too large: {e}")
            return
        except EOFError:  # the client left before a whole request: nobody to answer
            self.send_eof()
            self.parser = self.discard()
            next(self.parser)
            yield
            return
        except Exception as e:  # any refusal of the head becomes an answer
            found = _without_body(lines)
            if found is None:
                yield from self._refuse(400, "bad_request", f"not a valid HTTP/1.1 request: {e}")
                return
            request, self.refused_body = found
        self.events.append(request)
        if self.refused_body is None:
            yield from Protocol.parse(self)  # websocket frames, once the handshake is accepted
            return
        # The body is not websocket frames: discard it as it comes, until the answer is sent
        # (send_response() then replaces this parser) or the client ends the stream.
        while not (yield from self.reader.at_eof()):
            self.reader.discard()
        yield

    def _refuse(self, status: int, code: str, message: str) -> Generator[None]:
        self.send_response(_closing(error_response(status, code, message)))
        yield


def _closing(response: Response) -> Response:
    response.headers["Server"] = "tracker"
    return response


def _without_body(lines: list[bytes]) -> tuple[Request, str] | None:
    """The request in `lines` parsed again without the headers that announce a body, and the
    first of them; None unless the head was read whole and only its body was refused."""
    if not lines or lines[-1] != b"\r\n":
        return None
    kept = [line for line in lines if not line.lower().startswith(_BODY_HEADERS)]
    announced = [line for line in lines if line.lower().startswith(_BODY_HEADERS)]
    if not announced:
        return None
    replay = iter(kept)

    def read_line(_limit: int, _too_long: type[Exception] = RuntimeError) -> Generator[None, None, bytes]:
        return next(replay, b"")
        yield  # a generator, as Request.parse expects

    parsing = Request.parse(read_line)
    try:
        next(parsing)
    except StopIteration as done:
        return done.value, announced[0].decode("latin-1").strip()
    except Exception:  # the head is wrong too: a plain 400
        return None
    return None  # pragma: no cover - the replay never waits for data


class Connection(ServerConnection):
    """The server's connection class: installs HTTPProtocol (see the module docstring)."""

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        assert type(protocol) is ServerProtocol and protocol.state is CONNECTING
        protocol.__class__ = HTTPProtocol  # adds behaviour only; no byte has been read yet
        protocol.parser = protocol.parse()
        next(protocol.parser)
        super().__init__(protocol, *args, **kwargs)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        await super().handshake(*args, **kwargs)
        if self.protocol.state is not OPEN and getattr(self.protocol, "refused_body", None):
            # Let the client finish sending the body it announced (discarded as it comes) and
            # close first, so that our close sends no reset that could destroy the answer.
            await asyncio.wait([self.connection_lost_waiter], timeout=LINGER_S)
