"""End-to-end tests of SPEC section 4 (output): streaming, order, nothing
lost, backpressure, headers before the first byte, framing, HEAD, HTTP/1.0,
and a client that goes away.
"""
from __future__ import annotations

import hashlib
import socket
import struct
import time

import httpx
import pytest

from e2e_util import (RawResponse, raw_exchange, raw_get, rss_kib,
                      start_server, wait_for, worker_pid)

BIG_LINES = 200_000
BIG_LINE = '%06d ' + 'x' * 92  # 99 characters + newline = 100 bytes a line
BP_TOTAL_MB = 50
BP_LINE = 'y' * 1023  # 1 KiB a line with the newline

FILES = {
    'stream.py': '''
        import time
        print('first line')
        time.sleep(2)
        print('second line')
    ''',
    'many.py': '''
        for i in range(20000):
            print('line', i)
    ''',
    'big.py': '''
        for i in range(%d):
            print(%r %% i)
    ''' % (BIG_LINES, BIG_LINE),
    'interleave.py': '''
        from httpout import response

        async def chunk(i):
            await response.write(b'C%d:' % i + bytes([65 + i % 26]) * 200000 + b'\\n')

        for i in range(40):
            print('P%d' % i)
            wait(chunk(i))
        print('end')
    ''',
    'backpressure.py': '''
        import os
        progress = os.path.join(__server__['DOCUMENT_ROOT'], '..', 'progress.txt')
        line = %r
        total = 0
        for mb in range(%d):
            for i in range(1024):
                print(line)
            total += 1024 * 1024
            with open(progress, 'w') as f:
                f.write(str(total))
    ''' % (BP_LINE, BP_TOTAL_MB),
    'headers.py': '''
        import time
        from httpout import response
        before = response.headers_sent()
        response.set_status(201, 'Made')
        response.set_header('X-Before', 'yes')
        response.set_cookie('flavour', 'oat', httponly=True)
        print('sent before:', before)
        time.sleep(0.3)  # the head has certainly gone out with the first line
        print('sent after:', response.headers_sent())
        try:
            response.set_header('X-After', 'no')
            print('set_header after output: no error')
        except Exception as exc:
            print('error:', type(exc).__name__, exc)
        try:
            response.set_status(500)
            print('set_status after output: no error')
        except Exception as exc:
            print('status error:', exc)
        try:
            response.set_cookie('late', '1')
            print('set_cookie after output: no error')
        except Exception as exc:
            print('cookie error:', exc)
    ''',
    'short.py': '''
        print('hello, short world')
    ''',
    'plain.py': '''
        from httpout import response
        response.set_content_type('text/plain')
        print('plain text')
    ''',
    'quick.py': '''
        print('quick')
    ''',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('output'), FILES)
    yield srv
    srv.stop()


def big_expected() -> bytes:
    return ''.join(BIG_LINE % i + '\n' for i in range(BIG_LINES)).encode()


def send_get(port: int, path: str, version: str = 'HTTP/1.1',
             rcvbuf: int = 0) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(('127.0.0.1', port))
    sock.sendall(('GET %s %s\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
                  % (path, version)).encode())
    return sock


# --- streaming and order -------------------------------------------------

def test_first_line_arrives_before_the_script_sleeps_out(server):
    start = time.monotonic()
    with send_get(server.port, '/stream.py') as sock:
        data = b''
        while b'first line' not in data:
            piece = sock.recv(4096)
            assert piece, 'connection closed before the first line: %r' % data
            data += piece
        first_at = time.monotonic() - start
        assert b'second line' not in data
        while True:
            piece = sock.recv(4096)
            if not piece:
                break
            data += piece
        total = time.monotonic() - start

    assert first_at < 1.0, 'first line took %.2f s' % first_at
    assert total >= 1.9
    response = RawResponse(data)
    assert response.status == 200
    assert response.body == b'first line\nsecond line\n'


def test_streaming_with_httpx(server):
    start = time.monotonic()
    with server.client.stream('GET', '/stream.py') as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        first = next(chunks)
        first_at = time.monotonic() - start
        rest = b''.join(chunks)
    assert first_at < 1.0
    assert first.startswith(b'first line\n')
    assert first + rest == b'first line\nsecond line\n'


def test_many_prints_keep_their_order(server):
    response = server.get('/many.py')
    assert response.status_code == 200
    expected = ''.join('line %d\n' % i for i in range(20000))
    assert response.text == expected


# --- nothing lost --------------------------------------------------------

def test_twenty_megabytes_arrive_whole(server):
    expected = big_expected()
    assert len(expected) == BIG_LINES * 100
    response = server.get('/big.py')
    assert response.status_code == 200
    body = response.content
    assert len(body) == len(expected)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_twenty_megabytes_raw_framing(server):
    """The same page read off a raw socket: the chunked framing is exact."""
    raw = raw_exchange(server.port, b'GET /big.py HTTP/1.1\r\nHost: x\r\n'
                                    b'Connection: close\r\n\r\n', timeout=30)
    response = RawResponse(raw)
    assert response.status == 200
    assert response.chunked or response.header('content-length') is not None
    assert response.body == big_expected()


def test_response_write_interleaved_with_print_keeps_order(server):
    response = server.get('/interleave.py')
    assert response.status_code == 200
    expected = b''.join(b'P%d\n' % i + b'C%d:' % i + bytes([65 + i % 26]) * 200000 + b'\n'
                        for i in range(40)) + b'end\n'
    assert len(response.content) == len(expected)
    assert response.content == expected


# --- backpressure ----------------------------------------------------------

def test_slow_client_blocks_print_and_bounds_memory(server):
    progress = server.root.parent / 'progress.txt'
    if progress.exists():
        progress.unlink()

    worker = worker_pid(server)
    server.get('/quick.py')  # warm up
    baseline = rss_kib(worker)

    sock = send_get(server.port, '/backpressure.py', rcvbuf=16384)
    try:
        received = bytearray()
        # read the first MB slowly
        while len(received) < 1024 * 1024:
            piece = sock.recv(16384)
            assert piece
            received += piece

        def written() -> int:
            try:
                return int(progress.read_text() or 0)
            except (OSError, ValueError):
                return 0

        # pause reading: the script must stall far below 50 MB
        time.sleep(1.0)
        at_1s = written()
        rss_paused = rss_kib(worker)
        time.sleep(1.0)
        at_2s = written()
        rss_paused = max(rss_paused, rss_kib(worker))

        assert at_2s <= at_1s + 1024 * 1024, 'print() kept going: %d -> %d' % (at_1s, at_2s)
        assert at_2s < 12 * 1024 * 1024, 'buffered %d bytes for a paused client' % at_2s
        assert rss_paused - baseline < 30 * 1024, \
            'worker RSS grew by %d KiB while the client paused' % (rss_paused - baseline)

        # resume: everything arrives
        sock.settimeout(30)
        while True:
            piece = sock.recv(1 << 20)
            if not piece:
                break
            received += piece
    finally:
        sock.close()

    response = RawResponse(bytes(received))
    assert response.status == 200
    expected_len = BP_TOTAL_MB * 1024 * 1024
    assert len(response.body) == expected_len
    line = (BP_LINE + '\n').encode()
    assert response.body == line * (expected_len // len(line))
    assert written() == expected_len


# --- headers ---------------------------------------------------------------

def test_headers_set_before_output_are_sent(server):
    response = server.get('/headers.py')
    assert response.status_code == 201
    assert response.reason_phrase == 'Made'
    assert response.headers['x-before'] == 'yes'
    cookie = response.headers['set-cookie']
    assert cookie.startswith('flavour=oat')
    assert 'httponly' in cookie.lower()
    assert 'x-after' not in response.headers


def test_headers_after_output_raise_headers_already_sent(server):
    text = server.get('/headers.py').text
    lines = text.splitlines()
    assert lines[0] == 'sent before: False'
    assert lines[1] == 'sent after: True'
    assert lines[2].startswith('error: ')
    assert 'headers already sent' in lines[2].lower()
    assert lines[3].startswith('status error: ')
    assert 'headers already sent' in lines[3].lower()
    assert lines[4].startswith('cookie error: ')
    assert 'headers already sent' in lines[4].lower()


def test_short_response_framing_and_default_type(server):
    response = server.get('/short.py')
    assert response.status_code == 200
    assert response.content == b'hello, short world\n'
    assert response.headers['content-type'] == 'text/html; charset=utf-8'

    raw = raw_get(server.port, '/short.py')
    assert raw.body == b'hello, short world\n'
    if raw.header('content-length') is not None:
        assert int(raw.header('content-length')) == len(b'hello, short world\n')
        assert raw.rest == b'hello, short world\n'
        assert not raw.chunked
    else:
        assert raw.chunked
    # never both
    assert not (raw.chunked and raw.header('content-length') is not None)


def test_set_content_type(server):
    response = server.get('/plain.py')
    assert response.headers['content-type'].split(';')[0] == 'text/plain'
    assert response.text == 'plain text\n'
    assert len(response.headers.get_list('content-type')) == 1


def test_head_to_a_script_has_headers_and_no_body(server):
    for path in ('/short.py', '/many.py'):
        response = raw_get(server.port, path, method='HEAD')
        assert response.status == 200, path
        assert response.header('content-type') == 'text/html; charset=utf-8'
        assert response.rest == b'', '%s: HEAD response had a body %r' % (path, response.rest)
        if response.header('content-length') is not None:
            assert not response.chunked

    # httpx on a kept-alive connection: a stray body would break the next request
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.head('/short.py').content == b''
        assert client.get('/short.py').content == b'hello, short world\n'


def test_head_then_get_on_one_raw_connection(server):
    request = (b'HEAD /short.py HTTP/1.1\r\nHost: x\r\n\r\n'
               b'GET /quick.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    raw = raw_exchange(server.port, request)
    first, sep, second = raw.partition(b'\r\n\r\n')
    assert sep and first.startswith(b'HTTP/1.1 200')
    assert second.startswith(b'HTTP/1.1 200'), 'HEAD leaked a body: %r' % second[:80]
    assert RawResponse(second).body == b'quick\n'


def test_http10_streaming_ends_at_close_without_chunks(server):
    raw = raw_exchange(server.port, b'GET /stream.py HTTP/1.0\r\nHost: x\r\n\r\n')
    response = RawResponse(raw)
    assert response.status == 200
    assert response.version == 'HTTP/1.0' or response.version == 'HTTP/1.1'
    assert not response.chunked
    assert response.header('transfer-encoding') is None
    assert response.rest == b'first line\nsecond line\n'


def test_http10_short_response(server):
    raw = raw_exchange(server.port, b'GET /short.py HTTP/1.0\r\nHost: x\r\n\r\n')
    response = RawResponse(raw)
    assert response.status == 200
    assert response.header('transfer-encoding') is None
    assert response.rest == b'hello, short world\n'


# --- the client goes away ---------------------------------------------------

DISCONNECT_FILES = {
    'slow.py': '''
        import os, time
        from httpout import request
        marker = os.path.join(__server__['DOCUMENT_ROOT'], '..',
                              'marker-' + request.query['id'][0])
        result = 'completed'
        try:
            for i in range(600):
                print('line', i)
                time.sleep(0.05)
        except BaseException as exc:
            result = 'exception ' + type(exc).__name__
            raise
        finally:
            with open(marker, 'a') as f:
                f.write(result + '\\n')
    ''',
    'quick.py': '''
        print('quick')
    ''',
}


@pytest.fixture(scope='module')
def one_thread(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('disconnect'), DISCONNECT_FILES,
                       '--thread-pool-size', '1')
    yield srv
    srv.stop()


@pytest.mark.parametrize('how', ['close', 'reset'])
def test_client_disconnect_ends_the_script_and_frees_the_thread(one_thread, how):
    marker = one_thread.root.parent / ('marker-' + how)
    with send_get(one_thread.port, '/slow.py?id=' + how) as sock:
        data = b''
        while b'line 0\n' not in data:
            piece = sock.recv(4096)
            assert piece
            data += piece
        if how == 'reset':
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    closed_at = time.monotonic()

    assert wait_for(marker.exists, 2.0), 'the script still runs 2 s after the client left'
    assert marker.read_text().startswith('exception '), marker.read_text()

    # the only thread is free again
    start = time.monotonic()
    response = httpx.get(one_thread.url + '/quick.py', timeout=5)
    assert response.text == 'quick\n'
    assert time.monotonic() - closed_at < 2.5
    assert time.monotonic() - start < 2.0

    log = one_thread.log()
    error_lines = [line for line in log.splitlines() if 'ERROR' in line]
    assert not [line for line in error_lines if 'slow.py' in line], log
    assert 'ClientDisconnected' not in log and 'Traceback' not in log, log


# --- the worker's FlushClock, on a real event loop ---------------------------

class _QuietWriter:
    """Just enough of an HTTPWriter for an OutputStream that never sends:
    the clock's decisions show in `sent` (what the pump handed over)."""

    started = False

    def __init__(self) -> None:
        self.sent: list = []

    def seal(self) -> None:
        pass

    def abort(self) -> None:
        pass

    async def send(self, data) -> None:
        self.sent.append(bytes(data))


def _clock_run(scenario):
    import asyncio

    from httpout.output import FlushClock, OutputStream

    async def main():
        loop = asyncio.get_running_loop()
        clock = FlushClock(loop)
        writer = _QuietWriter()
        stream = OutputStream(loop, writer)
        stream.delay_first_flush(clock)
        await scenario(stream)
        await asyncio.sleep(0.02)  # many ticks of the clock
        return clock, writer

    return asyncio.run(main())


def test_flush_clock_streams_a_script_that_runs_on():
    async def scenario(stream):
        stream.script_started()
        stream.write(b'first line\n')  # and the script goes on running

    clock, writer = _clock_run(scenario)
    assert writer.sent == [b'first line\n']
    assert clock._timer is None and not clock._streams  # the clock has stopped


def test_flush_clock_leaves_an_ended_script_to_close():
    async def scenario(stream):
        stream.script_started()
        stream.write(b'whole page\n')
        stream.hold()  # the script has ended: close() sends it sized

    clock, writer = _clock_run(scenario)
    assert writer.sent == []
    assert clock._timer is None and not clock._streams


def test_flush_clock_forgets_a_script_that_never_started():
    async def scenario(stream):
        stream.abort()  # the client left while the job waited for a thread

    clock, writer = _clock_run(scenario)
    assert writer.sent == []
    assert clock._timer is None and not clock._streams


def test_flush_clock_waits_while_the_script_is_queued():
    import asyncio

    async def scenario(stream):
        await asyncio.sleep(0.01)  # queued: this time does not count
        assert not stream.first_flush_due(time.monotonic())
        stream.script_started()
        stream.write(b'x\n')
        assert not stream.first_flush_due(time.monotonic())  # ran < 1 ms

    clock, writer = _clock_run(scenario)
    assert writer.sent == [b'x\n']
