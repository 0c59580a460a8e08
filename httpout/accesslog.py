"""The access log: one line per request in the combined log format.

    127.0.0.1 - - [26/Nov/2026:07:30:09 +0000] "GET /hello.py HTTP/1.1" 200 14 "-" "curl/8.0"

It goes to standard output through its own logger, `httpout.access`, so that
it can be filtered or turned off (`--no-access-log`) apart from the server
log. The address is the one scripts see as REMOTE_ADDR (a trusted proxy's
X-Forwarded-For is honoured).
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Optional

__all__ = ('AccessLog',)


def _quoted(value: Optional[bytes]) -> str:
    if not value:
        return '"-"'

    # escaped, so that a client cannot forge log lines or fields
    text = value.decode('latin-1').encode('unicode_escape').decode('ascii')
    return '"%s"' % text.replace('"', '\\"')


class AccessLog:
    def __init__(self, level: str = 'INFO') -> None:
        self.logger = logging.getLogger('httpout.access')
        self.logger.propagate = False
        self.logger.setLevel(level.upper())

        if not self.logger.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter('%(message)s'))
            self.logger.addHandler(handler)

    def log(self, request, remote_addr: str, status: int, size: Optional[int]) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return

        headers = request.headers
        self.logger.info(
            '%s - - [%s] %s %d %s %s %s',
            remote_addr or '-',
            time.strftime('%d/%b/%Y:%H:%M:%S %z'),
            _quoted(b'%s %s HTTP/%s' % (request.method, request.url, request.version)),
            status,
            '-' if size is None else size,
            _quoted(headers.get(b'referer', [b''])[0]),
            _quoted(headers.get(b'user-agent', [b''])[0]),
        )
