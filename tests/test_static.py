"""End-to-end tests of static files over HTTP (SPEC section 2, rule 8):
media types, validators, conditional requests, HEAD, ranges and methods.
"""
from __future__ import annotations

import os
import time
from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest

from e2e_util import raw_get, start_server

PNG = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06'
       b'\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00'
       b'\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82')
WASM = b'\x00asm\x01\x00\x00\x00'
HTML = '<!DOCTYPE html><title>page</title><p>Hello static world</p>\n'
CSS = 'body { color: #123456; }\n'
BIG = bytes(range(256)) * 4096  # 1 MiB

FILES = {
    'page.html': HTML,
    'style.css': CSS,
    'logo.png': PNG,
    'mod.wasm': WASM,
    'app.js': 'console.log("hi");\n',
    'data.json': '{"a": 1}\n',
    'notes.txt': 'plain notes\n',
    'big.bin.txt': BIG,
    'img.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('static'), FILES)
    yield srv
    srv.stop()


@pytest.mark.parametrize('path,media_type,content', [
    ('/page.html', 'text/html; charset=utf-8', HTML.encode()),
    ('/style.css', 'text/css; charset=utf-8', CSS.encode()),
    ('/logo.png', 'image/png', PNG),
    ('/mod.wasm', 'application/wasm', WASM),
])
def test_media_types_and_bodies(server, path, media_type, content):
    response = server.get(path)
    assert response.status_code == 200
    assert response.headers['content-type'].replace(' ', '').lower() == \
        media_type.replace(' ', '').lower()
    assert response.content == content
    assert int(response.headers['content-length']) == len(content)


def test_text_types_carry_a_charset(server):
    for path in ('/app.js', '/data.json', '/notes.txt'):
        content_type = server.get(path).headers['content-type']
        assert 'charset=utf-8' in content_type.lower().replace(' ', ''), (path, content_type)
    assert server.get('/app.js').headers['content-type'].startswith('text/javascript')
    assert server.get('/data.json').headers['content-type'].startswith('application/json')


def test_big_file_whole(server):
    response = server.get('/big.bin.txt')
    assert response.status_code == 200
    assert response.content == BIG


def test_validators_present(server):
    response = server.get('/page.html')
    etag = response.headers.get('etag')
    assert etag and etag.startswith('"') and etag.endswith('"')
    last_modified = response.headers.get('last-modified')
    assert last_modified
    mtime = os.stat(server.root / 'page.html').st_mtime
    assert abs(parsedate_to_datetime(last_modified).timestamp() - int(mtime)) < 1.5
    # the same file, the same validators
    again = server.get('/page.html')
    assert again.headers['etag'] == etag
    assert again.headers['last-modified'] == last_modified
    # another file, another tag
    assert server.get('/style.css').headers['etag'] != etag


def test_if_none_match_gives_304_without_body(server):
    etag = server.get('/page.html').headers['etag']
    for value in (etag, 'W/' + etag, '"nope", ' + etag, '*'):
        response = raw_get(server.port, '/page.html', headers={'If-None-Match': value})
        assert response.status == 304, value
        assert response.rest == b'', value
        assert response.header('etag') == etag
    mismatch = raw_get(server.port, '/page.html', headers={'If-None-Match': '"other"'})
    assert mismatch.status == 200
    assert mismatch.body == HTML.encode()


def test_if_modified_since_gives_304(server):
    last_modified = server.get('/style.css').headers['last-modified']
    response = raw_get(server.port, '/style.css', headers={'If-Modified-Since': last_modified})
    assert response.status == 304
    assert response.rest == b''
    later = formatdate(time.time() + 3600, usegmt=True)
    assert raw_get(server.port, '/style.css',
                   headers={'If-Modified-Since': later}).status == 304
    earlier = formatdate(time.time() - 10 * 86400, usegmt=True)
    response = raw_get(server.port, '/style.css', headers={'If-Modified-Since': earlier})
    assert response.status == 200
    assert response.body == CSS.encode()


def test_if_none_match_wins_over_if_modified_since(server):
    last_modified = server.get('/style.css').headers['last-modified']
    response = raw_get(server.port, '/style.css', headers={
        'If-None-Match': '"other"', 'If-Modified-Since': last_modified})
    assert response.status == 200
    assert response.body == CSS.encode()


def test_304_keeps_the_connection_usable(server):
    etag = server.get('/page.html').headers['etag']
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get('/page.html', headers={'If-None-Match': etag}).status_code == 304
        assert client.get('/style.css').content == CSS.encode()


def test_head_has_length_and_no_body(server):
    for path, size in (('/page.html', len(HTML.encode())), ('/logo.png', len(PNG)),
                       ('/big.bin.txt', len(BIG))):
        response = raw_get(server.port, path, method='HEAD')
        assert response.status == 200
        assert int(response.header('content-length')) == size
        assert response.rest == b'', path
        assert response.header('etag')
        assert response.header('last-modified')
    assert raw_get(server.port, '/page.html', method='HEAD').header(
        'content-type').replace(' ', '') == 'text/html;charset=utf-8'
    # a kept-alive connection is not confused by HEAD
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.head('/big.bin.txt').content == b''
        assert client.get('/style.css').content == CSS.encode()


def test_range_first_bytes(server):
    response = raw_get(server.port, '/page.html', headers={'Range': 'bytes=0-4'})
    assert response.status == 206
    assert response.body == HTML.encode()[:5]
    assert response.header('content-range') == 'bytes 0-4/%d' % len(HTML.encode())
    assert int(response.header('content-length')) == 5


def test_range_middle_and_suffix(server):
    response = server.get('/big.bin.txt', headers={'Range': 'bytes=1000-1999'})
    assert response.status_code == 206
    assert response.content == BIG[1000:2000]
    response = server.get('/big.bin.txt', headers={'Range': 'bytes=-10'})
    assert response.status_code == 206
    assert response.content == BIG[-10:]


def test_unsatisfiable_range(server):
    size = len(HTML.encode())
    response = raw_get(server.port, '/page.html',
                       headers={'Range': 'bytes=%d-%d' % (size + 100, size + 200)})
    assert response.status == 416
    assert HTML.encode() not in response.body


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_other_methods_are_405_with_allow(server, method):
    response = raw_get(server.port, '/page.html', method=method, body=b'x=1')
    assert response.status == 405
    allow = response.header('allow')
    assert allow is not None
    methods = {m.strip() for m in allow.split(',')}
    assert {'GET', 'HEAD'} <= methods
    assert HTML.encode() not in response.body


def test_edited_file_gets_new_validators(server):
    path = server.root / 'notes.txt'
    before = server.get('/notes.txt')
    path.write_text('new notes, longer than before\n')
    os.utime(path, (time.time() + 5, time.time() + 5))
    after = server.get('/notes.txt')
    assert after.text == 'new notes, longer than before\n'
    assert after.headers['etag'] != before.headers['etag']
    stale = raw_get(server.port, '/notes.txt',
                    headers={'If-None-Match': before.headers['etag']})
    assert stale.status == 200
