"""Static files: conditional requests, HEAD, precompressed siblings, and the body.

Rules owned here:
- Only GET and HEAD; any other method is 405 with `Allow: GET, HEAD`.
- Every response carries an `ETag` (from mtime and size) and
  `Last-Modified`. `If-None-Match` is judged first and, when present,
  `If-Modified-Since` is ignored (RFC 9110 section 13.2.2); a match is
  `304 Not Modified` without a body.
- Precompressed siblings, as nginx's `gzip_static` does: for a file of a
  compressible type (compression.py), `style.css.br`, `style.css.zst` or
  `style.css.gz` beside it is sent instead, with `Content-Encoding`, to a
  client that accepts that coding, when the sibling is a regular file (not
  a symbolic link) and not older than the file. The sibling's own size,
  mtime and coding make the variant's Content-Length, Last-Modified and
  ETag, so each coding has an ETag of its own. A `Range` request always
  gets the file itself (ranges are of the identity bytes), and every
  response of a compressible type says `Vary: Accept-Encoding`. Siblings
  are never URLs of their own: `.gz`, `.br` and `.zst` are not in the
  router's allow-list, so `/style.css.gz` is 403. Nothing is compressed on
  the fly: see docs/compression.md. `--no-compress` turns siblings off.
- The body: on plain TCP, with asyncio's loop or uvloop, a whole non-empty
  file goes from the page cache to the socket with `os.sendfile`, never
  through Python buffers (zerocopy.py). Everything else (TLS, byte ranges,
  an empty file, or a `--download-rate` the user set, which only tremolo's
  send queue applies) is tremolo's `sendfile()`, the same path a bare
  tremolo route would use, reading READ_SIZE bytes at a time; it also
  answers `Range`, `If-Range` and 206/416.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import List, Optional, Tuple

from . import zerocopy
from .compression import acceptable, add_vary, compressible
from .output import ClientDisconnected, HTTPWriter
from .router import StaticFile

__all__ = ('SIBLINGS', 'StaticOptions', 'send_static')

READ_SIZE = 65536  # bytes of tremolo's sendfile reads

# coding: the file name suffix of its precompressed sibling, best first
SIBLINGS = {'br': '.br', 'zstd': '.zst', 'gzip': '.gz'}


@dataclass(frozen=True)
class StaticOptions:
    """How one worker sends static files."""
    codings: Tuple[str, ...] = tuple(SIBLINGS)  # siblings looked for; () for none
    zero_copy: bool = True  # False when the user set --download-rate


def _etag(st: os.stat_result, coding: Optional[str] = None) -> bytes:
    if coding is None:
        return b'"%x-%x"' % (st.st_mtime_ns, st.st_size)

    return b'"%x-%x-%s"' % (st.st_mtime_ns, st.st_size, coding.encode())


def _etag_matches(etag: bytes, if_none_match: List[bytes]) -> bool:
    """Weak comparison, as RFC 9110 section 13.1.2 asks for If-None-Match."""
    for value in if_none_match:
        for candidate in value.split(b','):
            candidate = candidate.strip()

            if candidate == b'*' or candidate.removeprefix(b'W/') == etag:
                return True

    return False


def _not_modified_since(mtime: float, if_modified_since: List[bytes]) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since[0].decode('latin-1'))
    except (TypeError, ValueError, IndexError):
        return False  # an unparsable date is ignored, as the RFC says

    return int(mtime) <= since.timestamp()


def is_not_modified(headers: dict, etag: bytes, mtime: float) -> bool:
    if b'if-none-match' in headers:
        return _etag_matches(etag, headers[b'if-none-match'])

    if b'if-modified-since' in headers:
        return _not_modified_since(mtime, headers[b'if-modified-since'])

    return False


def choose_variant(file: StaticFile, st: os.stat_result, request, response,
                   codings: Tuple[str, ...]) -> Tuple[str, os.stat_result, Optional[str]]:
    """The variant to send: (path, stat, coding), coding None for the file
    itself. Adds Vary to the response when the file's type could have one."""
    if not codings or not compressible(file.media_type.encode('latin-1')):
        return file.path, st, None

    add_vary(response.headers, response.set_header)

    if b'range' in request.headers:
        return file.path, st, None

    for coding in acceptable(request.headers.get(b'accept-encoding'), codings):
        path = file.path + SIBLINGS[coding]

        try:
            sibling = os.lstat(path)
        except OSError:
            continue

        if stat.S_ISREG(sibling.st_mode) and sibling.st_mtime_ns >= st.st_mtime_ns:
            return path, sibling, coding

    return file.path, st, None


async def send_static(file: StaticFile, request, response,
                      options: StaticOptions = StaticOptions()) -> Optional[int]:
    """Answer `request` (tremolo's) with `file`. Returns the body size, if
    known, for the access log."""
    protocol = request.protocol

    if request.method not in (b'GET', b'HEAD'):
        response.set_status(405, b'Method Not Allowed')
        response.set_header(b'Allow', b'GET, HEAD')
        await HTTPWriter(protocol, request, response).end()
        return 0

    path, st, coding = choose_variant(file, file.stat or os.stat(file.path),
                                      request, response, options.codings)
    etag = _etag(st, coding)
    response.set_header(b'ETag', etag)

    if coding is not None:
        response.set_header(b'Content-Encoding', coding.encode())

    if is_not_modified(request.headers, etag, st.st_mtime):
        response.set_status(304, b'Not Modified')
    elif request.method == b'GET' and _zero_copy(request, st, options):
        return await _send_zero_copy(path, st, file.media_type, request, response)
    elif request.method == b'GET':
        # decided above; tremolo's sendfile would judge it again, even when
        # an If-None-Match that did not match means it must be ignored
        request.headers.pop(b'if-modified-since', None)
        await protocol.run_middlewares('response', reverse=True)
        # tremolo reads the file on its executor, one buffer per thread
        # hop: 64 KiB instead of its default 16 KiB took a 64 KiB file from
        # 0.85x to 1.14x the default path (bench/run.py static, uvloop);
        # its --download-rate throttle starts at the same queued bytes
        await response.sendfile(path, content_type=file.media_type,
                                buffer_size=READ_SIZE)
        return st.st_size if response.get_status()[0] == 200 else None

    # HEAD, or 304: the head alone (on GET, sendfile sets Last-Modified)
    writer = _head_writer(st, file.media_type, request, response)
    await writer.start(st.st_size)
    await writer.end()
    return 0


def _head_writer(st: os.stat_result, media_type: str, request, response,
                 high_water: int = 256 * 1024) -> HTTPWriter:
    """A writer for a head with the file's entity headers, as tremolo's
    sendfile would send them."""
    response.set_header(b'Last-Modified', formatdate(st.st_mtime, usegmt=True).encode())
    response.set_content_type(media_type)
    response.set_header(b'Accept-Ranges', b'bytes')
    return HTTPWriter(request.protocol, request, response, high_water)


def _zero_copy(request, st: os.stat_result, options: StaticOptions) -> bool:
    """Can this body go out with os.sendfile (zerocopy.py)? Not for byte
    ranges, which are tremolo's to parse, nor an empty file, which the
    loop's sendfile refuses. No size is too small: measured faster than
    tremolo's reads at every size (wrk -c32; asyncio 1 KB 2.1x, 8 KiB 1.3x,
    64 KiB 1.6x, 1 MiB 2.3x; uvloop 8 KiB 2.2x, 64 KiB 1.7x, 1 MiB 5x)."""
    return (options.zero_copy and st.st_size > 0 and
            zerocopy.available(request.protocol) and
            not (request.version == b'1.1' and b'range' in request.headers))


async def _send_zero_copy(path: str, st: os.stat_result, media_type: str,
                          request, response) -> Optional[int]:
    # a high-water mark of 0: start() returns once the head has left the
    # transport's buffer, and the body follows it on the socket
    writer = _head_writer(st, media_type, request, response, high_water=0)

    try:
        with open(path, 'rb') as body:
            await writer.start(st.st_size)
            complete = await writer.sendfile(body, st.st_size)
    except (ClientDisconnected, ConnectionError):
        request.http_keepalive = False
        request.protocol.close()
        return None

    # a file cut short while it was sent: the client must not wait for the
    # bytes promised, nor take the next response for them
    await writer.end(keepalive=complete)
    return writer.body_bytes
