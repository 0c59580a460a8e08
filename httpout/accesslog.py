"""The access log: one line per request, in the combined log format

    127.0.0.1 - - [26/Nov/2026:07:30:09 +0000] "GET /hello.py HTTP/1.1" 200 14 "-" "curl/8.0"

or, with `--log-format json`, as one JSON object for log shippers:

    {"time": "2026-11-26T07:30:09.512+00:00", "level": "INFO", "logger": "access",
     "remote_addr": "127.0.0.1", "request": "GET /hello.py HTTP/1.1",
     "method": "GET", "path": "/hello.py", "status": 200, "bytes": 14,
     "duration": 0.000412, "referer": null, "user_agent": "curl/8.0"}

Lines go to standard output, apart from the server log on standard error;
`--no-access-log`, or a `--log-level` above INFO, turns them off. The address
is the one scripts see as REMOTE_ADDR (a trusted proxy's X-Forwarded-For is
honoured). The lines of one turn of the event loop are written together, so
that a busy server does not pay one write to the terminal per request.
"""
from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import List, Optional, TextIO

from .logs import iso_time

__all__ = ('AccessLog',)


# printable ASCII but '"' and '\\': written as it is
_PLAIN = re.compile(rb'[ !#-\[\]-~]*')


def _quoted(value: Optional[bytes]) -> str:
    if not value:
        return '"-"'

    if _PLAIN.fullmatch(value):  # what nearly every request line and agent is
        return '"%s"' % value.decode('ascii')

    # escaped, so that a client cannot forge log lines or fields
    text = value.decode('latin-1').encode('unicode_escape').decode('ascii')
    return '"%s"' % text.replace('"', '\\"')


def _text(value: Optional[bytes]) -> Optional[str]:
    return value.decode('latin-1') if value else None


class AccessLog:
    def __init__(self, loop: asyncio.AbstractEventLoop,
                 out: Optional[TextIO] = None, json_lines: bool = False) -> None:
        self._loop = loop
        self._out = out
        self._json = json_lines
        self._lines: List[str] = []
        self._second = -1
        self._timestamp = ''

    def log(self, request, remote_addr: str, status: int, size: Optional[int],
            duration: float) -> None:
        """`duration`: seconds from the start of the handling to its end."""
        self._lines.append(
            self._json_line(request, remote_addr, status, size, duration)
            if self._json else self._combined_line(request, remote_addr, status, size))

        if len(self._lines) == 1:
            self._loop.call_soon(self._flush)

    def _combined_line(self, request, remote_addr: str, status: int,
                       size: Optional[int]) -> str:
        now = int(time.time())

        if now != self._second:  # strftime once a second, not per request
            self._second = now
            self._timestamp = time.strftime('%d/%b/%Y:%H:%M:%S %z', time.localtime(now))

        headers = request.headers
        return '%s - - [%s] %s %d %s %s %s\n' % (
            remote_addr or '-',
            self._timestamp,
            _quoted(b'%s %s HTTP/%s' % (request.method, request.url, request.version)),
            status,
            '-' if size is None else size,
            _quoted(headers.get(b'referer', [b''])[0]),
            _quoted(headers.get(b'user-agent', [b''])[0]),
        )

    @staticmethod
    def _json_line(request, remote_addr: str, status: int, size: Optional[int],
                   duration: float) -> str:
        headers = request.headers
        # json.dumps escapes what a client sends, so it cannot forge lines
        return json.dumps({
            'time': iso_time(time.time()),
            'level': 'INFO',
            'logger': 'access',
            'remote_addr': remote_addr or None,
            'request': '%s %s HTTP/%s' % (request.method.decode('latin-1'),
                                          request.url.decode('latin-1'),
                                          request.version.decode('latin-1')),
            'method': request.method.decode('latin-1'),
            'path': request.path.decode('latin-1'),
            'status': status,
            'bytes': size,
            'duration': round(duration, 6),
            'referer': _text(headers.get(b'referer', [b''])[0]),
            'user_agent': _text(headers.get(b'user-agent', [b''])[0]),
        }, ensure_ascii=False) + '\n'

    def _flush(self) -> None:
        text = ''.join(self._lines)
        self._lines.clear()

        out = self._out or sys.stdout  # tremolo replaces sys.stdout in a worker
        try:
            out.write(text)
            out.flush()
        except (OSError, ValueError):  # stdout closed: nowhere to log to
            pass
