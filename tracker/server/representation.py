"""What every HTTP answer gets on its way out: a strong ETag, 304 on a match, gzip, HEAD.

A pure function of the request's headers and the response the routes built, so the routes
stay about content. The ETag is the SHA-256 of the body as built (identity); the gzipped
representation has its own tag (the same with `-gzip`), as strong tags must differ between
encodings. `If-None-Match` is compared weakly (RFC 9110 13.1.2: a `W/` prefix is ignored) and
matches either tag, both name the same content. `Vary: Accept-Encoding` goes on every answer
that could have been compressed, compressed or not, so caches keep the two apart.
"""

from __future__ import annotations

import functools
import gzip
import hashlib

try:  # ISA-L's deflate: the same gzip format, ~5x faster than zlib's fastest level (benchmarks/endtoend.py)
    from isal import igzip as _igzip
except ImportError:  # a platform without its wheels: zlib, slower
    _igzip = None  # type: ignore[assignment]

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

MIN_GZIP_BYTES = 256  # smaller bodies gain nothing from compression
MAX_CACHED_BYTES = 1 << 20  # bodies up to this size keep their compressed form in a small cache
_COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml",
                 "application/openmetrics-text", "application/schema+json")


def finish(request: Request, response: Response) -> Response:
    """`response` with its ETag, compressed or answered 304 as the request allows; no body for HEAD."""
    head = request.method == "HEAD"
    if not 200 <= response.status_code < 300 or not response.body:
        return _without_body(response) if head else response
    body = bytes(response.body)
    tag = etag(body)
    compressible = _compressible(response.headers.get("Content-Type", ""))
    headers = response.headers
    if compressible:
        headers["Vary"] = "Accept-Encoding"
    gzipped = compressible and len(body) >= MIN_GZIP_BYTES and accepts_gzip(request.headers)
    chosen = f'"{tag}-gzip"' if gzipped else f'"{tag}"'
    if _matches(request.headers.get_all("If-None-Match"), tag):
        kept = Headers([(k, v) for k, v in headers.raw_items()
                        if k.lower() not in ("content-length", "content-type")])
        kept["ETag"] = chosen
        return Response(304, "Not Modified", kept, b"")
    headers["ETag"] = chosen
    if gzipped:
        # a big body is an answer made for this request (a state of thousands of entries): compressed
        # fast (2.1 MB of JSON: zlib level 1 152 KB in 4.4 ms; ISA-L level 1 152 KB in 0.9 ms)
        body = _gzip(body) if len(body) <= MAX_CACHED_BYTES else fast_gzip(body)
        headers["Content-Encoding"] = "gzip"
    del headers["Content-Length"]
    headers["Content-Length"] = str(len(body))
    answer = Response(response.status_code, response.reason_phrase, headers, body)
    return _without_body(answer) if head else answer


def etag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def accepts_gzip(headers: Headers) -> bool:
    """Whether Accept-Encoding admits gzip (or `*`) with a q-value above 0."""
    for value in headers.get_all("Accept-Encoding"):
        for item in value.split(","):
            name, _, params = item.strip().partition(";")
            if name.strip().lower() not in ("gzip", "x-gzip", "*"):
                continue
            q = 1.0
            for param in params.split(";"):
                key, _, number = param.strip().partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(number)
                    except ValueError:
                        q = 0.0
            if q > 0:
                return True
    return False


def _matches(values: list[str], tag: str) -> bool:
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item == "*":
                return True
            item = item.removeprefix("W/")
            if item in (f'"{tag}"', f'"{tag}-gzip"'):
                return True
    return False


def _compressible(content_type: str) -> bool:
    return content_type.lower().startswith(_COMPRESSIBLE)


def _without_body(response: Response) -> Response:
    """A HEAD answer: the GET's headers (its Content-Length included), no body."""
    return Response(response.status_code, response.reason_phrase, response.headers, b"")


def fast_gzip(body: bytes) -> bytes:
    if _igzip is not None:
        return _igzip.compress(body, 1, mtime=0)
    return gzip.compress(body, compresslevel=1, mtime=0)


@functools.lru_cache(maxsize=64)
def _gzip(body: bytes) -> bytes:
    """Compressed once per distinct body (the dashboard's files, unchanged states); mtime 0 so
    the same body always compresses to the same bytes."""
    return gzip.compress(body, compresslevel=6, mtime=0)
