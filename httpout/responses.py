"""The response a script builds: status, headers and cookies, until they are sent.

Rules owned here:
- A script may set the status, headers and cookies until the first body bytes
  go out (the *head* is sent with them). After that every setter raises
  `HeadersAlreadySent`, the same idea as PHP's "headers already sent".
- Header names must be HTTP tokens and values must not contain CR, LF or NUL:
  anything else raises `ValueError` at the call, so a script can never split a
  response (no header injection).
- The setters are called from the script's thread and from coroutines on the
  event loop alike; the writer's lock orders them against the moment the
  head is sealed (`HTTPWriter.seal`).

The state lives in tremolo's own response object, so that tremolo response
middleware (added in `__globals__.py`) sees and can change it just before the
head is sent.
"""
from __future__ import annotations

import re
import time
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import quote
from typing import TYPE_CHECKING, Dict, List, Optional, Union

if TYPE_CHECKING:
    from .output import HTTPWriter, OutputStream

__all__ = ('HeadersAlreadySent', 'Response')

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(rb'[\r\n\x00]')


class HeadersAlreadySent(RuntimeError):
    """Raised by a header setter once the response has started."""


def _as_bytes(value: Union[str, bytes]) -> bytes:
    return value.encode('latin-1') if isinstance(value, str) else bytes(value)


def _checked_name(name: Union[str, bytes]) -> bytes:
    data = _as_bytes(name)

    if not _TOKEN.fullmatch(data):
        raise ValueError('invalid header name %r' % name)

    return data


def _checked_value(value: Union[str, bytes]) -> bytes:
    data = _as_bytes(value)

    if _FORBIDDEN_IN_VALUE.search(data):
        raise ValueError('header value contains CR, LF or NUL: %r' % value)

    return data


class Response:
    """The `response` object of a script (also `from httpout import response`)."""

    def __init__(self, response, writer: HTTPWriter, stream: OutputStream) -> None:
        self._response = response  # tremolo's HTTPResponse
        self._writer = writer  # owns the lock and knows when the head is sealed
        self._lock = writer.lock
        self._stream = stream

    # --- state, while the head has not been sent ---------------------------

    def _check_open(self) -> None:
        if self._writer.sealed:
            raise HeadersAlreadySent(
                'headers already sent: the response started with the first '
                'output, set the status, headers and cookies before it'
            )

    def set_status(self, code: int, message: Optional[str] = None) -> None:
        """Set the status line, e.g. `set_status(404)` or `set_status(299, 'Custom')`."""
        if not isinstance(code, int) or not 100 <= code <= 999:
            raise ValueError('invalid status code %r' % (code,))

        if message is None:
            try:
                message = HTTPStatus(code).phrase
            except ValueError:
                message = ''

        with self._lock:
            self._check_open()
            self._response.set_status(code, _checked_value(message))

    @property
    def status(self) -> int:
        return self._response.get_status()[0]

    def set_header(self, name: Union[str, bytes], value: Union[str, bytes]) -> None:
        """Set a header, replacing any earlier value of the same name."""
        name, value = _checked_name(name), _checked_value(value)

        with self._lock:
            self._check_open()

            if name.lower() == b'content-type':
                self._response.set_content_type(value)
            else:
                self._response.set_header(name, value)

    def append_header(self, name: Union[str, bytes], value: Union[str, bytes]) -> None:
        """Add a header line, keeping earlier ones of the same name."""
        name, value = _checked_name(name), _checked_value(value)

        with self._lock:
            self._check_open()
            self._response.append_header(name, value)

    def set_content_type(self, content_type: Union[str, bytes]) -> None:
        self.set_header(b'Content-Type', content_type)

    def set_cookie(self, name: str, value: str = '', expires: int = 0,
                   path: str = '/', domain: Optional[str] = None,
                   secure: bool = False, httponly: bool = False,
                   samesite: Optional[str] = None) -> None:
        """Add a Set-Cookie header (RFC 6265). The value is percent-encoded
        UTF-8, so any text is safe. `expires` is in seconds from now: 0 makes
        a session cookie, a negative number deletes the cookie."""
        _checked_name(name)
        attributes = ['%s=%s' % (name, quote(value, safe=''))]

        if expires:
            seconds = max(expires, 0)
            attributes.append('Expires=' + formatdate(time.time() + seconds, usegmt=True))
            attributes.append('Max-Age=%d' % seconds)

        for attribute, setting in (('Path', path), ('Domain', domain),
                                   ('SameSite', samesite)):
            if setting:
                attributes.append('%s=%s' % (attribute, quote(setting, safe='/.:')))

        for attribute, flag in (('Secure', secure), ('HttpOnly', httponly)):
            if flag:
                attributes.append(attribute)

        self.append_header(b'Set-Cookie', '; '.join(attributes))

    @property
    def headers(self) -> Dict[str, List[str]]:
        """A copy of the headers set so far, by lower-case name."""
        with self._lock:
            self._check_open()
            headers = {k.decode('latin-1'): [v.decode('latin-1') for v in values]
                       for k, values in self._response.headers.items()}
            headers['content-type'] = [self._response.content_type.decode('latin-1')]
            return headers

    def headers_sent(self) -> bool:
        return self._writer.sealed

    async def write(self, data: Union[bytes, str]) -> None:
        """Send body bytes (a coroutine; `print` is the usual way)."""
        if isinstance(data, str):
            data = data.encode('utf-8')

        await self._stream.awrite(data)
