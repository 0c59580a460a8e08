"""Zero-copy static files (issue 12, part 3): on plain TCP with asyncio's
loop or uvloop, a file's body goes to the socket with os.sendfile; TLS,
byte ranges and --download-rate keep tremolo's path. Ranges, HEAD and conditional requests
answer as before on every path.

Which path a response took is seen from inside the real server: the
document root's `__globals__.py` counts the bytes that os.sendfile sent in
that worker, and `/sent.py` prints the count.
"""
from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from e2e_util import RawResponse, raw_get, start_server

BIG = bytes(range(256)) * 4096  # 1 MiB
HUGE_SIZE = 64 * 1024 * 1024    # more than loopback buffers hold

FILES = {
    '__globals__.py': '''
        import os

        from httpout import app

        sent = [0]
        _sendfile = os.sendfile


        def counting_sendfile(*args):
            count = _sendfile(*args)
            sent[0] += count
            return count


        os.sendfile = counting_sendfile


        @app.on_response
        async def mark(response, **server):
            response.set_header(b'X-Middleware', b'ran')
    ''',
    'sent.py': 'print(__globals__.sent[0], end="")\n',
    'big.txt': BIG,
    'small.css': 'a { color: red; }\n',
    'empty.txt': b'',
}


def sent(server) -> int:
    return int(raw_get(server.port, '/sent.py').body)


@pytest.fixture(scope='module')
def plain(tmp_path_factory):
    base = tmp_path_factory.mktemp('sendfile')
    server = start_server(base, FILES)
    (server.root / 'huge.txt').write_bytes(b'h' * HUGE_SIZE)
    yield server
    server.stop()


def test_whole_file_goes_through_os_sendfile(plain):
    before = sent(plain)
    response = raw_get(plain.port, '/big.txt')
    assert response.status == 200
    assert response.body == BIG
    assert response.header('content-length') == str(len(BIG))
    assert response.header('content-type') == 'text/plain; charset=utf-8'
    assert response.header('accept-ranges') == 'bytes'
    assert response.header('last-modified') and response.header('etag')
    assert response.header('x-middleware') == 'ran'  # response middleware ran
    assert sent(plain) - before == len(BIG)


def test_small_file_too(plain):
    before = sent(plain)
    response = raw_get(plain.port, '/small.css')
    assert response.body == b'a { color: red; }\n'
    assert sent(plain) - before == len(response.body)


def test_empty_file(plain):
    response = raw_get(plain.port, '/empty.txt')
    assert response.status == 200
    assert response.header('content-length') == '0'
    assert response.body == b''


def test_keepalive_after_sendfile(plain):
    check_keepalive(plain)


def check_keepalive(server) -> None:
    """Two files and a page on one connection: each response is framed
    right, and the connection stays usable after the zero-copy body."""
    with socket.create_connection(('127.0.0.1', server.port), 10) as sock:
        for path, expected in (('/big.txt', BIG), ('/small.css', None), ('/big.txt', BIG)):
            sock.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
            data = bytearray()
            while True:
                data += sock.recv(1 << 20)
                head, sep, body = bytes(data).partition(b'\r\n\r\n')
                if sep and len(body) >= int(RawResponse(bytes(data)).header('content-length')):
                    break
            response = RawResponse(bytes(data))
            assert response.status == 200
            assert response.header('connection') == 'keep-alive'
            if expected is not None:
                assert response.body == expected
                assert len(body) == len(expected)  # nothing extra after it


def test_range_head_and_304_take_the_old_path(plain):
    before = sent(plain)
    part = raw_get(plain.port, '/big.txt', headers={'Range': 'bytes=100-199'})
    assert part.status == 206
    assert part.body == BIG[100:200]
    assert part.header('content-range') == 'bytes 100-199/%d' % len(BIG)

    head = raw_get(plain.port, '/big.txt', method='HEAD')
    assert head.status == 200 and head.body == b''
    assert head.header('content-length') == str(len(BIG))

    etag = head.header('etag')
    not_modified = raw_get(plain.port, '/big.txt', headers={'If-None-Match': etag})
    assert not_modified.status == 304 and not_modified.body == b''
    since = raw_get(plain.port, '/big.txt',
                    headers={'If-Modified-Since': head.header('last-modified')})
    assert since.status == 304
    assert sent(plain) == before


def test_client_that_leaves_mid_file(plain):
    check_client_that_leaves(plain)


def test_pipelined_requests(plain):
    check_pipelined(plain)


def check_pipelined(server) -> None:
    """Two requests sent at once: the second is answered after the first
    body, whole, on the same connection."""
    with socket.create_connection(('127.0.0.1', server.port), 10) as sock:
        sock.sendall(b'GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n'
                     b'GET /small.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        data = bytearray()
        while True:
            piece = sock.recv(1 << 20)
            if not piece:
                break
            data += piece
    first = RawResponse(bytes(data))
    assert first.status == 200 and first.body == BIG
    second = RawResponse(first.rest[len(BIG):])
    assert second.status == 200 and second.body == b'a { color: red; }\n'


def test_concurrent_clients_get_whole_files(plain):
    check_concurrent(plain)


def check_concurrent(server) -> None:
    """16 keep-alive clients at once, 8 files each: no body is cut, mixed
    with another or followed by stray bytes."""
    def client(_):
        with httpx.Client(base_url=server.url, timeout=30) as http:
            return [http.get('/big.txt').content == BIG for _ in range(8)]

    with ThreadPoolExecutor(16) as pool:
        results = [ok for oks in pool.map(client, range(16)) for ok in oks]
    assert results == [True] * 128


def check_client_that_leaves(server) -> None:
    """A client that stops reading and resets the connection: the server
    stops sending, logs no error, and serves the next request."""
    before = sent(server)
    sock = socket.create_connection(('127.0.0.1', server.port), 10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b'GET /huge.txt HTTP/1.1\r\nHost: x\r\n\r\n')
    assert sock.recv(100).startswith(b'HTTP/1.1 200 OK')
    time.sleep(0.3)  # the server fills the buffers and waits
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()  # an RST
    time.sleep(0.3)

    assert raw_get(server.port, '/small.css').status == 200
    assert 0 < sent(server) - before < HUGE_SIZE
    assert 'Traceback' not in server.log()


# --- the paths that keep tremolo's sendfile ---------------------------------

def test_uvloop_too(tmp_path):
    """uvloop has no loop.sendfile: the body goes by os.sendfile on a
    duplicate of the socket's descriptor; ranges keep tremolo's path."""
    server = start_server(tmp_path, FILES, '--loop', 'uvloop')
    (server.root / 'huge.txt').write_bytes(b'h' * HUGE_SIZE)
    try:
        assert raw_get(server.port, '/big.txt').body == BIG
        assert sent(server) == len(BIG)
        part = raw_get(server.port, '/big.txt', headers={'Range': 'bytes=-10'})
        assert part.status == 206 and part.body == BIG[-10:]
        assert sent(server) == len(BIG)
        check_keepalive(server)
        check_pipelined(server)
        check_concurrent(server)
        check_client_that_leaves(server)
    finally:
        server.stop()


def test_download_rate_keeps_the_read_path(tmp_path):
    # only tremolo's send queue applies --download-rate
    server = start_server(tmp_path, FILES, '--download-rate', '1048576')
    try:
        assert raw_get(server.port, '/big.txt').body == BIG
        assert sent(server) == 0
    finally:
        server.stop()


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                    '-keyout', str(key), '-out', str(cert), '-days', '1',
                    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_keeps_the_read_path(tmp_path, certificate):
    cert, key = certificate
    server = start_server(tmp_path, FILES, '--ssl-cert', str(cert), '--ssl-key', str(key))
    context = ssl.create_default_context(cafile=str(cert))

    try:
        with httpx.Client(base_url='https://127.0.0.1:%d' % server.port, verify=context,
                          timeout=30) as client:
            response = client.get('/big.txt')
            assert response.status_code == 200
            assert response.content == BIG
            assert response.headers['x-middleware'] == 'ran'
            part = client.get('/big.txt', headers={'Range': 'bytes=0-9'})
            assert part.status_code == 206 and part.content == BIG[:10]
            assert client.head('/big.txt').headers['content-length'] == str(len(BIG))
            assert int(client.get('/sent.py').text) == 0
    finally:
        server.stop()
