"""Malformed HTTP over raw sockets against a real server with short limits.

The server runs with `--request-timeout 2 --keepalive-timeout 2
--client-max-body-size 1024` (and tremolo's default 8 KiB header limit).
Every malformed request must get a 4xx answer or a closed connection within
those timeouts (a time bound is asserted), must never get two answers (no
request smuggling), and must never let a script run on a truncated body.
After each case the server still answers a normal request at once; a
slow-loris test shows it keeps serving others while one connection trickles
its header, and closes that connection within --request-timeout. The
server's log must hold no traceback for any of it.

Much of the parsing here is tremolo's (`tremolo/lib/http_header.py`,
`http_protocol.py`, `http_request.py`); httpout only sees requests that
tremolo's parser let through.
"""
from __future__ import annotations

import os
import re
import select
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import httpx
import pytest

from conftest import Server, write_tree

REQUEST_TIMEOUT = 2
KEEPALIVE_TIMEOUT = 2
MAX_BODY = 1024
MAX_HEADER = 8192          # tremolo's default --client-max-header-size
MARGIN = 1.5               # scheduling slack on a loaded 2-core machine
ARGS = ['--request-timeout', str(REQUEST_TIMEOUT),
        '--keepalive-timeout', str(KEEPALIVE_TIMEOUT),
        '--client-max-body-size', str(MAX_BODY),
        '--thread-pool-size', '4']

STATS: Counter = Counter()


@pytest.fixture(scope='module')
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.path.realpath(tmp_path_factory.mktemp('malformed')))


@pytest.fixture(scope='module')
def ran_log(base: Path) -> Path:
    """echo.py appends the length of each body it read here (outside the
    document root), after reading it whole."""
    return base / 'ran.log'


@pytest.fixture(scope='module')
def server(base: Path, ran_log: Path):
    root = base / 'www'
    root.mkdir()
    write_tree(root, {
        'hello.py': 'print("hello")\n',
        'index.html': 'index ok\n',
        'echo.py': '''
            from httpout import request, wait
            body = wait(request.body())
            with open(%r, 'a') as log:
                log.write('%%d\\n' %% len(body))
            print('got %%d' %% len(body))
        ''' % str(ran_log),
        # the same, but it starts reading a little late, as a busy script would
        'slow_echo.py': '''
            import time
            from httpout import request, wait
            time.sleep(0.3)
            body = wait(request.body())
            with open(%r, 'a') as log:
                log.write('%%d\\n' %% len(body))
            print('got %%d' %% len(body))
        ''' % str(ran_log),
    })
    srv = Server(root, ARGS, base / 'server.log')
    yield srv
    srv.stop()  # the log is checked by test_no_traceback_in_log


# --- raw exchanges ------------------------------------------------------------------

class Exchange(NamedTuple):
    raw: bytes                # all the server sent until it closed (or deadline)
    statuses: List[int]       # status of every response found in `raw`
    first: Optional[float]    # seconds from the end of sending to the first byte
    closed: Optional[float]   # seconds from the end of sending to EOF/reset
    send_error: Optional[str]  # the server closed before we finished sending


def _statuses(raw: bytes) -> List[int]:
    """Status codes of every status line anywhere in `raw`, in order. It
    looks everywhere, not only where a framed response should start, so a
    second answer hidden after a first one is counted too."""
    return [int(code) for code in re.findall(rb'HTTP/\d\.\d (\d{3}) ', raw)]


Piece = Union[bytes, Tuple[bytes, float]]  # data, or (data, pause before it)


def exchange(port: int, pieces: Sequence[Piece], wait: float = 10,
             shut_write: bool = False) -> Exchange:
    """Send `pieces` on a fresh connection, then read until EOF (at most
    `wait` seconds after sending)."""
    sock = socket.create_connection(('127.0.0.1', port), 5)
    send_error = None
    try:
        for piece in pieces:
            data, pause = (piece, 0.0) if isinstance(piece, bytes) else piece
            if pause:
                time.sleep(pause)
            try:
                sock.sendall(data)
            except OSError as exc:  # reset/broken pipe: it closed on us
                send_error = type(exc).__name__
                break
        if shut_write and send_error is None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        sent = time.monotonic()
        raw = bytearray()
        first = closed = None
        sock.settimeout(0.2)
        while time.monotonic() - sent < wait:
            try:
                piece = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:  # ECONNRESET
                closed = time.monotonic() - sent
                break
            if not piece:
                closed = time.monotonic() - sent
                break
            if first is None:
                first = time.monotonic() - sent
            raw += piece
        return Exchange(bytes(raw), _statuses(bytes(raw)), first, closed, send_error)
    finally:
        sock.close()


def request_bytes(head: str, body: bytes = b'') -> bytes:
    """`head` with bare '\\n' line ends turned into CRLF, plus the body."""
    return re.sub(r'(?<!\r)\n', '\r\n', head).encode('latin-1') + body


def healthy(server: Server) -> None:
    """The server answers a normal request on a new connection, at once."""
    started = time.monotonic()
    response = httpx.get(server.url + '/hello.py', timeout=5)
    assert (response.status_code, response.text) == (200, 'hello\n')
    assert time.monotonic() - started < 1.0


# --- the cases -----------------------------------------------------------------------

def _huge_headers(size: int) -> bytes:
    line = b'X-Filler-%06d: ' + b'v' * 90 + b'\r\n'
    count = size // len(line % 0) + 1
    return (b'GET /hello.py HTTP/1.1\r\nHost: x\r\n'
            + b''.join(line % i for i in range(count)) + b'\r\n')


CHUNKED_POST = 'POST /echo.py HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n'


def _chunked(body: bytes, size: int = 100) -> bytes:
    out = b''
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b'%x\r\n%s\r\n' % (len(part), part)
    return out + b'0\r\n\r\n'


# name -> the bytes (or paced pieces) of one malformed exchange. All are
# answered with a 4xx or a close within --request-timeout (+ margin).
CASES = {
    # broken request lines
    'bare-method': [b'GET\r\n\r\n'],
    'bare-method-host': [b'GET\r\nHost: x\r\n\r\n'],
    'http-9.9': [request_bytes('GET / HTTP/9.9\nHost: x\n\n')],
    'http-2.0-text': [request_bytes('GET / HTTP/2.0\nHost: x\n\n')],
    'http-1.1-trailing': [request_bytes('GET / HTTP/1.1 extra\nHost: x\n\n')],
    'http-lowercase': [request_bytes('GET / http/1.1\nHost: x\n\n')],
    'http-0.9': [b'GET /\r\n\r\n'],
    'double-spaces': [request_bytes('GET  /  HTTP/1.1\nHost: x\n\n')],
    'no-method': [request_bytes('/ HTTP/1.1\nHost: x\n\n')],
    'no-target': [request_bytes('GET HTTP/1.1\nHost: x\n\n')],
    'tab-separated': [request_bytes('GET\t/\tHTTP/1.1\nHost: x\n\n')],
    'garbage': [b'\x8f\x00\xff\xfe garbage \x01\x02\r\n\r\n'],
    'garbage-no-crlf': [b'\xde\xad\xbe\xef' * 64],
    'tls-hello': [bytes.fromhex('16030100a5010000a10303') + b'\x00' * 40],
    'nul-in-method': [request_bytes('G\x00T / HTTP/1.1\nHost: x\n\n')],
    'nul-in-target': [request_bytes('GET /\x00 HTTP/1.1\nHost: x\n\n')],
    'cr-in-line': [request_bytes('GET /\r HTTP/1.1\nHost: x\n\n')],
    'bare-lf-lines': [b'GET / HTTP/1.1\nHost: x\n\n'],
    'only-crlfs': [b'\r\n' * 10],
    'request-line-10k': [b'GET /' + b'a' * 10000 + b' HTTP/1.1\r\nHost: x\r\n\r\n'],
    'no-host-1.1': [b'GET /hello.py HTTP/1.1\r\n\r\n'],
    # bad header syntax
    'header-no-colon': [request_bytes('GET / HTTP/1.1\nHost: x\nNoColonHere\n\n')],
    'header-space-before-colon': [request_bytes('GET / HTTP/1.1\nHost : x\n\n')],
    'header-tab-before-colon': [request_bytes('GET / HTTP/1.1\nHost\t: x\n\n')],
    'header-empty-name': [request_bytes('GET / HTTP/1.1\nHost: x\n: value\n\n')],
    'obs-fold': [request_bytes('GET / HTTP/1.1\nHost: x\nX-A: a\n  folded\n\n')],
    'obs-fold-tab': [request_bytes('GET / HTTP/1.1\nHost: x\nX-A: a\n\tfolded\n\n')],
    'header-leading-space': [request_bytes('GET / HTTP/1.1\n Host: x\n\n')],
    'nul-in-header-value': [request_bytes('GET / HTTP/1.1\nHost: x\nX-A: a\x00b\n\n')],
    'nul-in-header-name': [request_bytes('GET / HTTP/1.1\nHost: x\nX-\x00A: b\n\n')],
    'cr-in-header-value': [request_bytes('GET / HTTP/1.1\nHost: x\nX-A: a\rb\n\n')],
    'lf-in-header-value': [b'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n'],
    'two-hosts': [request_bytes('GET / HTTP/1.1\nHost: x\nHost: y\n\n')],
    'too-many-headers': [b'GET / HTTP/1.1\r\nHost: x\r\n'
                         + b''.join(b'X-%d: 1\r\n' % i for i in range(150)) + b'\r\n'],
    # huge headers
    'header-100k': [_huge_headers(100 * 1024)],
    'header-just-over-limit': [_huge_headers(MAX_HEADER + 200)],
    'one-header-20k': [b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'b' * 20000 + b'\r\n\r\n'],
    'header-100k-no-end': [b'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'b' * 100000],
    # Content-Length / Transfer-Encoding conflicts and bad values
    'cl-and-te': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\nContent-Length: 5\n'
                                'Transfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n')],
    'te-and-cl': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                'Transfer-Encoding: chunked\nContent-Length: 3\n\n'
                                '5\r\nhello\r\n0\r\n\r\n')],
    'two-content-lengths': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\nContent-Length: 5\n'
                                          'Content-Length: 6\n\nhello!')],
    'content-length-list': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                          'Content-Length: 5, 6\n\nhello!')],
    'content-length-negative': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                              'Content-Length: -5\n\nhello')],
    'content-length-nonnumeric': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                                'Content-Length: abc\n\nhello')],
    'content-length-plus': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                          'Content-Length: +5\n\nhello')],
    'content-length-hex': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                         'Content-Length: 0x5\n\nhello')],
    'content-length-float': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                           'Content-Length: 5.0\n\nhello')],
    'content-length-huge': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                          'Content-Length: 99999999999999999999999\n\nhello')],
    'content-length-empty': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                           'Content-Length:\n\nhello')],
    'te-gzip': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\nTransfer-Encoding: gzip\n\n'
                              'hello')],
    'te-xchunked': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                  'Transfer-Encoding: xchunked\n\n5\r\nhello\r\n0\r\n\r\n')],
    'te-chunked-http-1.0': [request_bytes('POST /echo.py HTTP/1.0\nHost: x\n'
                                          'Transfer-Encoding: chunked\n\n'
                                          '5\r\nhello\r\n0\r\n\r\n')],
    'te-space-before-colon': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                            'Transfer-Encoding : chunked\n\n'
                                            '5\r\nhello\r\n0\r\n\r\n')],
    # bad chunks, to a script that reads the body
    'chunk-size-zz': [request_bytes(CHUNKED_POST + 'zz\r\nhello\r\n0\r\n\r\n')],
    'chunk-size-negative': [request_bytes(CHUNKED_POST + '-5\r\nhello\r\n0\r\n\r\n')],
    'chunk-size-overflow': [request_bytes(CHUNKED_POST + 'ffffffffffffffffffffffff\r\n'
                                          'hello\r\n0\r\n\r\n')],
    'chunk-size-16-f': [request_bytes(CHUNKED_POST + 'ffffffffffffffff\r\nhello\r\n'
                                      '0\r\n\r\n')],
    'chunk-size-line-no-crlf': [request_bytes(CHUNKED_POST + '1' * 100)],
    'chunk-size-space': [request_bytes(CHUNKED_POST + '5 5\r\nhello\r\n0\r\n\r\n')],
    'chunk-no-crlf-after-data': [request_bytes(CHUNKED_POST + '5\r\nhelloXX0\r\n\r\n')],
    'chunk-too-short': [request_bytes(CHUNKED_POST + 'a\r\nhello\r\n0\r\n\r\n')],
    'chunk-missing-final': [request_bytes(CHUNKED_POST + '5\r\nhello\r\n')],
    'chunk-missing-final-eof': [request_bytes(CHUNKED_POST + '5\r\nhello\r\n')],
    'chunk-empty-size': [request_bytes(CHUNKED_POST + '\r\nhello\r\n0\r\n\r\n')],
    # bodies over --client-max-body-size, to a script that reads the body
    'body-over-limit-cl': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                         'Content-Length: %d\n\n' % (MAX_BODY * 2),
                                         b'b' * (MAX_BODY * 2))],
    'body-over-limit-cl-header-only': [request_bytes(
        'POST /echo.py HTTP/1.1\nHost: x\nContent-Length: %d\n\n' % (50 * 1024 * 1024))],
    'body-over-limit-expect': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                             'Content-Length: %d\n'
                                             'Expect: 100-continue\n\n' % (MAX_BODY * 2))],
    'body-over-limit-chunked': [request_bytes(CHUNKED_POST) + _chunked(b'c' * (MAX_BODY * 2))],
    'body-over-limit-one-chunk': [request_bytes(CHUNKED_POST) + b'%x\r\n' % (MAX_BODY * 4)
                                  + b'd' * (MAX_BODY * 4) + b'\r\n0\r\n\r\n'],
    'body-over-limit-chunked-paced': [request_bytes(CHUNKED_POST)]
    + [(b'100\r\n' + b'e' * 256 + b'\r\n', 0.05)] * 8 + [b'0\r\n\r\n'],
    'body-short-of-content-length': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                                   'Content-Length: 500\n\n', b'f' * 100)],
    'body-short-of-content-length-stall': [request_bytes(
        'POST /echo.py HTTP/1.1\nHost: x\nContent-Length: 500\n\n', b'f' * 100)],
    # request smuggling: a second request hidden in the body of the first
    'smuggle-cl-te': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\nContent-Length: 49\n'
                                    'Transfer-Encoding: chunked\n\n0\r\n\r\n'
                                    'GET /hello.py HTTP/1.1\r\nHost: x\r\n\r\n')],
    'smuggle-te-cl': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\nContent-Length: 4\n'
                                    'Transfer-Encoding: chunked\n\n'
                                    '24\r\nGET /hello.py HTTP/1.1\r\nHost: x\r\n\r\n'
                                    '\r\n0\r\n\r\n')],
    'smuggle-te-te': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\n'
                                    'Transfer-Encoding: chunked\n'
                                    'Transfer-Encoding: identity\n\n0\r\n\r\n'
                                    'GET /hello.py HTTP/1.1\r\nHost: x\r\n\r\n')],
    'smuggle-cl-cl': [request_bytes('POST /echo.py HTTP/1.1\nHost: x\nContent-Length: 0\n'
                                    'Content-Length: 37\n\n'
                                    'GET /hello.py HTTP/1.1\r\nHost: x\r\n\r\n')],
}
# cases that half-close the connection after sending (EOF mid-request)
SHUT_WRITE = {'chunk-missing-final-eof', 'body-short-of-content-length'}
# cases where a 4xx must be the only answer (a hidden second request must not
# be answered, and no 'hello' may leak out of it)
SMUGGLING = {name for name in CASES if name.startswith('smuggle-')}
BODY_OVER_LIMIT = {name for name in CASES if name.startswith('body-over-limit')}


def _run_case(server: Server, name: str) -> Exchange:
    result = exchange(server.port, CASES[name], wait=REQUEST_TIMEOUT + MARGIN + 1,
                      shut_write=name in SHUT_WRITE)
    STATS['sent'] += 1
    if result.statuses:
        STATS[result.statuses[0]] += 1
    else:
        STATS['closed-without-response'] += 1
    return result


@pytest.mark.parametrize('name', list(CASES))
def test_malformed_request(server: Server, ran_log: Path, name: str) -> None:
    ran_log.write_text('')
    result = _run_case(server, name)
    bound = REQUEST_TIMEOUT + MARGIN
    detail = (name, result.statuses, result.first, result.closed,
              result.send_error, result.raw[:400])

    # a 4xx, or a close without any answer ...
    if result.statuses:
        assert 400 <= result.statuses[0] < 500, detail
        assert result.first is not None and result.first < bound, detail
    # ... and the connection is closed within the configured timeouts
    # (a 4xx closes it; a request that stalls is cut at --request-timeout)
    assert result.closed is not None and result.closed < bound, detail
    # exactly one answer at most: nothing hidden in the bytes gets its own
    assert len(result.statuses) <= 1, detail
    if name in SMUGGLING:
        assert b'hello' not in result.raw, detail
    # a script never runs on a cut or over-long body
    ran = ran_log.read_text().split()
    if name in BODY_OVER_LIMIT:
        assert ran == [], (name, ran, result.raw[:400])
    else:
        assert all(int(n) <= MAX_BODY for n in ran), (name, ran)
        if name.startswith(('body-short-of', 'chunk-')):
            assert ran == [], (name, ran)
    # and everyone else is still served
    healthy(server)


@pytest.mark.parametrize('framing', ['content-length', 'chunked'])
def test_body_cut_by_disconnect_never_reaches_script(server: Server, ran_log: Path,
                                                     framing: str) -> None:
    """The client sends part of a body (within the limit) and goes away
    before the script reads it: the script must not go on with a short
    body; reading it must raise."""
    ran_log.write_text('')
    if framing == 'content-length':
        head = b'Content-Length: 500\r\n'
        body = b'f' * 100
    else:
        head = b'Transfer-Encoding: chunked\r\n'
        body = b'64\r\n' + b'c' * 100 + b'\r\n'
    with socket.create_connection(('127.0.0.1', server.port), 5) as sock:
        sock.sendall(b'POST /slow_echo.py HTTP/1.1\r\nHost: x\r\n' + head
                     + b'\r\n' + body)
        time.sleep(0.05)
    STATS['sent'] += 1
    STATS['closed-by-client'] += 1
    time.sleep(0.3 + REQUEST_TIMEOUT + MARGIN)  # the script has had its chance
    assert ran_log.read_text().split() == [], (framing, ran_log.read_text())
    healthy(server)


# --- controls: the same server accepts the well-formed versions ---------------------

def test_controls_well_formed_bodies(server: Server, ran_log: Path) -> None:
    """A body right at the limit (Content-Length) or within it (chunked)
    is read whole: the refusals above are about the malformations."""
    ran_log.write_text('')
    result = exchange(server.port, [request_bytes(
        'POST /echo.py HTTP/1.1\nHost: x\nConnection: close\nContent-Length: %d\n\n'
        % MAX_BODY, b'a' * MAX_BODY)])
    assert result.statuses == [200] and result.raw.endswith(b'got %d\n' % MAX_BODY), result.raw
    # tremolo counts the chunked framing against the limit too, so the
    # chunked control stays clear of it: 900 bytes in 100-byte chunks is
    # 968 bytes on the wire
    result = exchange(server.port, [request_bytes(
        'POST /echo.py HTTP/1.1\nHost: x\nConnection: close\nTransfer-Encoding: chunked\n\n')
        + _chunked(b'a' * 900)])
    assert result.statuses == [200], result.raw
    assert b'got 900' in result.raw, result.raw
    assert ran_log.read_text().split() == [str(MAX_BODY), '900']
    # a pipelined pair of well-formed requests gets two answers
    result = exchange(server.port, [request_bytes(
        'GET /hello.py HTTP/1.1\nHost: x\n\nGET /hello.py HTTP/1.1\nHost: x\n'
        'Connection: close\n\n')])
    assert result.statuses == [200, 200], result.raw


def test_idle_connection_closed_within_request_timeout(server: Server) -> None:
    """A connection that sends nothing is closed within --request-timeout."""
    result = exchange(server.port, [], wait=REQUEST_TIMEOUT + 5)
    STATS['sent'] += 1
    assert result.closed is not None and result.closed < REQUEST_TIMEOUT + MARGIN, result
    assert all(400 <= s < 500 for s in result.statuses), result
    healthy(server)


def test_keepalive_idle_closed_within_keepalive_timeout(server: Server) -> None:
    """After a normal answer, an idle keep-alive connection is closed within
    --keepalive-timeout."""
    result = exchange(server.port, [request_bytes('GET /hello.py HTTP/1.1\nHost: x\n\n')],
                      wait=KEEPALIVE_TIMEOUT + 5)
    assert result.statuses == [200], result
    assert result.closed is not None and result.closed < KEEPALIVE_TIMEOUT + MARGIN, result


def test_partial_head_then_silence(server: Server) -> None:
    """A request line with no end of head, then nothing: 408 or a close
    within --request-timeout."""
    result = exchange(server.port, [b'GET /hello.py HTTP/1.1\r\nHost: x\r\n'],
                      wait=REQUEST_TIMEOUT + 5)
    STATS['sent'] += 1
    assert result.closed is not None and result.closed < REQUEST_TIMEOUT + MARGIN, result
    assert all(400 <= s < 500 for s in result.statuses), result
    healthy(server)


# --- slow loris --------------------------------------------------------------------------

class Loris(threading.Thread):
    """Sends a request head one byte every `interval` seconds, and notes when
    the server answers or closes the connection."""

    def __init__(self, port: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.started_at = 0.0
        self.closed_after: Optional[float] = None
        self.answer = b''
        self.bytes_sent = 0

    def run(self) -> None:
        head = (b'GET /hello.py HTTP/1.1\r\nHost: x\r\nX-Slow: '
                + b'z' * 10000)  # never finished
        sock = socket.create_connection(('127.0.0.1', self.port), 5)
        self.started_at = time.monotonic()
        try:
            for byte in head:
                try:
                    sock.send(bytes([byte]))
                    self.bytes_sent += 1
                except OSError:
                    break
                readable, _, _ = select.select([sock], [], [], self.interval)
                if readable:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b''
                    self.answer += data
                    if not data:
                        break
                if time.monotonic() - self.started_at > REQUEST_TIMEOUT + 10:
                    return  # never closed: closed_after stays None
            self.closed_after = time.monotonic() - self.started_at
        finally:
            sock.close()


def test_slow_loris_does_not_block_others(server: Server) -> None:
    lorises = [Loris(server.port) for _ in range(5)]
    for loris in lorises:
        loris.start()
    time.sleep(0.3)  # the lorises are connected and trickling

    timings = []
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for i in range(20):
            started = time.monotonic()
            response = client.get('/hello.py', params={'i': i},
                                  headers={'Connection': 'close'} if i % 2 else {})
            timings.append(time.monotonic() - started)
            assert (response.status_code, response.text) == (200, 'hello\n')
    assert max(timings) < 1.0, timings
    assert sum(timings) < 5.0, timings

    for loris in lorises:
        loris.join(REQUEST_TIMEOUT + 12)
        STATS['sent'] += 1
        # closed by the server within --request-timeout of connecting
        assert loris.closed_after is not None, (loris.bytes_sent, loris.answer)
        assert loris.closed_after < REQUEST_TIMEOUT + MARGIN, loris.closed_after
        statuses = _statuses(loris.answer)
        assert all(400 <= s < 500 for s in statuses), loris.answer
        STATS[statuses[0] if statuses else 'closed-without-response'] += 1
    healthy(server)


def test_slow_loris_many_while_serving(server: Server) -> None:
    """Twenty slow clients trickling at once, and a second client's twenty
    requests made concurrently from threads all succeed fast."""
    lorises = [Loris(server.port, interval=0.5) for _ in range(20)]
    for loris in lorises:
        loris.start()
    time.sleep(0.3)
    results: List[Tuple[int, float]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        started = time.monotonic()
        response = httpx.get(server.url + '/hello.py?i=%d' % i, timeout=5)
        with lock:
            results.append((response.status_code, time.monotonic() - started))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 20
    assert all(status == 200 for status, _ in results), results
    assert max(elapsed for _, elapsed in results) < 2.0, results
    for loris in lorises:
        loris.join(REQUEST_TIMEOUT + 12)
        STATS['sent'] += 1
        assert loris.closed_after is not None and \
            loris.closed_after < REQUEST_TIMEOUT + MARGIN, loris.closed_after


def test_no_traceback_in_log(server: Server, capsys) -> None:
    """Runs last: none of the above left a traceback in the server log."""
    with capsys.disabled():
        print('\nmalformed exchanges: %d, first answers: %s'
              % (STATS['sent'], dict(sorted(((str(k), v) for k, v in STATS.items()
                                              if k != 'sent')))))
    log = server.log()
    assert 'Traceback' not in log, log[-6000:]
