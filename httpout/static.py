"""Static files: conditional requests, HEAD, and the body through tremolo.

Rules owned here:
- Only GET and HEAD; any other method is 405 with `Allow: GET, HEAD`.
- Every response carries an `ETag` (from mtime and size) and
  `Last-Modified`. `If-None-Match` is judged first and, when present,
  `If-Modified-Since` is ignored (RFC 9110 section 13.2.2); a match is
  `304 Not Modified` without a body.
- The body, and byte ranges (`Range`, `If-Range`, 206/416), are tremolo's
  `sendfile()`, the same path a bare tremolo route would use, reading
  READ_SIZE bytes at a time.
"""
from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime
from typing import List, Optional

from .output import HTTPWriter
from .router import StaticFile

__all__ = ('send_static',)

READ_SIZE = 65536  # bytes of the file read at a time


def _etag(st: os.stat_result) -> bytes:
    return b'"%x-%x"' % (st.st_mtime_ns, st.st_size)


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


async def send_static(file: StaticFile, request, response) -> Optional[int]:
    """Answer `request` (tremolo's) with `file`. Returns the body size, if
    known, for the access log."""
    protocol = request.protocol

    if request.method not in (b'GET', b'HEAD'):
        response.set_status(405, b'Method Not Allowed')
        response.set_header(b'Allow', b'GET, HEAD')
        await HTTPWriter(protocol, request, response).end()
        return 0

    st = file.stat or os.stat(file.path)
    etag = _etag(st)
    response.set_header(b'ETag', etag)

    if is_not_modified(request.headers, etag, st.st_mtime):
        response.set_status(304, b'Not Modified')
    elif request.method == b'GET':
        # decided above; tremolo's sendfile would judge it again, even when
        # an If-None-Match that did not match means it must be ignored
        request.headers.pop(b'if-modified-since', None)
        await protocol.run_middlewares('response', reverse=True)
        # tremolo reads the file on its executor, one buffer per thread
        # hop: 64 KiB instead of its default 16 KiB took a 64 KiB file from
        # 0.85x to 1.14x the default path (bench/run.py static, uvloop);
        # its --download-rate throttle starts at the same queued bytes
        await response.sendfile(file.path, content_type=file.media_type,
                                buffer_size=READ_SIZE)
        return st.st_size if response.get_status()[0] == 200 else None

    # HEAD, or 304: the head alone (on GET, sendfile sets Last-Modified)
    response.set_header(b'Last-Modified', formatdate(st.st_mtime, usegmt=True).encode())
    response.set_content_type(file.media_type)
    response.set_header(b'Accept-Ranges', b'bytes')
    writer = HTTPWriter(protocol, request, response)
    await writer.start(st.st_size)
    await writer.end()
    return 0
