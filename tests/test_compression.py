"""Compression on the wire (issue 12, part 2): pages with `--compress`,
precompressed siblings of static files, and what is never compressed.

Bytes are read off raw sockets (e2e_util.raw_get), so that what is checked
is what the server sent, not what a client library decoded.
"""
from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
import zlib

import brotli
import pytest
import zstandard

from e2e_util import dechunk, raw_get, start_server
from httpout.compression import acceptable, compressible, negotiate

TEXT = ''.join('<p>line %d of a page that compresses well</p>\n' % i for i in range(200))
CSS = 'body { color: #123456; margin: 0 auto; }\n' * 100
PNG_LIKE = os.urandom(4096)

PAGES = {
    'page.py': 'print(%r, end="")\n' % TEXT,
    'small.py': 'print("short", end="")\n',
    'stream.py': '''
        import time
        print("before the sleep")
        time.sleep(2)
        print("after the sleep")
    ''',
    'big.py': '''
        for i in range(100000):
            print("line %d" % i)
    ''',
    'image.py': '''
        from httpout import response
        response.set_content_type("image/png")
        print("x" * 4000, end="")
    ''',
    'coded.py': '''
        import gzip
        from httpout import response
        response.set_header("Content-Encoding", "gzip")
        wait(response.write(gzip.compress(b"already coded " * 200)))
    ''',
    'status.py': '''
        from httpout import request, response
        response.set_status(int(request.query["code"][0]))
        if "range" in request.query:
            response.set_header("Content-Range", "bytes 0-3999/8000")
        print("y" * 4000, end="")
    ''',
    'tagged.py': '''
        from httpout import response
        response.set_header("ETag", '"v1"')
        response.set_header("Vary", "Cookie")
        print("z" * 4000, end="")
    ''',
    'style.css': CSS,
    'style.css.gz': gzip.compress(CSS.encode(), 9),
    'style.css.br': brotli.compress(CSS.encode()),
    'only-gz.js': 'console.log("hello");\n' * 100,
    'only-gz.js.gz': gzip.compress(b'console.log("hello");\n' * 100),
    'stale.css': CSS,
    'stale.css.gz': gzip.compress(b'an old version ' * 50),
    'linked.css': CSS,
    'logo.png': PNG_LIKE,
    'logo.png.gz': gzip.compress(PNG_LIKE),
}


def _age_stale_sibling(root) -> None:
    # a sibling older than its file is out of date: nginx ignores it too
    old = time.time() - 3600
    os.utime(root / 'stale.css.gz', (old, old))
    # a sibling that is a symbolic link is not trusted, wherever it points
    (root / 'linked.css.gz').symlink_to(root / 'style.css.gz')


@pytest.fixture(scope='module')
def pages(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp('compress'), PAGES, '--compress')
    _age_stale_sibling(server.root)
    yield server
    server.stop()


@pytest.fixture(scope='module')
def default(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp('default'), PAGES)
    _age_stale_sibling(server.root)
    yield server
    server.stop()


def get(server, path, encoding=None, method='GET', **headers):
    if encoding is not None:
        headers['Accept-Encoding'] = encoding
    return raw_get(server.port, path, method=method,
                   headers={k.replace('_', '-'): v for k, v in headers.items()})


DECODERS = {
    'gzip': gzip.decompress,
    'br': brotli.decompress,
    'zstd': lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


# --- negotiation, as a pure function ----------------------------------------

@pytest.mark.parametrize('header,expected', [
    (None, None),
    ('', None),
    ('gzip', 'gzip'),
    ('GZIP', 'gzip'),
    ('x-gzip', 'gzip'),
    ('gzip, br', 'br'),                      # equal q: the server's order
    ('gzip;q=1.0, br;q=0.5', 'gzip'),        # the client's q wins
    ('gzip;q=0.5, zstd;q=0.8, br;q=0.1', 'zstd'),
    ('br;q=0, *', 'zstd'),                   # '*' is every coding not named
    ('*;q=0.1, gzip', 'gzip'),
    ('*;q=0', None),
    ('gzip;q=0', None),
    ('identity;q=0', None),                  # still sent as identity, not 406
    ('deflate, compress', None),             # nothing we offer
    ('gzip;q=abc', None),                    # an unreadable q drops the item
    ('gzip;q=2', None),                      # out of range, likewise
    ('gzip ; q=0.7 , br ; q=0.6', 'gzip'),
])
def test_negotiate(header, expected):
    lines = None if header is None else [header.encode()]
    assert negotiate(lines, ('br', 'zstd', 'gzip')) == expected


def test_acceptable_ranks_client_first_then_server_order():
    assert acceptable([b'gzip;q=0.9, *;q=0.5'], ('br', 'zstd', 'gzip')) == \
        ['gzip', 'br', 'zstd']
    assert acceptable([b'gzip', b'br;q=0.2'], ('br', 'gzip')) == ['gzip', 'br']


@pytest.mark.parametrize('content_type,expected', [
    (b'text/html; charset=utf-8', True),
    (b'TEXT/CSS', True),
    (b'application/json', True),
    (b'application/problem+json', True),
    (b'application/atom+xml', True),
    (b'image/svg+xml', True),
    (b'image/png', False),
    (b'image/jpeg', False),
    (b'video/mp4', False),
    (b'audio/mpeg', False),
    (b'application/zip', False),
    (b'application/gzip', False),
    (b'font/woff2', False),
    (b'application/octet-stream', False),
])
def test_compressible(content_type, expected):
    assert compressible(content_type) is expected


# --- pages with --compress ----------------------------------------------------

@pytest.mark.parametrize('coding', ['gzip', 'br', 'zstd'])
def test_page_compressed_whole_with_its_length(pages, coding):
    response = get(pages, '/page.py', coding)
    assert response.status == 200
    assert response.header('content-encoding') == coding
    assert response.header('vary') == 'Accept-Encoding'
    assert response.header('transfer-encoding') is None
    assert int(response.header('content-length')) == len(response.body) < len(TEXT) // 4
    assert DECODERS[coding](response.body) == TEXT.encode()


def test_page_without_accept_encoding_is_identity_but_varies(pages):
    response = get(pages, '/page.py')
    assert response.header('content-encoding') is None
    assert response.header('vary') == 'Accept-Encoding'
    assert response.body == TEXT.encode()


@pytest.mark.parametrize('encoding', ['gzip;q=0', '*;q=0', 'deflate', 'identity'])
def test_page_refused_codings_give_identity(pages, encoding):
    response = get(pages, '/page.py', encoding)
    assert response.status == 200
    assert response.header('content-encoding') is None
    assert response.body == TEXT.encode()


def test_short_body_is_not_compressed(pages):
    response = get(pages, '/small.py', 'gzip')
    assert response.header('content-encoding') is None
    assert response.header('vary') == 'Accept-Encoding'  # a longer one would be
    assert response.body == b'short'


def test_streamed_page_keeps_streaming_compressed(pages):
    """The line printed before time.sleep(2) is decoded by the client, from
    the gzip stream, before the sleep ends (a sync flush per send)."""
    with socket.create_connection(('127.0.0.1', pages.port), 10) as sock:
        sock.sendall(b'GET /stream.py HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n'
                     b'Connection: close\r\n\r\n')
        start = time.monotonic()
        data = bytearray()
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        first_line_at = None

        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
            head, sep, body = bytes(data).partition(b'\r\n\r\n')
            if sep and first_line_at is None:
                assert b'Content-Encoding: gzip' in head
                assert b'Transfer-Encoding: chunked' in head
                try:
                    chunks = dechunk(body + b'0\r\n\r\n')
                except ValueError:
                    continue  # a chunk cut in the middle
                if b'before the sleep\n' in decoder.decompress(chunks):
                    first_line_at = time.monotonic() - start

        assert first_line_at is not None and first_line_at < 1.5, first_line_at
        assert time.monotonic() - start >= 1.9
        body = dechunk(bytes(data).partition(b'\r\n\r\n')[2])
        assert gzip.decompress(body) == b'before the sleep\nafter the sleep\n'


def test_large_streamed_page_arrives_whole(pages):
    response = get(pages, '/big.py', 'gzip')
    assert response.chunked
    assert response.header('content-encoding') == 'gzip'
    expected = ''.join('line %d\n' % i for i in range(100000)).encode()
    assert gzip.decompress(response.body) == expected
    assert len(response.body) < len(expected) // 3


def test_head_has_the_headers_of_get(pages):
    head = get(pages, '/page.py', 'gzip', method='HEAD')
    full = get(pages, '/page.py', 'gzip')
    assert head.status == 200 and head.body == b''
    for name in ('content-encoding', 'content-length', 'vary', 'content-type'):
        assert head.header(name) == full.header(name), name


def test_already_compressed_types_are_not(pages):
    response = get(pages, '/image.py', 'gzip, br')
    assert response.header('content-encoding') is None
    assert response.header('vary') is None
    assert response.body == b'x' * 4000


def test_a_script_coding_is_left_alone(pages):
    response = get(pages, '/coded.py', 'gzip, br')
    assert response.header('content-encoding') == 'gzip'
    assert response.header('vary') is None
    assert gzip.decompress(response.body) == b'already coded ' * 200


@pytest.mark.parametrize('query', ['code=204', 'code=304', 'code=206&range=1'])
def test_statuses_never_compressed(pages, query):
    response = get(pages, '/status.py?' + query, 'gzip')
    assert response.header('content-encoding') is None
    assert response.header('vary') is None


def test_status_with_content_range_is_not_compressed(pages):
    response = get(pages, '/status.py?code=200&range=1', 'gzip')
    assert response.header('content-encoding') is None
    assert response.body == b'y' * 4000


def test_other_statuses_are(pages):
    response = get(pages, '/status.py?code=404', 'gzip')
    assert response.status == 404
    assert response.header('content-encoding') == 'gzip'
    assert gzip.decompress(response.body) == b'y' * 4000


def test_websocket_upgrade_request_is_not_compressed(pages):
    # a WebSocket request to a page that answers in HTTP instead
    response = get(pages, '/page.py', 'gzip', Upgrade='websocket', Connection='Upgrade')
    assert response.header('content-encoding') is None
    assert response.body == TEXT.encode()


def test_script_etag_becomes_weak_and_vary_is_merged(pages):
    response = get(pages, '/tagged.py', 'gzip')
    assert response.header('content-encoding') == 'gzip'
    assert response.header('etag') == 'W/"v1"'
    assert response.header('vary') == 'Cookie, Accept-Encoding'
    identity = get(pages, '/tagged.py')
    assert identity.header('etag') == '"v1"'


# --- pages by default, and --no-compress ------------------------------------------

def test_pages_are_not_compressed_by_default(default):
    """BREACH: see docs/security.md. No coding, and nothing varies."""
    response = get(default, '/page.py', 'gzip, br, zstd')
    assert response.header('content-encoding') is None
    assert response.header('vary') is None
    assert response.body == TEXT.encode()


def test_no_compress_sends_nothing_coded(tmp_path):
    server = start_server(tmp_path, PAGES, '--no-compress')
    try:
        page = get(server, '/page.py', 'gzip')
        css = get(server, '/style.css', 'gzip, br')
        assert page.header('content-encoding') is None
        assert css.header('content-encoding') is None
        assert css.header('vary') is None
        assert css.body == CSS.encode()
    finally:
        server.stop()


def test_compress_and_no_compress_together_is_refused(tmp_path):
    done = subprocess.run([sys.executable, '-m', 'httpout', '--compress', '--no-compress',
                           str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].endswith(
        '--no-compress cannot be used with --compress')
    assert 'Traceback' not in done.stderr


# --- static files: precompressed siblings ------------------------------------

@pytest.mark.parametrize('fixture', ['default', 'pages'])
def test_sibling_served_for_its_coding(request, fixture):
    server = request.getfixturevalue(fixture)
    root = server.root
    response = get(server, '/style.css', 'gzip')
    assert response.status == 200
    assert response.header('content-encoding') == 'gzip'
    assert response.header('content-type') == 'text/css; charset=utf-8'
    assert response.header('vary') == 'Accept-Encoding'
    assert response.body == (root / 'style.css.gz').read_bytes()
    assert int(response.header('content-length')) == os.path.getsize(root / 'style.css.gz')
    assert gzip.decompress(response.body) == CSS.encode()


def test_best_sibling_wins_and_each_has_its_etag(default):
    br = get(default, '/style.css', 'gzip, br')
    gz = get(default, '/style.css', 'gzip, br;q=0.5')
    plain = get(default, '/style.css')
    assert br.header('content-encoding') == 'br'
    assert brotli.decompress(br.body) == CSS.encode()
    assert gz.header('content-encoding') == 'gzip'
    assert plain.header('content-encoding') is None and plain.body == CSS.encode()
    assert plain.header('vary') == 'Accept-Encoding'
    etags = {br.header('etag'), gz.header('etag'), plain.header('etag')}
    assert len(etags) == 3 and None not in etags


def test_missing_sibling_falls_back(default):
    # only a .gz exists: a client asking for br first still gets gzip
    response = get(default, '/only-gz.js', 'br, gzip;q=0.5')
    assert response.header('content-encoding') == 'gzip'
    assert get(default, '/only-gz.js', 'br').header('content-encoding') is None


def test_stale_and_linked_siblings_are_ignored(default):
    for path in ('/stale.css', '/linked.css'):
        response = get(default, path, 'gzip')
        assert response.header('content-encoding') is None, path
        assert response.body == CSS.encode(), path


def test_sibling_of_an_image_is_ignored(default):
    response = get(default, '/logo.png', 'gzip')
    assert response.header('content-encoding') is None
    assert response.header('vary') is None
    assert response.body == PNG_LIKE


def test_sibling_is_never_a_url_of_its_own(default):
    for path in ('/style.css.gz', '/style.css.br', '/logo.png.gz'):
        response = get(default, path, 'gzip')
        assert response.status == 403, path
        assert b'Disallowed file extension' in response.body
        assert response.header('content-encoding') is None


def test_range_request_gets_identity_bytes(default):
    response = get(default, '/style.css', 'gzip', Range='bytes=0-9')
    assert response.status == 206
    assert response.header('content-encoding') is None
    assert response.body == CSS.encode()[:10]


def test_sibling_head_and_304(default):
    full = get(default, '/style.css', 'gzip')
    head = get(default, '/style.css', 'gzip', method='HEAD')
    assert head.body == b''
    for name in ('content-encoding', 'content-length', 'etag', 'vary', 'last-modified'):
        assert head.header(name) == full.header(name), name

    etag = full.header('etag')
    again = get(default, '/style.css', 'gzip', If_None_Match=etag)
    assert again.status == 304 and again.body == b''
    assert again.header('etag') == etag
    assert again.header('content-encoding') == 'gzip'
    # the identity variant's validator does not match the gzip one
    other = get(default, '/style.css', If_None_Match=etag)
    assert other.status == 200 and other.body == CSS.encode()
