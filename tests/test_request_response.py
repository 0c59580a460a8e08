"""End-to-end tests of SPEC section 5: the `request` object and its body
coroutines, `__server__`, and the `response` object used from coroutines,
including header-injection attempts.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import time

import httpx
import pytest

from e2e_util import RawResponse, raw_exchange, raw_get, start_server, wait_for

FILES = {
    'req.py': '''
        import json
        from httpout import request
        print(json.dumps({
            'method': repr(request.method),
            'method_is_bytes': isinstance(request.method, bytes),
            'environ_is_server': request.environ is __server__,
            'headers': {k.decode('latin-1'): [v.decode('latin-1') for v in vs]
                        for k, vs in request.headers.items()},
            'cookies': request.cookies,
            'query': request.query,
        }))
    ''',
    'env.py': '''
        import json
        print(json.dumps(__server__))
    ''',
    'a/b.py': '''
        import json
        print(json.dumps(__server__))
    ''',
    'body.py': '''
        import hashlib, json
        from httpout import request
        body = wait(request.body())
        print(json.dumps({'type': type(body).__name__, 'len': len(body),
                          'sha': hashlib.sha256(body).hexdigest(),
                          'head': body[:64].decode('latin-1'),
                          'method': request.method.decode()}))
    ''',
    'form.py': '''
        import json
        from httpout import request
        print(json.dumps(wait(request.form())))
    ''',
    'files.py': '''
        import hashlib, json
        from httpout import request

        async def collect():
            parts = {}
            async for part in request.files():
                entry = parts.setdefault(part['name'], {
                    'filename': part.get('filename'), 'type': part.get('type'),
                    'data': b''})
                entry['data'] += part['data']
            return parts

        parts = wait(collect())
        print(json.dumps({name: {'filename': p['filename'], 'type': p['type'],
                                 'len': len(p['data']),
                                 'sha': hashlib.sha256(p['data']).hexdigest(),
                                 'head': p['data'][:40].decode('latin-1')}
                          for name, p in parts.items()}))
    ''',
    'stream.py': '''
        import hashlib, json
        from httpout import request

        async def collect():
            pieces = []
            async for piece in request.stream():
                pieces.append(bytes(piece))
            return pieces

        pieces = wait(collect())
        data = b''.join(pieces)
        print(json.dumps({'pieces': len(pieces), 'len': len(data),
                          'sha': hashlib.sha256(data).hexdigest()}))
    ''',
    'upload_end.py': '''
        import os
        from httpout import request
        marker = os.path.join(__server__['DOCUMENT_ROOT'], '..',
                              'upload-end-' + request.query['id'][0])
        try:
            body = wait(request.body())
            result = 'body %d' % len(body)
        except BaseException as exc:
            result = 'exception ' + type(exc).__name__
            raise
        finally:
            with open(marker, 'w') as f:
                f.write(result)
        print(len(body))
    ''',
    'resp_wait.py': '''
        import json
        from httpout import response

        async def main():
            response.set_status(202, 'Accepted Here')
            response.set_header('X-One', 'first')
            response.set_header('X-One', 'replaced')
            response.append_header('X-Two', 'b1')
            response.append_header('X-Two', 'b2')
            response.set_cookie('sess', 'abc', expires=3600, httponly=True,
                                samesite='Strict')
            response.set_content_type('application/json')
            return response.headers

        headers = wait(main())
        print(json.dumps(headers))
    ''',
    'resp_run.py': '''
        from httpout import response

        async def main():
            response.set_status(203)
            response.set_header('X-From', 'run')
            await response.write(b'written from run()\\n')
            await response.write('and text\\n')

        run(main())
    ''',
    'inject.py': '''
        from httpout import response

        attempts = [
            lambda: response.set_header('X-A', 'v\\r\\nInjected-A: 1'),
            lambda: response.set_header('X-B', 'v\\nInjected-B: 1'),
            lambda: response.set_header('X-C', 'v\\rInjected-C: 1'),
            lambda: response.set_header('X-D\\r\\nInjected-D', 'v'),
            lambda: response.set_header('X-E\\n', 'v'),
            lambda: response.append_header('X-F', 'v\\r\\nInjected-F: 1'),
            lambda: response.append_header('Injected-G\\r\\n', 'v'),
            lambda: response.set_content_type('text/html\\r\\nInjected-H: 1'),
            lambda: response.set_status(200, 'OK\\r\\nInjected-I: 1'),
            lambda: response.set_cookie('c\\r\\nInjected-J', 'v'),
            lambda: response.set_cookie('c', 'v', path='/\\r\\nInjected-K: 1'),
            lambda: response.set_cookie('c', 'v', domain='x\\r\\nInjected-L: 1'),
            lambda: response.set_cookie('c', 'v', samesite='Lax\\r\\nInjected-M: 1'),
        ]

        async def in_coroutine():
            try:
                response.set_header('X-N', 'v\\r\\nInjected-N: 1')
                return 'accepted'
            except ValueError:
                return 'refused'

        results = []
        for attempt in attempts:
            try:
                attempt()
                results.append('accepted')
            except ValueError:
                results.append('refused')
        results.append(wait(in_coroutine()))
        response.set_header('X-Still-Fine', 'yes')
        print(' '.join(results))
    ''',
    'cookie_values.py': '''
        from httpout import response
        response.set_cookie('crlf', 'a\\r\\nInjected-Cookie: 1')
        response.set_cookie('semi', 'x; Path=/evil; Domain=evil.example')
        response.set_cookie('plain', 'v')
        print('ok')
    ''',
    'session_cookie.py': '''
        from httpout import response
        response.set_cookie('session', 'v1')
        print('ok')
    ''',
}

LIMIT = 1000


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    return tmp_path_factory.mktemp('reqresp')


@pytest.fixture(scope='module')
def server(base):
    # a short request timeout bounds how long a hung body read can keep a test
    srv = start_server(base, FILES, '--request-timeout', '5')
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def trusted(base):
    srv = start_server(base, {'env.py': FILES['env.py']}, '--trusted-proxy', '127.0.0.1',
                       name='trusted')
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def limited(base):
    files = {'limit.py': '''
        import os
        from httpout import request
        marker = os.path.join(__server__['DOCUMENT_ROOT'], '..', 'limit-ran.txt')
        try:
            body = wait(request.body())
            result = 'body %d' % len(body)
        except BaseException as exc:
            result = 'error ' + type(exc).__name__
            raise
        finally:
            with open(marker, 'a') as f:
                f.write(result + '\\n')
        print('got', len(body))
    '''}
    srv = start_server(base, files, '--client-max-body-size', str(LIMIT), name='limited')
    yield srv
    srv.stop()


# --- request ---------------------------------------------------------------

def test_request_attributes_on_get(server):
    response = server.get('/req.py?a=1&b=x&b=y',
                          headers={'X-Custom': 'hello', 'Cookie': 'flavour=oat; size=2'})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data['method'] == "b'GET'"
    assert data['method_is_bytes'] is True
    assert data['environ_is_server'] is True
    assert data['headers']['x-custom'] == ['hello']
    assert data['headers']['host'] == ['127.0.0.1:%d' % server.port]
    assert data['query'] == {'a': ['1'], 'b': ['x', 'y']}
    cookies = data['cookies']
    assert cookies.get('flavour') in ('oat', ['oat']), cookies
    assert cookies.get('size') in ('2', ['2']), cookies


def test_request_method_post(server):
    data = server.post('/body.py', content=b'payload').json()
    assert data['method'] == 'POST'
    assert data['type'] == 'bytes'
    assert data['len'] == 7 and data['head'] == 'payload'


def test_request_body_large(server):
    payload = os.urandom(300_000)
    data = server.post('/body.py', content=payload).json()
    assert data['len'] == len(payload)
    assert data['sha'] == hashlib.sha256(payload).hexdigest()


def test_request_body_chunked(server):
    payload = b''.join(b'%05d,' % i for i in range(20000))

    def pieces():
        for i in range(0, len(payload), 7000):
            yield payload[i:i + 7000]

    response = httpx.post(server.url + '/body.py', content=pieces(), timeout=8)
    data = response.json()
    assert data['len'] == len(payload)
    assert data['sha'] == hashlib.sha256(payload).hexdigest()


def test_request_body_chunked_in_one_write(server):
    """Several chunks that arrive in one read are all decoded."""
    chunks = [bytes([65 + i]) * 8000 for i in range(3)]
    body = b''.join(b'%x\r\n%s\r\n' % (len(c), c) for c in chunks) + b'0\r\n\r\n'
    raw = raw_exchange(server.port, b'POST /body.py HTTP/1.1\r\nHost: x\r\n'
                                    b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
                       + body, timeout=8)
    assert raw, 'no response within 8 s'
    response = RawResponse(raw)
    assert response.status == 200, response.body[:200]
    data = json.loads(response.body)
    assert data['len'] == 24000
    assert data['sha'] == hashlib.sha256(b''.join(chunks)).hexdigest()


def test_request_form_urlencoded(server):
    response = server.post('/form.py', data={'name': 'Ada Lovelace', 'lang': ['py', 'c'],
                                             'sym': 'a&b=c'})
    assert response.status_code == 200, response.text
    assert response.json() == {'name': ['Ada Lovelace'], 'lang': ['py', 'c'],
                               'sym': ['a&b=c']}


def test_request_form_multipart(server):
    response = server.post('/form.py', data={'name': 'Ada', 'city': 'London'},
                           files={'dummy': ('x.txt', b'file data', 'text/plain')})
    assert response.status_code == 200, response.text
    form = response.json()
    assert form.get('name') == ['Ada']
    assert form.get('city') == ['London']


def test_request_files_upload(server):
    upload = os.urandom(200_000)
    response = server.post('/files.py', data={'title': 'holiday'},
                           files={'photo': ('me.png', upload, 'image/png'),
                                  'notes': ('notes.txt', b'hello notes', 'text/plain')})
    assert response.status_code == 200, response.text
    parts = response.json()
    assert parts['photo']['filename'] == 'me.png'
    assert parts['photo']['type'] == 'image/png'
    assert parts['photo']['len'] == len(upload)
    assert parts['photo']['sha'] == hashlib.sha256(upload).hexdigest()
    assert parts['notes']['filename'] == 'notes.txt'
    assert parts['notes']['head'] == 'hello notes'
    # a plain field is not a file: if files() lists it, it has no filename
    assert parts.get('title', {}).get('filename') is None


def test_request_stream(server):
    payload = os.urandom(500_000)
    data = server.post('/stream.py', content=payload).json()
    assert data['len'] == len(payload)
    assert data['sha'] == hashlib.sha256(payload).hexdigest()
    assert data['pieces'] >= 1


MULTIPART_BODY = (
    b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="city"\r\n\r\nLondon\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="doc"; filename="a.txt"\r\n'
    b'Content-Type: text/plain\r\n\r\nfile body\r\n'
    b'--XyZ--\r\n')


@pytest.mark.parametrize('script', ['/form.py', '/files.py'])
def test_multipart_body_sent_in_one_piece(server, script):
    """A well-formed multipart body that arrives in one read (the usual
    case for a small form) is parsed."""
    response = raw_get(server.port, script, method='POST', body=MULTIPART_BODY,
                       headers={'Content-Type': 'multipart/form-data; boundary=XyZ'})
    assert response.status == 200, response.body[:300]
    data = json.loads(response.body)
    if script == '/form.py':
        assert data['name'] == ['Ada'] and data['city'] == ['London']
    else:
        assert data['doc']['filename'] == 'a.txt'
        assert data['doc']['type'] == 'text/plain'
        assert data['doc']['head'] == 'file body'


def test_unread_body_does_not_break_keep_alive(server):
    """A script that ignores a POST body: if the response promises
    keep-alive, the next request on that connection is answered."""
    with socket.create_connection(('127.0.0.1', server.port), 5) as sock:
        sock.sendall(b'POST /env.py HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc')
        first = b''
        while b'\r\n\r\n' not in first or not first.endswith(b'}\n'):
            piece = sock.recv(65536)
            assert piece, first
            first += piece
        assert first.startswith(b'HTTP/1.1 200')
        if b'connection: close' in first.lower():
            return  # the server said it will close: fine
        sock.sendall(b'GET /env.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        second = b''
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            second += piece
    assert second.startswith(b'HTTP/1.1 200'), \
        'keep-alive was promised, but the connection closed: %r' % second


@pytest.mark.parametrize('how', ['close', 'reset'])
def test_client_leaving_mid_upload_ends_the_script(server, how):
    """SPEC §4: if the client goes away the script ends and its thread is
    free; a script waiting for the rest of a body must not wait for a
    timeout."""
    marker = server.root.parent / ('upload-end-' + how)
    with socket.create_connection(('127.0.0.1', server.port), 5) as sock:
        sock.sendall(b'POST /upload_end.py?id=%s HTTP/1.1\r\nHost: x\r\n'
                     b'Content-Length: 100000\r\n\r\n' % how.encode() + b'z' * 1000)
        time.sleep(0.3)  # the script is waiting for the rest
        assert not marker.exists()
        if how == 'reset':
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    assert wait_for(marker.exists, 2.0), 'the script still waits 2 s after the client left'
    assert marker.read_text().startswith('exception'), marker.read_text()


def _limit_marker(limited):
    return limited.root.parent / 'limit-ran.txt'


def test_body_within_limit_is_accepted(limited):
    marker = _limit_marker(limited)
    if marker.exists():
        marker.unlink()
    response = limited.post('/limit.py', content=b'x' * (LIMIT // 2))
    assert response.status_code == 200
    assert response.text == 'got %d\n' % (LIMIT // 2)
    assert marker.read_text() == 'body %d\n' % (LIMIT // 2)


@pytest.mark.parametrize('chunked', [False, True], ids=['content-length', 'chunked'])
def test_body_over_limit_is_refused(limited, chunked):
    marker = _limit_marker(limited)
    if marker.exists():
        marker.unlink()
    payload = b'y' * (LIMIT * 5)
    content = payload if not chunked else iter([payload[i:i + 500]
                                                for i in range(0, len(payload), 500)])
    try:
        response = httpx.post(limited.url + '/limit.py', content=content, timeout=10)
    except httpx.TransportError:
        status = None  # the connection was closed: a refusal too
    else:
        status = response.status_code
        assert 400 <= status < 500, (status, response.text[:300])
        assert 'got' not in response.text
    time.sleep(0.3)
    ran = marker.read_text() if marker.exists() else ''
    # the script must never see a truncated (or an over-limit) body
    assert 'body' not in ran, ran


# --- __server__ --------------------------------------------------------------

REQUIRED = ['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REMOTE_ADDR',
            'HTTP_HOST', 'REQUEST_URI', 'REQUEST_SCHEME', 'DOCUMENT_ROOT',
            'SERVER_PROTOCOL', 'CONTENT_TYPE', 'CONTENT_LENGTH']


def test_server_dict_has_the_cgi_names(server):
    # a connection of its own: env.py leaves the body unread
    env = httpx.post(server.url + '/env.py?q=1&r=2', content=b'abc', timeout=10,
                     headers={'Content-Type': 'text/plain', 'X-Custom': 'yes'}).json()
    missing = [key for key in REQUIRED if key not in env]
    assert not missing
    assert env['REQUEST_METHOD'] == 'POST'
    assert env['SCRIPT_NAME'] == '/env.py'
    assert env['PATH_INFO'] == ''
    assert env['QUERY_STRING'] == 'q=1&r=2'
    assert env['REMOTE_ADDR'] == '127.0.0.1'
    assert env['HTTP_HOST'] == '127.0.0.1:%d' % server.port
    assert env['REQUEST_URI'] == '/env.py?q=1&r=2'
    assert env['REQUEST_SCHEME'] == 'http'
    assert os.path.realpath(env['DOCUMENT_ROOT']) == os.path.realpath(server.root)
    assert env['SERVER_PROTOCOL'] == 'HTTP/1.1'
    assert env['CONTENT_TYPE'] == 'text/plain'
    assert env['CONTENT_LENGTH'] == '3'
    assert env['HTTP_X_CUSTOM'] == 'yes'


def test_server_dict_on_get_has_every_key(server):
    env = server.get('/env.py').json()
    missing = [key for key in REQUIRED if key not in env]
    assert not missing
    assert env['REQUEST_METHOD'] == 'GET'
    assert env['QUERY_STRING'] == ''


def test_server_dict_http10(server):
    response = raw_get(server.port, '/env.py', version='HTTP/1.0')
    assert response.status == 200
    assert json.loads(response.body)['SERVER_PROTOCOL'] == 'HTTP/1.0'


def test_path_info_collapses_slashes(server):
    env = raw_get(server.port, '/a/b.py/x//y/?k=v')
    assert env.status == 200
    data = json.loads(env.body)
    assert data['SCRIPT_NAME'] == '/a/b.py'
    assert data['PATH_INFO'] == '/x/y'
    assert data['QUERY_STRING'] == 'k=v'
    assert data['REQUEST_URI'] == '/a/b.py/x//y/?k=v'


def test_forwarded_for_from_untrusted_peer_is_ignored(server):
    env = server.get('/env.py', headers={'X-Forwarded-For': '203.0.113.7',
                                         'X-Forwarded-Proto': 'https'}).json()
    assert env['REMOTE_ADDR'] == '127.0.0.1'
    assert env['REQUEST_SCHEME'] == 'http'


def test_forwarded_for_from_trusted_proxy_is_believed(trusted):
    env = trusted.get('/env.py', headers={'X-Forwarded-For': '203.0.113.7'}).json()
    assert env['REMOTE_ADDR'] == '203.0.113.7'
    env = trusted.get('/env.py', headers={'X-Forwarded-For': '198.51.100.1, 203.0.113.9'}).json()
    assert env['REMOTE_ADDR'] == '203.0.113.9'
    env = trusted.get('/env.py').json()
    assert env['REMOTE_ADDR'] == '127.0.0.1'


def test_underscore_header_cannot_spoof(trusted):
    response = raw_get(trusted.port, '/env.py', headers={'X_Forwarded_For': '6.6.6.6'})
    data = json.loads(response.body)
    assert data['REMOTE_ADDR'] == '127.0.0.1'
    assert '6.6.6.6' not in json.dumps(data)


# --- response --------------------------------------------------------------

def test_response_setters_from_a_coroutine(server):
    response = server.get('/resp_wait.py')
    assert response.status_code == 202
    assert response.reason_phrase == 'Accepted Here'
    assert response.headers.get_list('x-one') == ['replaced']
    assert response.headers.get_list('x-two') == ['b1', 'b2']
    assert response.headers['content-type'].startswith('application/json')
    cookie = response.headers['set-cookie']
    assert cookie.startswith('sess=abc')
    lowered = cookie.lower()
    assert 'httponly' in lowered
    assert 'samesite=strict' in lowered
    assert 'max-age=3600' in lowered or 'expires=' in lowered

    headers = response.json()  # the `headers` property, as the script saw it
    assert headers['x-one'] == ['replaced']
    assert headers['x-two'] == ['b1', 'b2']
    assert headers['content-type'][0].startswith('application/json')
    assert any(value.startswith('sess=abc') for value in headers['set-cookie'])


def test_response_from_a_run_coroutine(server):
    response = server.get('/resp_run.py')
    assert response.status_code == 203
    assert response.headers['x-from'] == 'run'
    assert response.text == 'written from run()\nand text\n'


def test_header_injection_is_refused(server):
    response = raw_get(server.port, '/inject.py')
    assert response.status == 200
    words = response.body.decode().split()
    assert len(words) == 14, words
    # CR/LF in a header name or value, the content type or the status
    # message: refused at the call, from the thread and from a coroutine
    assert words[:10] == ['refused'] * 10, words
    assert words[13] == 'refused', words
    # cookie attributes may be refused or percent-encoded: either way no
    # header line is injected (checked on the raw head below)
    assert set(words[10:13]) <= {'refused', 'accepted'}, words
    head = response.raw.partition(b'\r\n\r\n')[0]
    for line in head.split(b'\r\n'):
        assert not line.lower().startswith(b'injected'), head
    assert b'\r' not in head.replace(b'\r\n', b'')
    assert b'\n' not in head.replace(b'\r\n', b'')
    assert response.header('x-still-fine') == 'yes'


def test_cookie_values_are_encoded(server):
    response = raw_get(server.port, '/cookie_values.py')
    assert response.status == 200
    head = response.raw.partition(b'\r\n\r\n')[0]
    for line in head.split(b'\r\n'):
        assert not line.lower().startswith(b'injected'), head
    cookies = response.headers_all('set-cookie')
    assert len(cookies) == 3, cookies
    by_name = {c.split('=', 1)[0]: c for c in cookies}
    crlf = by_name['crlf']
    assert '\r' not in crlf and '\n' not in crlf
    semi = by_name['semi']
    value = semi.split(';')[0]
    assert value.startswith('semi=x')
    assert 'evil' not in semi.lower().replace(value.lower(), ''), semi
    assert 'path=/evil' not in semi.lower()
    assert 'domain=evil' not in semi.lower()


def test_default_cookie_is_a_session_cookie(server):
    """SPEC §5: expires=0 (the default) is a session cookie, not one that
    has already expired."""
    response = raw_get(server.port, '/session_cookie.py')
    cookie = response.header('set-cookie')
    assert cookie is not None and cookie.startswith('session=v1')
    lowered = cookie.lower()
    assert 'max-age=0' not in lowered, cookie
    assert 'expires=' not in lowered, cookie
    # a client keeps it
    assert httpx.get(server.url + '/session_cookie.py').cookies.get('session') == 'v1'
