"""End-to-end tests of script errors (SPEC section 7).

Before any output an exception is a 500: a bare page without --debug (the
traceback goes to the log with the request line), the HTML-escaped
traceback with --debug. After output has started, the output stands, the
response is terminated properly and the connection is closed. Exceptions in
`run()` coroutines are handled the same way, and no failure disturbs other
requests or the server.
"""
from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from e2e_util import start_server
from conftest import Server

FILES = {
    'raise_early.py': '''
        def inner():
            raise ValueError('<b>x</b> secret-detail-1234')

        inner()
    ''',
    'syntax.py': '''
        print('never'
        x = = 1
    ''',
    'raise_late.py': '''
        import time
        print('partial output')
        time.sleep(0.3)
        raise RuntimeError('late <failure> 5678')
    ''',
    'run_raise.py': '''
        import asyncio

        async def boom():
            await asyncio.sleep(0.05)
            raise KeyError('coroutine-failure-91')

        run(boom())
    ''',
    'run_raise_late.py': '''
        import asyncio

        async def boom():
            await asyncio.sleep(0.2)
            raise KeyError('coroutine-failure-92')

        print('printed first')
        run(boom())
    ''',
    'interrupt.py': '''
        raise KeyboardInterrupt
    ''',
    'status_then_raise.py': '''
        from httpout import response
        response.set_status(201)
        response.set_header('X-Script', 'set')
        raise ValueError('after status')
    ''',
    'good.py': '''
        import time
        time.sleep(0.01)
        print('good', __server__['QUERY_STRING'])
    ''',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('errors'), FILES)
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def debug_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('errors'), FILES, '--debug')
    yield srv
    srv.stop()


def wait_for_log(server: Server, text: str, timeout: float = 3) -> str:
    deadline = time.monotonic() + timeout

    while True:
        log = server.log()

        if text in log or time.monotonic() > deadline:
            return log

        time.sleep(0.05)


def raw_exchange(server: Server, path: str, timeout: float = 5) -> tuple:
    """One keep-alive HTTP/1.1 request on a raw socket. Returns (head, body,
    closed): `closed` is True when the server closed the connection after
    the response, False when it kept it open."""
    with socket.create_connection(('127.0.0.1', server.port), timeout) as sock:
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                     b'Connection: keep-alive\r\n\r\n' % path.encode())
        data = b''

        while b'\r\n\r\n' not in data:
            chunk = sock.recv(65536)
            assert chunk, 'connection closed before the head: %r' % data
            data += chunk

        head, _, rest = data.partition(b'\r\n\r\n')
        lower = head.lower()
        body = b''

        if b'transfer-encoding: chunked' in lower:
            while True:  # de-chunk
                while b'\r\n' not in rest:
                    chunk = sock.recv(65536)
                    assert chunk, 'connection closed inside the body: %r' % rest
                    rest += chunk

                size_line, _, rest = rest.partition(b'\r\n')
                size = int(size_line, 16)

                while len(rest) < size + 2:
                    chunk = sock.recv(65536)
                    assert chunk, 'connection closed inside a chunk'
                    rest += chunk

                assert rest[size:size + 2] == b'\r\n'
                body += rest[:size]
                rest = rest[size + 2:]

                if size == 0:
                    break
        else:
            length = int(lower.split(b'content-length:')[1].split(b'\r\n')[0])

            while len(rest) < length:
                chunk = sock.recv(65536)
                assert chunk, 'connection closed inside the body'
                rest += chunk

            body, rest = rest[:length], rest[length:]

        assert rest == b''
        sock.settimeout(1)

        try:
            closed = sock.recv(1) == b''
        except socket.timeout:
            closed = False

        return head.decode('latin-1'), body.decode(), closed


# --- before any output ----------------------------------------------------------

def test_exception_before_output_is_500_without_details(server):
    response = server.get('/raise_early.py')

    assert response.status_code == 500
    assert response.headers['content-type'].startswith('text/html')
    page = response.text
    for leak in ('ValueError', 'secret-detail-1234', 'Traceback', 'raise_early',
                 'inner', str(server.root)):
        assert leak not in page, leak

    log = wait_for_log(server, 'secret-detail-1234')
    assert 'Traceback (most recent call last)' in log
    assert "ValueError: <b>x</b> secret-detail-1234" in log
    assert 'GET /raise_early.py' in log
    assert 'raise_early.py", line 2, in inner' in log


def test_exception_before_output_debug_page_is_escaped(debug_server):
    response = debug_server.get('/raise_early.py?q=1')

    assert response.status_code == 500
    page = response.text
    assert 'ValueError' in page
    assert '&lt;b&gt;x&lt;/b&gt; secret-detail-1234' in page
    assert '<b>x</b>' not in page
    assert 'raise_early.py' in page
    assert 'inner' in page

    log = wait_for_log(debug_server, 'secret-detail-1234')
    assert 'GET /raise_early.py?q=1' in log
    assert 'Traceback (most recent call last)' in log


def test_status_and_headers_set_before_error_are_dropped(server):
    response = server.get('/status_then_raise.py')

    assert response.status_code == 500
    assert 'x-script' not in response.headers


def test_syntax_error_is_500(server):
    response = server.get('/syntax.py')

    assert response.status_code == 500
    assert 'SyntaxError' not in response.text
    log = wait_for_log(server, 'SyntaxError')
    assert 'SyntaxError' in log
    assert 'GET /syntax.py' in log


def test_syntax_error_details_with_debug(debug_server):
    response = debug_server.get('/syntax.py')

    assert response.status_code == 500
    assert 'SyntaxError' in response.text
    assert 'syntax.py' in response.text


def test_keyboard_interrupt_in_script_is_500_and_server_lives(server):
    response = server.get('/interrupt.py')

    assert response.status_code == 500
    assert server.proc.poll() is None
    assert server.get('/good.py?alive').text == 'good alive\n'


# --- after output has started ----------------------------------------------------

def test_exception_after_output_keeps_output_and_closes(server):
    t0 = time.monotonic()

    with server.client.stream('GET', '/raise_late.py') as response:
        assert response.status_code == 200
        chunks = response.iter_text()
        first = next(chunks)
        first_at = time.monotonic() - t0
        body = first + ''.join(chunks)

    assert first.startswith('partial output')
    assert first_at < 0.25, first_at  # it came before the script failed

    assert body == 'partial output\n'  # no details without --debug
    log = wait_for_log(server, 'late <failure> 5678')
    assert 'RuntimeError: late <failure> 5678' in log
    assert 'GET /raise_late.py' in log

    head, raw_body, closed = raw_exchange(server, '/raise_late.py')
    assert head.startswith('HTTP/1.1 200')
    assert raw_body == 'partial output\n'
    assert closed, 'the connection was kept alive after a failed script'

    # the server keeps serving, and a good script keeps its connection
    head, raw_body, closed = raw_exchange(server, '/good.py?after')
    assert raw_body == 'good after\n' and not closed


def test_exception_after_output_debug_appends_escaped_traceback(debug_server):
    head, body, closed = raw_exchange(debug_server, '/raise_late.py')

    assert head.startswith('HTTP/1.1 200')
    assert body.startswith('partial output\n')
    assert 'RuntimeError: late &lt;failure&gt; 5678' in body
    assert '<failure>' not in body
    assert closed


# --- run() coroutines ---------------------------------------------------------------

def test_exception_in_run_coroutine_is_500(server):
    response = server.get('/run_raise.py')

    assert response.status_code == 500
    assert 'coroutine-failure-91' not in response.text
    log = wait_for_log(server, 'coroutine-failure-91')
    assert 'KeyError' in log and 'coroutine-failure-91' in log
    assert 'GET /run_raise.py' in log


def test_exception_in_run_coroutine_debug(debug_server):
    response = debug_server.get('/run_raise.py')

    assert response.status_code == 500
    assert 'coroutine-failure-91' in response.text


def test_exception_in_run_coroutine_after_output(server):
    head, body, closed = raw_exchange(server, '/run_raise_late.py')

    assert head.startswith('HTTP/1.1 200')
    assert body == 'printed first\n'
    assert closed
    assert 'coroutine-failure-92' in wait_for_log(server, 'coroutine-failure-92')


# --- isolation ------------------------------------------------------------------------

def test_failures_do_not_disturb_concurrent_requests(server):
    async def main():
        limits = httpx.Limits(max_connections=100)

        async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                     limits=limits) as client:
            bad = [client.get('/raise_early.py') for _ in range(10)]
            bad += [client.get('/raise_late.py') for _ in range(5)]
            bad += [client.get('/run_raise.py') for _ in range(5)]
            good = [client.get('/good.py?n%d' % i) for i in range(20)]
            mixed = [x for pair in zip(bad, good) for x in pair]
            return await asyncio.gather(*mixed)

    responses = asyncio.run(main())
    bad, good = responses[0::2], responses[1::2]

    assert [r.status_code for r in good] == [200] * 20
    assert [r.text for r in good] == ['good n%d\n' % i for i in range(20)]
    assert sorted(r.status_code for r in bad) == [200] * 5 + [500] * 15
    assert server.proc.poll() is None
    assert server.get('/good.py?end').text == 'good end\n'
