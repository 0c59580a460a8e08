"""Unit tests of the request body decoders: chunked and multipart/form-data.

The end-to-end behaviour is in test_request_response.py; here every split of
a body into network reads is tried, since both decoders must find their
delimiters across reads.
"""
from __future__ import annotations

import asyncio
import os

import pytest
from tremolo.exceptions import BadRequest

from httpout.requests import decode_chunked, multipart_pieces

BOUNDARY = b'----httpout-test'
FILES = [os.urandom(150000) + b'\r\n--' + BOUNDARY[:-1] + b'\r', b'', b'\r\n', 'héllo'.encode()]


def multipart_body() -> bytes:
    body = b'a preamble to ignore\r\n'

    for i, data in enumerate(FILES):
        body += (b'--%s\r\nContent-Disposition: form-data; name="f%d"; '
                 b'filename="file%d.bin"\r\nContent-Type: application/octet-stream'
                 b'\r\n\r\n%s\r\n' % (BOUNDARY, i, i, data))

    return body + (b'--%s\r\nContent-Disposition: form-data; name="field"\r\n\r\n'
                   b'caf\xc3\xa9\r\n--%s--\r\n' % (BOUNDARY, BOUNDARY))


async def reads(body: bytes, size: int):
    for i in range(0, len(body), size):
        yield body[i:i + size]


def collect(agen) -> list:
    async def run():
        return [item async for item in agen]

    return asyncio.run(run())


@pytest.mark.parametrize('size', [1, 3, 64, 4096, 65536, 10 ** 7])
def test_multipart_pieces_survive_any_split(size: int) -> None:
    parts: dict = {}
    last_eof: dict = {}
    ct = b'multipart/form-data; boundary=' + BOUNDARY

    for part, piece, eof in collect(multipart_pieces(ct, reads(multipart_body(), size))):
        parts[part['name']] = parts.get(part['name'], b'') + piece
        last_eof[part['name']] = eof
        assert part['filename'] == (None if part['name'] == 'field' else
                                    'file%s.bin' % part['name'][1:])

    assert [parts['f%d' % i] for i in range(len(FILES))] == FILES
    assert parts['field'] == 'café'.encode()
    assert all(last_eof.values())


def test_multipart_large_file_comes_in_pieces() -> None:
    ct = b'multipart/form-data; boundary=' + BOUNDARY
    pieces = [(p['name'], eof) for p, _, eof in
              collect(multipart_pieces(ct, reads(multipart_body(), 8192)))
              if p['name'] == 'f0']
    assert len(pieces) > 1 and [eof for _, eof in pieces][-1] is True
    assert not any(eof for _, eof in pieces[:-1])


@pytest.mark.parametrize('content_type, body', [
    (b'multipart/form-data', b'--x\r\n\r\n--x--'),  # no boundary
    (b'multipart/form-data; boundary=x', b'--x\r\nContent-Disposition: form-data; '
                                          b'name="a"\r\n\r\nno end'),  # truncated
    (b'multipart/form-data; boundary=x', b'no delimiter at all'),
    (b'multipart/form-data; boundary=x', b'--x\r\n' + b'H' * 20000),  # endless head
])
def test_malformed_multipart_is_a_bad_request(content_type: bytes, body: bytes) -> None:
    with pytest.raises(BadRequest):
        collect(multipart_pieces(content_type, reads(body, 1000)))


def chunked(data: bytes, size: int) -> bytes:
    body = b''.join(b'%X;ext=1\r\n%s\r\n' % (len(data[i:i + size]), data[i:i + size])
                    for i in range(0, len(data), size))
    return body + b'0\r\nTrailer: x\r\n\r\n'


@pytest.mark.parametrize('read_size', [1, 5, 8000, 10 ** 6])
def test_decode_chunked_survives_any_split(read_size: int) -> None:
    data = os.urandom(30000)
    # three 8000-byte chunks in one read stalled tremolo's own decoder
    assert b''.join(collect(decode_chunked(reads(chunked(data, 8000), read_size)))) == data


@pytest.mark.parametrize('body', [
    b'zz\r\nabc\r\n0\r\n\r\n',           # not hex
    b'-5\r\nabc\r\n0\r\n\r\n',           # negative
    b'1' * 20 + b'\r\n',                 # overflow
    b'3\r\nabcXY0\r\n\r\n',              # bad terminator
    b'5\r\nabc',                         # truncated
    b'3' * 5000,                         # endless size line
])
def test_malformed_chunked_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        collect(decode_chunked(reads(body, 100)))
