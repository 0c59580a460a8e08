"""The request a script sees: `request` and `__server__` (PHP's `$_SERVER`).

Rules owned here:
- `__server__` is built once per request, before the script runs, from the
  table `_ENVIRON` plus one `HTTP_<NAME>` entry per request header (CGI
  style). Header names containing `_` are left out of it, because
  `X_Forwarded_For` and `X-Forwarded-For` would otherwise map to the same
  key and a client could overwrite a value a proxy set.
- `REMOTE_ADDR` is the peer address of the connection. `X-Forwarded-For` is
  believed only when that peer is a trusted proxy (`--trusted-proxy`); then
  the address is the right-most entry that is not itself a trusted proxy.
- The body methods are coroutines on the event loop; a script's thread calls
  them through `wait()`, e.g. `wait(request.form())`. Multipart bodies are
  parsed as they stream in (part headers by the standard library's `email`
  parser), so `files()` hands out a large upload piece by piece. A
  malformed or oversized form is a 400, not a script error.
"""
from __future__ import annotations

import email.policy
import ipaddress
import re
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import parse_qs

from tremolo.exceptions import BadRequest, RequestTimeout

from .router import Script

__all__ = ('Request', 'TrustedProxies', 'build_environ', 'request_scheme')

# More fields than this in one form is a 400, as with tremolo's own parser.
MAX_FORM_FIELDS = 1000
MULTIPART_HEADER_LIMIT = 16384
MULTIPART_PIECE = 65536

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class TrustedProxies:
    """The addresses (or networks, e.g. 10.0.0.0/8) whose X-Forwarded-* we believe."""

    def __init__(self, addresses: Sequence[str] = ()) -> None:
        self._networks: List[Network] = [
            ipaddress.ip_network(address.strip(), strict=False)
            for address in addresses if address.strip()
        ]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False

        return any(ip in network for network in self._networks)

    def is_trusted(self, request) -> bool:
        """Is the connection's peer a trusted proxy?"""
        return bool(self._networks) and _peer(request) in self

    def remote_addr(self, request) -> str:
        """The client's address: the peer's, or the one a trusted proxy names
        (the right-most X-Forwarded-For hop that is not a trusted proxy)."""
        peer = _peer(request)
        forwarded_for = request.headers.get(b'x-forwarded-for')

        if not forwarded_for or not self.is_trusted(request):
            return peer

        hops = [hop.strip().decode('latin-1')
                for value in forwarded_for for hop in value.split(b',')]

        for hop in reversed(hops):
            if hop not in self:
                return hop

        return hops[0] or peer


def _peer(request) -> str:
    client = request.client
    return client[0] if isinstance(client, tuple) else ''


def build_environ(request, script: Script, *, document_root: str,
                  trusted_proxies: TrustedProxies, software: str) -> Dict[str, str]:
    """The `__server__` dict of one request (tremolo's HTTPRequest in).

    The first part is the table of fixed keys, CGI and PHP names; then one
    HTTP_<NAME> entry per request header."""
    headers = request.headers
    client = request.client
    host = (request.host or b'').decode('latin-1')
    scheme = request_scheme(request, trusted_proxies)
    server_port = request.server.globals.info['server'][1]
    environ = {
        'REQUEST_METHOD': request.method.decode('latin-1'),
        'SCRIPT_NAME': script.script_name,
        'SCRIPT_FILENAME': script.path,
        'PATH_INFO': script.path_info,
        'QUERY_STRING': request.query_string.decode('latin-1'),
        'REQUEST_URI': request.url.decode('latin-1'),
        'REQUEST_SCHEME': scheme,
        'HTTPS': 'on' if scheme == 'https' else '',
        'REMOTE_ADDR': trusted_proxies.remote_addr(request),
        'REMOTE_PORT': str(client[1]) if isinstance(client, tuple) else '',
        'HTTP_HOST': host,
        'SERVER_NAME': host.rsplit(':', 1)[0] if not host.endswith(']') else host,
        'SERVER_PORT': '' if server_port is None else str(server_port),
        'SERVER_PROTOCOL': 'HTTP/' + request.version.decode('latin-1'),
        'SERVER_SOFTWARE': software,
        'DOCUMENT_ROOT': document_root,
        'CONTENT_TYPE': b', '.join(headers.get(b'content-type', ())).decode('latin-1'),
        'CONTENT_LENGTH': b', '.join(headers.get(b'content-length', ())).decode('latin-1'),
    }

    for name, values in headers.items():
        key = _CGI_KEYS.get(name)

        if key is None:
            key = _cgi_key(name)

        if key:
            separator = b'; ' if name == b'cookie' else b', '
            environ[key] = separator.join(values).decode('latin-1')

    return environ


# The HTTP_<NAME> key of each header name seen, '' for the names left out;
# bounded, since clients choose the names.
_CGI_KEYS: Dict[bytes, str] = {}
_CGI_KEYS_MAX = 1024


def _cgi_key(name: bytes) -> str:
    if b'_' in name or name in (b'content-type', b'content-length', b'host'):
        key = ''
    else:
        key = 'HTTP_' + name.decode('latin-1').upper().replace('-', '_')

    if len(_CGI_KEYS) < _CGI_KEYS_MAX:
        _CGI_KEYS[name] = key

    return key


def request_scheme(request, trusted_proxies: TrustedProxies) -> str:
    """'https' or 'http'; X-Forwarded-Proto counts from a trusted proxy only."""
    if b'x-forwarded-proto' in request.headers and trusted_proxies.is_trusted(request):
        return request.headers[b'x-forwarded-proto'][0].strip().lower().decode('latin-1')

    return 'https' if request.is_secure else 'http'


class Request:
    """The `request` object of a script (also `from httpout import request`).

    Attributes not listed here are looked up on tremolo's request object, as
    in httpout 0.1.x.
    """

    def __init__(self, request, environ: Dict[str, str]) -> None:
        self._request = request  # tremolo's HTTPRequest
        self.environ = environ
        self._cookies: Optional[Dict[str, List[str]]] = None
        self._body: Optional[bytes] = None
        self._fields: Optional[Dict[str, List[str]]] = None  # once the form is read
        self._uploads: List[Dict[str, Any]] = []  # the files, if form() read them

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    @property
    def method(self) -> bytes:
        return self._request.method

    @property
    def path(self) -> bytes:
        return self._request.path

    @property
    def query_string(self) -> bytes:
        return self._request.query_string

    @property
    def version(self) -> bytes:
        return self._request.version

    @property
    def headers(self) -> Dict[bytes, List[bytes]]:
        """Request headers: lower-case name -> list of values (bytes)."""
        return self._request.headers

    @property
    def cookies(self) -> Dict[str, List[str]]:
        """Cookies by name; values are percent-decoded UTF-8 text."""
        if self._cookies is None:
            # tremolo decodes percent-escapes to bytes shown as latin-1;
            # set_cookie() encodes UTF-8, so read the bytes back as UTF-8
            self._cookies = {
                name: [value.encode('latin-1').decode('utf-8', 'replace')
                       for value in values]
                for name, values in self._request.cookies.items()
            }

        return self._cookies

    @property
    def query(self) -> Dict[str, List[str]]:
        """The parsed query string, e.g. {'q': ['word']} for `?q=word`."""
        return self._request.query

    async def body(self) -> bytes:
        """The whole body (at most --client-max-body-size bytes)."""
        if self._body is None:
            self._body = b''.join([piece async for piece in self.stream()])

        return self._body

    async def form(self) -> Dict[str, List[str]]:
        """The fields of a urlencoded or multipart/form-data body, by name.
        Uploaded files are not among them: see `files()`."""
        if self._fields is None:
            if self._kind() == b'application/x-www-form-urlencoded':
                self._fields = parse_urlencoded(await self.body())
            else:
                self._uploads = [upload async for upload in self.files()]

        assert self._fields is not None
        return self._fields

    async def files(self) -> AsyncIterator[Dict[str, Any]]:
        """The uploaded files of a multipart/form-data body, streamed: dicts
        with 'name' (the form field), 'filename', 'type', 'data' and 'eof'.
        A large file comes in several pieces, all but the last with 'eof'
        False. After `form()` has read the body, each file comes whole."""
        if self._fields is not None:
            for upload in self._uploads:
                yield upload
            return

        fields: Dict[str, List[str]] = {}
        self._fields = fields

        if self._kind() != b'multipart/form-data':
            return

        text: List[bytes] = []

        async for part, piece, eof in multipart_pieces(self._request.content_type,
                                                       self.stream()):
            if part['filename'] is None:  # a form field: gather its text
                text.append(piece)

                if eof:
                    fields.setdefault(part['name'], []).append(
                        b''.join(text).decode('utf-8', 'replace'))
                    text.clear()
            elif part['filename']:  # an empty file input sends filename=""
                yield dict(part, data=piece, eof=eof)

    def _kind(self) -> bytes:
        return self._request.content_type.split(b';', 1)[0].strip().lower()

    async def stream(self) -> AsyncIterator[bytes]:
        """The body as it arrives, piece by piece. A body that stalls past
        --request-timeout is a 408; one cut short by the client, a 400.
        Once the whole body has been read (`body()`, `sys.stdin`), it is
        that body again."""
        if self._body is not None:
            if self._body:
                yield self._body
            return

        request = self._request
        chunked = b'chunked' in request.transfer_encoding
        # tremolo 0.5.3's own chunked decoder stalls when several large chunks
        # arrive in one read, so the raw body is decoded here
        raw = request.stream(raw=True) if chunked else request.stream()
        pieces = decode_chunked(raw) if chunked else raw
        expected = request.content_length  # tremolo zeroes it once read
        received = 0

        try:
            async for piece in pieces:
                received += len(piece)
                yield piece
        except TimeoutError as exc:  # tremolo's recv timeout
            raise RequestTimeout('the request body stalled') from exc
        finally:
            if chunked:
                await raw.aclose()
                # what follows the last chunk is not known: end the connection
                request.http_keepalive = False

        if not chunked and received < expected:
            # tremolo ends the body quietly when the client goes away
            raise BadRequest('the request body was cut short')


def parse_urlencoded(body: bytes) -> Dict[str, List[str]]:
    try:
        return parse_qs(body.decode('utf-8', 'replace'), keep_blank_values=True,
                        max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:  # too many fields
        raise BadRequest(str(exc)) from None


async def multipart_pieces(content_type: bytes, body: AsyncIterator[bytes]
                           ) -> AsyncIterator[Tuple[Dict[str, Any], bytes, bool]]:
    """Stream a multipart/form-data body (RFC 7578): (part, piece, eof) for
    each piece of each part's data, where `part` has the part's 'name',
    'filename' (None for a plain field) and 'type'. A part's data comes in
    pieces of about MULTIPART_PIECE bytes; `eof` marks its last piece.
    A malformed body is a 400."""
    delimiter = b'\r\n--' + _boundary(content_type)
    chunks = body.__aiter__()
    # the first delimiter has no CRLF before it; pretend it has
    buffer = bytearray(b'\r\n')

    async def more() -> None:
        try:
            buffer.extend(await chunks.__anext__())
        except StopAsyncIteration:
            raise BadRequest('incomplete multipart/form-data body') from None

    while delimiter not in buffer:  # skip the preamble
        del buffer[:-len(delimiter)]
        await more()

    del buffer[:buffer.index(delimiter) + len(delimiter)]

    for _ in range(MAX_FORM_FIELDS + 1):
        while len(buffer) < 2:
            await more()

        if buffer.startswith(b'--'):  # the close delimiter
            async for _ in chunks:  # the epilogue: read, so the connection stays
                pass
            return

        while b'\r\n\r\n' not in buffer:
            if len(buffer) > MULTIPART_HEADER_LIMIT:
                raise BadRequest('multipart part header too large')
            await more()

        end = buffer.index(b'\r\n\r\n')
        head = bytes(buffer[:end]).lstrip(b' \t')  # padding after the boundary
        del buffer[:end + 4]
        part = _part_info(head[2:] if head.startswith(b'\r\n') else head)

        while True:
            found = buffer.find(delimiter)

            if found >= 0:
                yield part, bytes(buffer[:found]), True
                del buffer[:found + len(delimiter)]
                break

            if len(buffer) > MULTIPART_PIECE + len(delimiter):
                cut = len(buffer) - len(delimiter)  # a delimiter may start in the tail
                yield part, bytes(buffer[:cut]), False
                del buffer[:cut]

            await more()

    raise BadRequest('more than %d form fields' % MAX_FORM_FIELDS)


def _boundary(content_type: bytes) -> bytes:
    header = Message()
    header['Content-Type'] = content_type.decode('latin-1')
    boundary = header.get_param('boundary')

    if not isinstance(boundary, str) or not 0 < len(boundary) <= 70:
        raise BadRequest('multipart/form-data without a valid boundary')

    return boundary.encode('latin-1')


def _part_info(head: bytes) -> Dict[str, Any]:
    headers = BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head + b'\r\n\r\n')
    return {
        'name': str(headers.get_param('name', '', header='content-disposition')),
        'filename': headers.get_filename(),
        'type': headers.get_content_type(),
    }


_CHUNK_SIZE = re.compile(rb'[0-9A-Fa-f]{1,16}')


async def decode_chunked(raw: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The data of a `Transfer-Encoding: chunked` body (RFC 9112 section 7.1),
    read from the raw bytes `raw`; a malformed body is a 400."""
    buffer = bytearray()

    async def fill() -> None:
        try:
            buffer.extend(await raw.__anext__())
        except StopAsyncIteration:
            raise BadRequest('incomplete chunked body') from None

    async def line() -> bytes:
        while b'\r\n' not in buffer:
            if len(buffer) > 4096:
                raise BadRequest('chunk size line too long')
            await fill()

        end = buffer.index(b'\r\n')
        text = bytes(buffer[:end])
        del buffer[:end + 2]
        return text

    while True:
        size_text = (await line()).split(b';', 1)[0].strip()

        if not _CHUNK_SIZE.fullmatch(size_text):
            raise BadRequest('bad chunk size')

        size = int(size_text, 16)

        if size == 0:
            while await line():  # trailer fields, up to the empty line
                pass
            return

        while size > 0:
            if not buffer:
                await fill()

            piece = bytes(buffer[:size])
            del buffer[:len(piece)]
            size -= len(piece)
            yield piece

        if await line() != b'':
            raise BadRequest('bad chunk terminator')
