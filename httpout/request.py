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
  them through `wait()`, e.g. `wait(request.form())`.
"""
from __future__ import annotations

import ipaddress
from typing import Any, AsyncIterator, Callable, Dict, List, Sequence, Union

from .router import Script

__all__ = ('Request', 'TrustedProxies', 'build_environ')

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


def _latin1(value: bytes) -> str:
    return value.decode('latin-1')


def _peer_port(request) -> str:
    client = request.client
    return str(client[1]) if isinstance(client, tuple) and len(client) > 1 else ''


def _server_port(request) -> str:
    address = request.server.globals.info['server']
    return '' if address[1] is None else str(address[1])


# __server__ key -> how to compute it from (request, script, context)
_ENVIRON: Dict[str, Callable[..., str]] = {
    'REQUEST_METHOD': lambda r, s, c: _latin1(r.method),
    'SCRIPT_NAME': lambda r, s, c: s.script_name,
    'SCRIPT_FILENAME': lambda r, s, c: s.path,
    'PATH_INFO': lambda r, s, c: s.path_info,
    'QUERY_STRING': lambda r, s, c: _latin1(r.query_string),
    'REQUEST_URI': lambda r, s, c: _latin1(r.url),
    'REQUEST_SCHEME': lambda r, s, c: c['scheme'],
    'HTTPS': lambda r, s, c: 'on' if c['scheme'] == 'https' else '',
    'REMOTE_ADDR': lambda r, s, c: c['remote_addr'],
    'REMOTE_PORT': lambda r, s, c: _peer_port(r),
    'HTTP_HOST': lambda r, s, c: _latin1(r.host or b''),
    'SERVER_NAME': lambda r, s, c: _latin1((r.host or b'').rsplit(b':', 1)[0]),
    'SERVER_PORT': lambda r, s, c: _server_port(r),
    'SERVER_PROTOCOL': lambda r, s, c: 'HTTP/' + _latin1(r.version),
    'SERVER_SOFTWARE': lambda r, s, c: c['software'],
    'DOCUMENT_ROOT': lambda r, s, c: c['document_root'],
    'CONTENT_TYPE': lambda r, s, c: _latin1(b', '.join(r.headers.get(b'content-type', []))),
    'CONTENT_LENGTH': lambda r, s, c: _latin1(b', '.join(r.headers.get(b'content-length', []))),
}


def build_environ(request, script: Script, *, document_root: str,
                  trusted_proxies: TrustedProxies, software: str) -> Dict[str, str]:
    """The `__server__` dict of one request (tremolo's HTTPRequest in)."""
    headers = request.headers
    context = {
        'document_root': document_root,
        'software': software,
        'remote_addr': trusted_proxies.remote_addr(request),
        'scheme': _scheme(request, trusted_proxies.is_trusted(request)),
    }
    environ = {key: compute(request, script, context)
               for key, compute in _ENVIRON.items()}

    for name, values in headers.items():
        if b'_' in name or name in (b'content-type', b'content-length'):
            continue

        separator = b'; ' if name == b'cookie' else b', '
        key = 'HTTP_' + _latin1(name).upper().replace('-', '_')
        environ[key] = _latin1(separator.join(values))

    return environ


def _scheme(request, trusted: bool) -> str:
    if trusted and b'x-forwarded-proto' in request.headers:
        return _latin1(request.headers[b'x-forwarded-proto'][0].strip().lower())

    return 'https' if request.is_secure else 'http'


class Request:
    """The `request` object of a script (also `from httpout import request`).

    Attributes not listed here are looked up on tremolo's request object, as
    in httpout 0.1.x.
    """

    def __init__(self, request, environ: Dict[str, str]) -> None:
        self._request = request  # tremolo's HTTPRequest
        self.environ = environ

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
        return self._request.cookies

    @property
    def query(self) -> Dict[str, List[str]]:
        """The parsed query string, e.g. {'q': ['word']} for `?q=word`."""
        return self._request.query

    async def body(self) -> bytes:
        """The whole body (at most --client-max-body-size bytes)."""
        return bytes(await self._request.body())

    async def form(self) -> Dict[str, List[str]]:
        """Fields of a urlencoded or multipart form; uploaded files are in
        `files()` instead, or `request.params['files']` after `form()`."""
        return await self._request.form()

    def files(self) -> AsyncIterator[dict]:
        """Multipart parts as they arrive: dicts with 'name', 'filename',
        'type' and 'data' (the part's bytes, or the first piece of a large
        file: `part['eof']` tells whether more follows)."""
        return self._request.files()

    def stream(self) -> AsyncIterator[bytes]:
        """The body as it arrives, piece by piece."""
        return self._request.stream()
