"""Content coding: which coding a response gets, and the encoders that make it.

Rules owned here:
- Codings: `gzip` (the standard library's zlib) always; `br` when the
  `brotli` package is installed and `zstd` when `zstandard` is
  (`pip install httpout[brotli,zstd]`). `CODINGS` lists the installed
  ones in the server's order of preference.
- Negotiation (`negotiate`, RFC 9110 section 12.5.3): the client's
  `Accept-Encoding` items and their q-values pick the coding; `q=0` refuses
  one, `*` stands for every coding the header does not name, `x-gzip` is
  `gzip`. Among equal q-values the server's order wins. No header, or no
  acceptable coding, is identity: even with `identity;q=0` the response goes
  out uncompressed rather than as a 406, as browsers and other servers do.
- What may be compressed (`compressible`): textual media types only (a
  table, `_COMPRESSIBLE`, plus `text/*`, `*+json` and `*+xml`). Images,
  audio, video, archives and WOFF fonts are already compressed.
- Which responses of a page (`PageCoding`): none with status 1xx, 204, 206,
  304, a `Content-Range` or a `Content-Encoding` already set, none for a
  WebSocket upgrade request, and none whose whole body is known and shorter
  than MIN_SIZE. A streamed body's length is not known when its head goes
  out, so it is compressed whatever its size. Every response that could
  have been compressed carries `Vary: Accept-Encoding`, so caches keep the
  variants apart, whether this client got one or not.
- Streaming: `Encoder.compress()` ends with a sync flush, so every piece
  sent can be decoded at once by the client: a page that prints, then
  sleeps, shows its line before the sleep ends, compressed or not.
"""
from __future__ import annotations

import zlib
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = ('CODINGS', 'ENCODERS', 'MIN_SIZE', 'Encoder', 'PageCoding',
           'acceptable', 'add_vary', 'compressible', 'negotiate', 'weak_etag')

# Whole bodies shorter than this are sent as they are: under one TCP segment
# (about 1,400 bytes) fewer bytes are not fewer packets, and a coding adds
# its own framing (18 bytes for gzip) to a body that shrinks little.
MIN_SIZE = 1024

# Levels for compressing as the bytes are produced: on a 30 KB HTML page
# (bench/docroot/table.py) each takes about 1 ms or less, and Brotli 5 beats
# gzip 6 by 10% where Brotli 4 is 17% worse. Precompressed static files are
# made offline at the best levels instead.
GZIP_LEVEL = 6
BROTLI_QUALITY = 5
ZSTD_LEVEL = 3

_COMPRESSIBLE = frozenset((
    'application/javascript', 'application/json', 'application/xml',
    'application/manifest+json', 'application/wasm', 'application/x-ndjson',
    'application/vnd.ms-fontobject', 'font/ttf', 'font/otf',
    'image/svg+xml', 'image/bmp', 'image/vnd.microsoft.icon',
    'image/x-icon',
))


Data = Union[bytes, bytearray]


class Encoder:
    """One response body in one coding."""

    def __init__(self, compress: Callable[[Data], bytes],
                 flush: Callable[[], bytes], finish: Callable[[], bytes]) -> None:
        self._compress = compress
        self._flush = flush
        self._finish = finish

    def compress(self, data: Data) -> bytes:
        """Encode `data` and flush, so that all of it can be decoded now."""
        return self._compress(data) + self._flush()

    def finish(self, data: Data = b'') -> bytes:
        """Encode the last `data` and end the coded stream."""
        return self._compress(data) + self._finish()


def _gzip() -> Encoder:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return Encoder(compressor.compress, lambda: compressor.flush(zlib.Z_SYNC_FLUSH),
                   compressor.flush)


def _installed() -> Dict[str, Callable[[], Encoder]]:
    encoders: Dict[str, Callable[[], Encoder]] = {}

    try:
        import brotli  # type: ignore[import-untyped]  # no type hints of its own
    except ImportError:
        pass
    else:
        def _brotli() -> Encoder:
            compressor = brotli.Compressor(quality=BROTLI_QUALITY)
            return Encoder(compressor.process, compressor.flush, compressor.finish)

        encoders['br'] = _brotli

    try:
        import zstandard
    except ImportError:
        pass
    else:
        def _zstd() -> Encoder:
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
            return Encoder(
                compressor.compress,
                lambda: compressor.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK),
                lambda: compressor.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))

        encoders['zstd'] = _zstd

    encoders['gzip'] = _gzip
    return encoders


# best first: Brotli makes the smallest bodies at gzip's speed, zstd costs
# a fifth of gzip's time for bodies a little larger
ENCODERS = _installed()
CODINGS: Tuple[str, ...] = tuple(ENCODERS)

_ALIASES = {'x-gzip': 'gzip'}


def _accepted(accept_encoding: Iterable[bytes]) -> Dict[str, float]:
    """The q-value of each coding named by Accept-Encoding header lines; an
    item with an unreadable q-value is left out, as if not sent."""
    qualities: Dict[str, float] = {}

    for line in accept_encoding:
        for item in line.decode('latin-1').split(','):
            name, _, params = item.partition(';')
            name = name.strip().lower()
            quality = 1.0

            for param in params.split(';'):
                key, _, value = param.partition('=')

                if key.strip().lower() == 'q':
                    try:
                        quality = float(value)
                    except ValueError:
                        quality = -1.0

            if name and 0.0 <= quality <= 1.0:
                name = _ALIASES.get(name, name)
                qualities[name] = max(quality, qualities.get(name, 0.0))

    return qualities


def acceptable(accept_encoding: Optional[List[bytes]],
               codings: Sequence[str] = CODINGS) -> List[str]:
    """The codings of `codings` (the server's order, best first) that the
    client accepts, the one it prefers first."""
    if not accept_encoding or not codings:
        return []

    qualities = _accepted(accept_encoding)
    anything = qualities.get('*', 0.0)
    ranked = [(qualities.get(coding, anything), -rank, coding)
              for rank, coding in enumerate(codings)]
    return [coding for quality, _, coding in sorted(ranked, reverse=True) if quality > 0]


def negotiate(accept_encoding: Optional[List[bytes]],
              codings: Sequence[str] = CODINGS) -> Optional[str]:
    """The coding the client prefers, or None for identity."""
    codings = acceptable(accept_encoding, codings)
    return codings[0] if codings else None


def compressible(content_type: bytes) -> bool:
    """Does a body of this media type shrink when compressed?"""
    kind = content_type.split(b';', 1)[0].strip().lower().decode('latin-1')
    return (kind.startswith('text/') or kind in _COMPRESSIBLE or
            kind.endswith(('+json', '+xml')))


def weak_etag(etag: bytes) -> bytes:
    """A strong ETag names one exact byte sequence; a coded body is another
    one, so the validator it keeps is weak (RFC 9110 section 8.8.1)."""
    return etag if etag.startswith(b'W/') else b'W/' + etag


def add_vary(headers: dict, set_header: Callable[[bytes, bytes], None]) -> None:
    """Add Accept-Encoding to the response's Vary, once."""
    values = headers.get(b'vary', [])
    names = {name.strip().lower() for value in values for name in value.split(b',')}

    if b'accept-encoding' in names or b'*' in names:
        return

    set_header(b'Vary', b', '.join(values + [b'Accept-Encoding']))


class PageCoding:
    """Compression of pages (scripts' responses) in one worker: the codings
    on offer, best first. See the module docstring for the rules."""

    def __init__(self, codings: Sequence[str] = CODINGS) -> None:
        self.codings = tuple(codings)

    def choose(self, request, response, content_type: bytes,
               content_length: Optional[int]) -> Optional[Encoder]:
        """Decide for the head about to be sent: add Vary to tremolo's
        `response` where the body could be coded, and return the encoder
        for this client, or None for identity."""
        status = response.get_status()[0]
        headers = response.headers

        if (status < 200 or status in (204, 206, 304) or b'content-range' in headers or
                b'content-encoding' in headers or not compressible(content_type) or
                b'upgrade' in request.headers):
            return None

        add_vary(headers, response.set_header)

        if content_length is not None and content_length < MIN_SIZE:
            return None

        coding = negotiate(request.headers.get(b'accept-encoding'), self.codings)

        if coding is None:
            return None

        response.set_header(b'Content-Encoding', coding.encode())

        if b'etag' in headers:
            response.set_header(b'ETag', weak_etag(headers[b'etag'][0]))

        return ENCODERS[coding]()
