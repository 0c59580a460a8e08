"""Error paths are deterministic (SPEC section 7), with middleware in the way.

The document root has a `__globals__.py` whose request middleware sets an
`X-Request-Id` header, and whose response middleware deletes it again and
adds `X-Seen` (as an access-control or tracing middleware would). Each case
runs with and without --debug:

- a script that printed and then failed keeps its status, headers and
  output, flushed or not, and the connection is closed;
- a script that failed before any output gets the 500 page, which keeps the
  request middleware's headers and passes through response middleware;
- a response middleware that itself fails is logged as its own error and
  never replaces the script's error, in the log or on the --debug page;
- a request middleware that fails gets httpout's page, never the exception
  text (tremolo's own page would show it).
"""
from __future__ import annotations

import re
import socket

import pytest

from e2e_util import RawResponse, start_server

SECRET = 'secret-detail-4711'

FILES = {
    '__globals__.py': '''
        from httpout import app

        @app.on_request
        async def tag(request, response, **_):
            response.set_header(b'X-Request-Id', b'req-1')

            if request.path == b'/middleware_fails.py':
                raise RuntimeError('request middleware failed: %s')

        @app.on_response
        async def untag(request, response, **_):
            if request.path == b'/untag_twice.py':
                del response.headers[b'x-not-there']  # a KeyError of its own
            del response.headers[b'x-request-id']
            response.set_header(b'X-Seen', b'yes')
    ''' % SECRET,
    'print_then_raise.py': '''
        from httpout import response
        response.set_status(202)
        response.set_header('X-Script', 'kept')
        print('partial output')
        raise RuntimeError('late failure %s')
    ''' % SECRET,
    'flush_then_raise.py': '''
        import time
        from httpout import response
        response.set_status(202)
        print('partial output', flush=True)
        time.sleep(0.1)
        raise RuntimeError('late failure %s')
    ''' % SECRET,
    'stdout_then_raise.py': '''
        import sys
        sys.stdout.write('partial output\\n')
        raise RuntimeError('late failure %s')
    ''' % SECRET,
    'coroutine_raises.py': '''
        import asyncio

        async def fail():
            await asyncio.sleep(0.05)
            raise KeyError('coroutine failure %s')

        print('partial output')
        run(fail())
    ''' % SECRET,
    'raise_first.py': '''
        from httpout import response
        response.set_header('X-Script', 'not on the error page')
        raise ValueError('early failure %s')
    ''' % SECRET,
    'untag_twice.py': '''
        raise ValueError('early failure %s')
    ''' % SECRET,
    'middleware_fails.py': '''
        print('never runs')
    ''',
}


@pytest.fixture(scope='module', params=[[], ['--debug']], ids=['plain', 'debug'])
def server(request, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('errpaths'), FILES, *request.param)
    srv.debug = bool(request.param)
    yield srv
    srv.stop()


def exchange(server, path: str) -> tuple[RawResponse, bool]:
    """GET `path` on a keep-alive connection; also tell whether the server
    closed the connection after the response."""
    with socket.create_connection(('127.0.0.1', server.port), timeout=10) as sock:
        sock.sendall(b'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' % path.encode())
        data = b''

        while True:
            piece = sock.recv(65536)

            if not piece:
                return RawResponse(data), True
            data += piece

            try:
                response = RawResponse(data)
            except ValueError:
                continue

            if response.chunked and data.endswith(b'0\r\n\r\n') or (
                    not response.chunked and len(response.body) >= int(
                        response.header('content-length', '-1'))):
                sock.settimeout(1)
                try:
                    closed = sock.recv(1) == b''
                except socket.timeout:
                    closed = False
                return response, closed


@pytest.mark.parametrize('page', ['print_then_raise', 'flush_then_raise',
                                  'stdout_then_raise', 'coroutine_raises'])
def test_output_stands_after_an_error_flushed_or_not(server, page):
    response, closed = exchange(server, '/%s.py' % page)
    body = response.body.decode()

    expected_status = 202 if page in ('print_then_raise', 'flush_then_raise') else 200
    assert response.status == expected_status
    assert body.startswith('partial output\n')
    assert closed, 'the connection must not be kept alive after a failed page'

    if page in ('print_then_raise', 'stdout_then_raise'):  # nothing sent before the error
        assert response.header('connection') == 'close'
        assert response.header('content-length') == str(len(response.body))
    assert response.header('x-seen') == 'yes'  # response middleware ran
    assert response.header('x-request-id') is None

    if page == 'print_then_raise':
        assert response.header('x-script') == 'kept'

    if server.debug:
        assert 'httpout-error' in body and SECRET in body
    else:
        assert body == 'partial output\n'

    log = server.log()
    assert re.search(r'127\.0\.0\.1 GET /%s\.py: script error' % page, log)
    assert SECRET in log


def test_error_page_keeps_request_middleware_headers(server):
    response, _ = exchange(server, '/raise_first.py')

    assert response.status == 500
    assert response.header('x-seen') == 'yes'  # response middleware ran
    assert response.header('x-request-id') is None  # ... and could delete it
    assert response.header('x-script') is None  # the script's own are gone
    assert (SECRET in response.body.decode()) is server.debug


def test_failing_response_middleware_never_replaces_the_script_error(server):
    before = server.log()
    response, _ = exchange(server, '/untag_twice.py')
    log = server.log()[len(before):]
    body = response.body.decode()

    assert response.status == 500
    assert 'KeyError' not in body

    if server.debug:
        assert 'ValueError' in body and SECRET in body
    else:
        assert SECRET not in body and 'ValueError' not in body

    script_error = log.index('GET /untag_twice.py: script error')
    middleware_error = log.index('GET /untag_twice.py: response middleware error')
    assert script_error < middleware_error
    assert 'ValueError: early failure' in log[script_error:middleware_error]
    assert "KeyError: b'x-not-there'" in log[middleware_error:]


def test_failing_request_middleware_shows_no_exception_text(server):
    response, _ = exchange(server, '/middleware_fails.py')
    body = response.body.decode()

    assert response.status == 500
    assert 'never runs' not in body
    assert (SECRET in body) is server.debug
    assert 'request middleware failed' in server.log()


def test_refusals_pass_through_middleware(server):
    for path, status in (('/missing.py', 404), ('/.env', 403), ('/_private.py', 404)):
        response, _ = exchange(server, path)

        assert response.status == status
        assert response.header('x-seen') == 'yes'
        assert response.header('x-request-id') is None
