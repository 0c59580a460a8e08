"""Helpers for the end-to-end tests: module-scoped servers, raw HTTP over
sockets (for paths and framing httpx would normalise or hide), and a look at
the worker process's memory through /proc.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from conftest import Server, write_tree


def start_server(base: Path, files: dict, *args: str, name: str = 'www') -> Server:
    """A server over `base / name`, built from `files`; files outside the
    root can be put in `base` by the caller."""
    root = base / name
    root.mkdir(parents=True, exist_ok=True)
    write_tree(root, files)
    return Server(root, list(args), base / (name + '.log'))


class RawResponse:
    """A response read off a raw socket, with its framing undone."""

    def __init__(self, raw: bytes, head_only: bool = False) -> None:
        self.raw = raw
        head, sep, rest = raw.partition(b'\r\n\r\n')
        if not sep:
            raise ValueError('no complete response head in %r' % raw[:200])
        lines = head.split(b'\r\n')
        self.status_line = lines[0].decode('latin-1')
        parts = self.status_line.split(' ', 2)
        self.version = parts[0]
        self.status = int(parts[1])
        self.header_lines: List[Tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.decode('latin-1').partition(':')
            self.header_lines.append((name.strip(), value.strip()))
        self.rest = rest
        self.chunked = 'chunked' in self.header('transfer-encoding', '').lower()
        if head_only:
            self.body = rest
        elif self.chunked:
            self.body = dechunk(rest)
        elif self.header('content-length') is not None:
            length = int(self.header('content-length'))
            self.body = rest[:length]
        else:
            self.body = rest

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        for key, value in self.header_lines:
            if key.lower() == name.lower():
                return value
        return default

    def headers_all(self, name: str) -> List[str]:
        return [v for k, v in self.header_lines if k.lower() == name.lower()]

    @property
    def headers(self) -> Dict[str, str]:
        return {k.lower(): v for k, v in self.header_lines}


def dechunk(data: bytes) -> bytes:
    """Undo chunked transfer coding; raise if the framing is wrong or cut."""
    out = bytearray()
    pos = 0
    while True:
        end = data.index(b'\r\n', pos)
        size = int(data[pos:end].split(b';')[0], 16)
        pos = end + 2
        if size == 0:
            if data[pos:pos + 2] != b'\r\n':
                raise ValueError('bad chunked trailer')
            return bytes(out)
        chunk = data[pos:pos + size]
        if len(chunk) != size or data[pos + size:pos + size + 2] != b'\r\n':
            raise ValueError('bad chunk framing at %d' % pos)
        out += chunk
        pos += size + 2


def _complete(data: bytes, head_only: bool) -> bool:
    """True once `data` holds one whole response (by its own framing)."""
    try:
        response = RawResponse(data, head_only=True)
    except ValueError:
        return False
    if head_only or response.status in (204, 304) or 100 <= response.status < 200:
        return True
    if response.chunked:
        try:
            dechunk(response.rest)
            return True
        except ValueError:
            return False
    length = response.header('content-length')
    return length is not None and len(response.rest) >= int(length)


def raw_exchange(port: int, request: bytes, timeout: float = 10,
                 one_response: bool = False, head_only: bool = False) -> bytes:
    """Send `request` as is and read until the server closes the connection
    (or, with `one_response`, until one whole response has arrived)."""
    with socket.create_connection(('127.0.0.1', port), timeout) as sock:
        sock.sendall(request)
        data = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            data += piece
            if one_response and _complete(bytes(data), head_only):
                break
        return bytes(data)


def raw_get(port: int, path: str, method: str = 'GET', headers: Optional[dict] = None,
            version: str = 'HTTP/1.1', body: bytes = b'', timeout: float = 10,
            keep_open: bool = False) -> RawResponse:
    """One request on its own connection, path sent verbatim. It asks for
    `Connection: close` and reads to the close, unless the caller sets a
    Connection header or `keep_open`: then it reads one response by its
    framing."""
    lines = ['%s %s %s' % (method, path, version), 'Host: 127.0.0.1:%d' % port]
    if any(name.lower() == 'connection' for name in (headers or {})):
        keep_open = True
    elif not keep_open:
        lines.append('Connection: close')
    for name, value in (headers or {}).items():
        lines.append('%s: %s' % (name, value))
    if body:
        lines.append('Content-Length: %d' % len(body))
    raw = raw_exchange(port, ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body,
                       timeout, one_response=keep_open, head_only=(method == 'HEAD'))
    return RawResponse(raw, head_only=(method == 'HEAD'))


def children(pid: int) -> List[int]:
    """Pids whose parent is `pid` (parsed from /proc, no psutil)."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        fields = stat[stat.rindex(')') + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def rss_kib(pid: int) -> int:
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for %d' % pid)


def worker_pid(server: Server) -> int:
    """The worker process that runs the scripts: the child of the main
    process with the largest resident set (a helper process, if any, is
    smaller)."""
    kids = children(server.proc.pid)
    if not kids:
        raise RuntimeError('no worker process under %d' % server.proc.pid)
    return max(kids, key=rss_kib)


def wait_for(predicate, timeout: float, interval: float = 0.02):
    """Poll until predicate() is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value
