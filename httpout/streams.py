"""A script's standard streams: `sys.stdout`, `sys.stdin` and `sys.stderr` per request.

Rules owned here (SPEC section 3, "Standard streams"):
1. `install_switches()` replaces the three `sys` streams once per worker by
   a `StreamSwitch`, which hands every use on to the streams of the request
   that is current (`current.CURRENT`), or, outside any request, to the
   process's own stream. Nothing else is ever put into `sys`.
2. A script's stdout is its response: text is encoded as UTF-8, `.buffer`
   takes bytes, and both go into the same output stream as `print()`, so
   order and backpressure are the same. Nothing is buffered here; `flush()`
   sends what is pending without waiting for the first-flush delay.
3. Its stdin is the request body (CGI style): read whole at first use,
   through the same cached body as `request.body()`; at its end it reads
   as EOF. The server's own stdin is never read. A coroutine may not read
   it: that would block the event loop.
4. Its stderr goes to the server log: one record per line, with the
   request line. A last line without a newline is logged when the script
   ends (`ScriptStreams.close()`).
5. `contextlib.redirect_stdout()` / `redirect_stderr()` used in a request
   redirect that request's stream only (for its threads too), and `print()`
   follows: assigning `sys.stdout` would redirect every request and the
   server's own log.
The per-request streams are made at first use, so a page that never
touches them pays nothing for them.
"""
from __future__ import annotations

import codecs
import contextlib
import io
import logging
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, TextIO

from .current import CURRENT

__all__ = ('ScriptStreams', 'StreamSwitch', 'install_switches', 'restore_switches')

STREAM_NAMES = ('stdout', 'stdin', 'stderr')

# set while this thread hands a stderr line to the log: a log handler that
# writes to sys.stderr must then reach the process's own stderr, not loop back
_logging_stderr = threading.local()


class StreamSwitch:
    """Stands in `sys` for one standard stream (rule 1)."""

    def __init__(self, name: str, own: TextIO) -> None:
        self._name = name
        self._own = own

    def _target(self) -> Any:
        job = CURRENT.get()

        if job is None or getattr(_logging_stderr, 'active', False):
            return self._own

        return getattr(job.streams, self._name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._target(), attribute)

    def __iter__(self) -> Any:
        return iter(self._target())

    def __next__(self) -> str:
        return next(self._target())

    def __repr__(self) -> str:
        return '<httpout %s: %r>' % (self._name, self._target())


_SWITCHES: Dict[str, StreamSwitch] = {}


def install_switches() -> None:
    for name in STREAM_NAMES:
        own = getattr(sys, name)

        if not isinstance(own, StreamSwitch):
            _SWITCHES[name] = StreamSwitch(name, own)
            setattr(sys, name, _SWITCHES[name])

    _redirect_per_request()


def restore_switches() -> List[str]:
    """Put back the switches a script replaced (`sys.stdout = ...` changes
    every request's stream, and the server's own log); what the replacement
    holds is flushed first, as a program's exit would. Returns the names."""
    replaced = []

    for name, switch in _SWITCHES.items():
        stream = getattr(sys, name)

        if stream is not switch:
            replaced.append(name)
            setattr(sys, name, switch)

            try:
                stream.flush()
            except Exception:  # closed, or not a stream at all: nothing to keep
                pass

    return replaced


_REDIRECTED = object()  # marks a redirection made for a request (rule 5)
OWN = object()  # a stream not redirected: the request's own


def _redirect_per_request() -> None:
    redirect = contextlib._RedirectStream  # type: ignore[attr-defined]
    enter, leave = redirect.__enter__, redirect.__exit__

    if getattr(enter, '_httpout', False):
        return

    def __enter__(self: Any) -> Any:
        job = CURRENT.get()

        if job is None:
            return enter(self)

        previous = job.streams.redirect(self._stream, self._new_target)
        self._old_targets.append((_REDIRECTED, job, previous))
        return self._new_target

    def __exit__(self: Any, *exc_info: Any) -> None:
        old = self._old_targets[-1]

        if not (isinstance(old, tuple) and old and old[0] is _REDIRECTED):
            return leave(self, *exc_info)

        self._old_targets.pop()
        old[1].streams.redirect(self._stream, old[2])

    __enter__._httpout = True  # type: ignore[attr-defined]
    redirect.__enter__ = __enter__
    redirect.__exit__ = __exit__


class ResponseBytes(io.BufferedIOBase):
    """`sys.stdout.buffer` of a script: bytes into its response."""

    def __init__(self, write: Callable[[bytes], None], flush: Callable[[], None]) -> None:
        super().__init__()
        self._write = write
        self._flush = flush

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._write(data)
        return len(data)

    def flush(self) -> None:
        self._flush()


class ResponseText(io.TextIOBase):
    """`sys.stdout` of a script: text into its response, as UTF-8."""

    def __init__(self, write: Callable[[bytes], None], flush: Callable[[], None]) -> None:
        super().__init__()
        self._write = write
        self._flush = flush
        self._buffer = ResponseBytes(write, flush)
        self._encoding = 'utf-8'
        self._errors = 'strict'

    @property
    def buffer(self) -> ResponseBytes:  # type: ignore[override]
        return self._buffer

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def errors(self) -> str:
        return self._errors

    def reconfigure(self, *, encoding: Optional[str] = None, errors: Optional[str] = None,
                    **_buffering: Any) -> None:
        """As `io.TextIOWrapper.reconfigure()`; console scripts often start
        with `sys.stdout.reconfigure(encoding='utf-8')`. Newline and
        buffering settings change nothing: no text waits here."""
        if encoding is not None:
            self._encoding = codecs.lookup(encoding).name  # LookupError if unknown
            self._errors = errors or 'strict'
        elif errors is not None:
            self._errors = errors

    @property
    def line_buffering(self) -> bool:
        return True  # nothing waits for a newline: a write goes out as it is

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s' % type(text).__name__)

        self._write(text.encode(self._encoding, self._errors))
        return len(text)

    def flush(self) -> None:
        self._flush()


class RequestBody(io.RawIOBase):
    """The request body as a raw file, fetched at the first read."""

    def __init__(self, fetch: Callable[[], bytes]) -> None:
        super().__init__()
        self._fetch = fetch
        self._data: Optional[memoryview] = None
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if self._data is None:
            self._data = memoryview(self._fetch())

        count = min(len(target), len(self._data) - self._position)
        target[:count] = self._data[self._position:self._position + count]
        self._position += count
        return count


class LogText(io.TextIOBase):
    """`sys.stderr` of a script: lines into the server log (rule 4)."""

    def __init__(self, logger: logging.Logger, request_line: Callable[[], str]) -> None:
        super().__init__()
        self._logger = logger
        self._request_line = request_line
        self._partial = ''
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:
        return 'utf-8'

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s' % type(text).__name__)

        with self._lock:
            lines = (self._partial + text).split('\n')
            self._partial = lines.pop()

        for line in lines:
            self._log(line)

        return len(text)

    def _log(self, line: str) -> None:
        _logging_stderr.active = True

        try:
            self._logger.warning('%s: stderr: %s', self._request_line(), line)
        finally:
            _logging_stderr.active = False

    def end(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ''

        if partial:
            self._log(partial)


class ScriptStreams:
    """The three streams of one request, each made at its first use.

    `write(data)` and `flush()` go to the response; `read_body()` returns
    the whole request body (called from the script's thread)."""

    def __init__(self, *, write: Callable[[bytes], None], flush: Callable[[], None],
                 read_body: Callable[[], bytes], logger: logging.Logger,
                 request_line: Callable[[], str]) -> None:
        self._write = write
        self._flush = flush
        self._read_body = read_body
        self._logger = logger
        self._request_line = request_line
        self._made: Dict[str, Any] = {}  # stream name -> the request's own
        # stream name -> where contextlib.redirect_*() sends it (rule 5)
        self.redirected: Dict[str, Any] = {}

    def _stream(self, name: str, make: Callable[[], Any]) -> Any:
        if name in self.redirected:
            return self.redirected[name]

        stream = self._made.get(name)

        if stream is None:
            stream = self._made[name] = make()

        return stream

    @property
    def stdout(self) -> Any:
        return self._stream('stdout', lambda: ResponseText(self._write, self._flush))

    @property
    def stdin(self) -> Any:
        return self._stream('stdin', lambda: io.TextIOWrapper(
            io.BufferedReader(RequestBody(self._read_body)), encoding='utf-8'))

    @property
    def stderr(self) -> Any:
        return self._stream('stderr', lambda: LogText(self._logger, self._request_line))

    def redirect(self, name: str, target: Any) -> Any:
        """Send stream `name` to `target` (OWN: the request's own again);
        returns where it went before."""
        previous = self.redirected.pop(name, OWN)

        if target is not OWN:
            self.redirected[name] = target

        return previous

    def close(self) -> None:
        """The script has ended: log what is left of its stderr."""
        stderr = self._made.get('stderr')

        if stderr is not None:
            stderr.end()
