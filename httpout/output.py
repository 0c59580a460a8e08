"""The output stream: what a script prints, to the client, in order.

Theory of operation
- `OutputStream.write()` is called from the script's thread (by `print`) and
  `awrite()` from coroutines on the event loop (by `response.write`). Both
  append to one buffer, so order is kept whoever writes.
- One *pump* task on the event loop moves the buffer to the connection.
  The first bytes wait for the script to end, but only while it has run
  less than FIRST_FLUSH_DELAY (1 ms; the worker's `FlushClock` looks every
  1 ms, so at most 2 ms): a script that ends within it costs no wake-up of
  the loop per print and goes out in one write with a Content-Length; after
  it, any write starts the pump at once. While the pump is busy sending,
  later writes pile up and leave together in one transport write: that
  coalescing is what makes many small prints cheap.
- The head (status, headers, cookies) is sealed by the first write, even
  though it goes out later: what a script sees does not depend on timing.
- Backpressure: a writer blocks (thread) or awaits (coroutine) while the
  buffer holds more than `high_water` bytes, and the pump waits for the
  transport to drain before it takes more. Memory per response is therefore
  bounded by `high_water` plus the transport's own high watermark.
- A script that ends with nothing in flight calls `hold()`: the pump then
  leaves unsent bytes alone, and `close()` sends the whole short body at once
  with a Content-Length instead of chunks.
- If the client goes away, `abort()` makes every later write raise
  `ClientDisconnected`, which ends the script and frees its thread.

`HTTPWriter` is the wire underneath: it renders the head from the response
state, codes the body when given a `PageCoding` (compression.py decides
which responses and how), frames it (Content-Length, chunked, or until
close) and waits for the transport to drain.
"""
from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from typing import List, Optional, Set, Tuple, Union

from . import zerocopy
from .compression import Encoder, PageCoding

__all__ = ('ClientDisconnected', 'FlushClock', 'HTTPWriter', 'OutputStream')

# How long the first bytes may wait for the script to end (delay_first_flush).
FIRST_FLUSH_DELAY = 0.001

# Headers the writer itself decides; values a script set for them are ignored
# (Date and Server are tremolo's, as its own responses have them).
_WRITER_HEADERS = frozenset((b'content-type', b'content-length',
                             b'transfer-encoding', b'connection', b'date', b'server'))


class _DateAndServer:
    """The head's Date and Server lines, rendered again only when tremolo's
    clock (`server_date`, updated once a second) or the name changes, rather
    than set as two headers and rendered for every response."""

    def __init__(self) -> None:
        self._key: Tuple[bytes, bytes] = (b'', b'')
        self._lines: List[bytes] = []

    def lines(self, info: dict) -> List[bytes]:
        key = (info['server_date'], info['server_name'])

        if key != self._key:
            date, name = key
            self._key = key
            self._lines = [b'Date: ' + date] + ([b'Server: ' + name] if name else [])

        return self._lines


_DATE_AND_SERVER = _DateAndServer()


class ClientDisconnected(ConnectionResetError):
    """The client closed the connection; nothing more can be sent."""

    def __init__(self, message: str = 'client disconnected') -> None:
        super().__init__(message)


class HTTPWriter:
    """Writes one HTTP response straight to tremolo's transport.

    tremolo's own send queue is bypassed on purpose: it closes the connection
    when more than `max_queue_size` chunks are pending, which a fast-printing
    script reaches at once. Writing to the transport and waiting for it to
    drain gives real backpressure instead.
    """

    def __init__(self, protocol, request, response,
                 high_water: int = 256 * 1024,
                 coding: Optional[PageCoding] = None) -> None:
        self._protocol = protocol
        self._request = request  # tremolo's HTTPRequest
        self._tremolo_response = response  # and its HTTPResponse
        # the script's Response takes this lock to change the head; sealed,
        # the head no longer changes (except by response middleware)
        self.lock = threading.Lock()
        self.sealed = False
        self._high_water = high_water
        self._drained: Optional[asyncio.Future] = None
        self._chunked = False
        self._has_body = True
        self._coding = coding
        self._encoder: Optional[Encoder] = None
        self.started = False
        self.body_bytes = 0  # for the access log
        protocol.set_watermarks(high=high_water, low=high_water // 4)

    def seal(self) -> None:
        """No more changes from the script to the head."""
        with self.lock:
            self.sealed = True

    async def start(self, content_length: Optional[int] = None,
                    body: Union[bytes, bytearray] = b'') -> None:
        """Send the head, and `body` with it in the same write.
        `content_length` None means the length is not known yet."""
        self.started = True  # first, so that nobody starts a second head
        self.seal()
        await self._run_response_middleware()

        if self._coding is not None:
            body, content_length = self._encode_first(self._coding, body, content_length)

        head = self._render_head(content_length)
        self._tremolo_response.headers_sent(True)
        await self._write(head, *self._frame(body))

    async def _run_response_middleware(self) -> None:
        """tremolo response middleware may still change the head here. One
        that fails is logged as its own error, and the response goes out as
        it is: that error must never replace the page (a script's error page
        above all) nor show its text to the client."""
        try:
            await self._protocol.run_middlewares('response', reverse=True)
        except Exception:
            request = self._request
            self._protocol.logger.exception(
                '%s %s %s: response middleware error',
                request.client[0] if isinstance(request.client, tuple) else '-',
                request.method.decode('latin-1'), request.url.decode('latin-1'))

    def _encode_first(self, coding: PageCoding, body: Union[bytes, bytearray],
                      content_length: Optional[int]
                      ) -> Tuple[Union[bytes, bytearray], Optional[int]]:
        """Code the first body bytes if the response is to be compressed: the
        whole body when its length is known, else the start of a stream."""
        response = self._tremolo_response
        content_type = response.headers.get(b'content-type', [response.content_type])[0]
        encoder = coding.choose(self._request, response, content_type, content_length)

        if encoder is None:
            return body, content_length

        if content_length is not None:
            body = encoder.finish(body)
            return body, len(body)

        self._encoder = encoder
        return encoder.compress(body), None

    def _render_head(self, content_length: Optional[int]) -> bytes:
        request = self._request
        response = self._tremolo_response
        status, message = response.get_status()
        headers = response.headers
        lines = [b'HTTP/%s %d %s' % (request.version, status, message),
                 *_DATE_AND_SERVER.lines(request.server.globals.info)]
        # RFC 9110 section 6.4.1: these statuses never carry content
        self._has_body = (status >= 200 and status not in (204, 304) and
                          request.method != b'HEAD')

        if status >= 200 and status not in (204, 304):
            content_type = headers.get(b'content-type', [response.content_type])[0]
            lines.append(b'Content-Type: ' + content_type)

            if content_length is not None:
                lines.append(b'Content-Length: %d' % content_length)
            elif not self._has_body:
                pass  # HEAD of a streamed page: the length is not known
            elif request.version == b'1.1':
                self._chunked = True
                lines.append(b'Transfer-Encoding: chunked')
            else:
                request.http_keepalive = False  # HTTP/1.0: the end is the close

        if request.has_body and not request.eof():
            # tremolo closes a connection whose request body was left unread
            request.http_keepalive = False

        lines.append(b'Connection: keep-alive' if request.http_keepalive
                     else b'Connection: close')

        for key, values in headers.items():
            if key not in _WRITER_HEADERS:
                lines.extend(key.name + b': ' + value for value in values)

        return b'\r\n'.join(lines) + b'\r\n\r\n'

    def _transport(self):
        transport = self._protocol.transport

        if transport is None or transport.is_closing():
            raise ClientDisconnected

        return transport

    def _frame(self, data: Union[bytes, bytearray]) -> Tuple[Union[bytes, bytearray], ...]:
        if not self._has_body or not data:
            return ()

        self.body_bytes += len(data)

        if self._chunked:
            return (b'%X\r\n' % len(data), data, b'\r\n')

        return (data,)

    async def _write(self, *pieces: Union[bytes, bytearray]) -> None:
        transport = self._transport()
        transport.writelines(pieces)

        if transport.get_write_buffer_size() > self._high_water:
            await self._drain()

    async def send(self, data: Union[bytes, bytearray]) -> None:
        """Send body bytes, starting a streamed response if needed."""
        if not self.started:
            await self.start(None, data)
        elif data:
            if self._encoder is not None:
                data = self._encoder.compress(data)

            await self._write(*self._frame(data))

    async def sendfile(self, file, count: int) -> bool:
        """Send the first `count` bytes of `file` as the body of a head sent
        with that Content-Length, zero-copy (zerocopy.py; the writer must
        have been made with high_water 0, so that the head has left the
        transport's buffer). False if the file had fewer bytes."""
        self._transport()  # raises if the client is gone

        if not self._has_body:  # response middleware made it a 304 or 204
            return True

        sent = await zerocopy.sendfile(self._protocol, file, count)
        self.body_bytes += sent
        return sent == count

    async def _drain(self) -> None:
        # tremolo's protocol resolves events['send'] from resume_writing(),
        # which the transport calls once its buffer is below the low mark
        self._drained = self._protocol.loop.create_future()
        self._protocol.events['send'] = self._drained

        try:
            await self._drained
        except asyncio.CancelledError:
            if self._protocol.transport is None:
                raise ClientDisconnected from None
            raise
        finally:
            self._drained = None

    def abort(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.cancel()

    async def end(self, keepalive: bool = True,
                  last: Union[bytes, bytearray] = b'') -> None:
        """Send the `last` body bytes and finish the body; tremolo then keeps
        or closes the connection."""
        request = self._request

        if not keepalive:  # before the head, which says so
            request.http_keepalive = False

        if not self.started:
            await self.start(len(last), last)
            last = b''
        elif self._encoder is not None:
            last = self._encoder.finish(last)

        if self._chunked:
            await self._write(*self._frame(last), b'0\r\n\r\n')
        elif last:
            await self._write(*self._frame(last))

        if request.http_continue:
            # answered without reading the body the client offered: tremolo
            # would take the end of this response for the end of the 100
            request.http_continue = False
            request.http_keepalive = False

        if not request.http_keepalive:
            # close now: left open, tremolo may still answer the rest of an
            # unread body with a response of its own
            self._protocol.close()


class OutputStream:
    """Bytes from a script to its client; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, writer: HTTPWriter,
                 high_water: int = 256 * 1024) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()  # created on the loop
        self._writer = writer
        self._high_water = high_water
        # a plain Lock guards the buffer (print takes it once per call, so it
        # must be cheap); the Condition on it is for writers waiting for room,
        # made by the first one (most pages never fill the buffer)
        self._lock = threading.Lock()
        self._room: Optional[threading.Condition] = None
        self._buffer = bytearray()
        self._pumping = False
        self._pump_task: Optional[asyncio.Task] = None
        self._held = False
        self._sealed = False
        self._flush_delayed = False  # see delay_first_flush()
        self._started_at: Optional[float] = None  # when the script began to run
        self._clock: Optional[FlushClock] = None
        self._error: Optional[BaseException] = None
        self._space_waiters: List[asyncio.Future] = []

    @property
    def started(self) -> bool:
        """True once the head has gone out (output has started)."""
        return self._writer.started

    @property
    def written(self) -> bool:
        """True once anything has been written, sent or not: from then on
        the head is the script's, and an error can no longer replace the
        page (SPEC section 7: the outcome never depends on timing)."""
        return self._sealed

    def write(self, data: bytes) -> None:
        """Queue bytes; from the script thread this blocks while the buffer is full."""
        on_loop = threading.get_ident() == self._loop_thread

        with self._lock:
            if self._error is not None:
                raise ClientDisconnected(str(self._error))

            if not self._sealed:
                # headers freeze at the first output, even if it is sent later
                self._sealed = True
                self._writer.seal()

            self._buffer += data

            if not self._pumping and not self._flush_delayed:
                self._pumping = True

                self._schedule_pump(on_loop)

            if on_loop:
                return  # the loop must never block; awrite() waits instead

            while len(self._buffer) > self._high_water and self._error is None:
                if self._room is None:
                    self._room = threading.Condition(self._lock)

                self._room.wait()

            if self._error is not None:
                raise ClientDisconnected(str(self._error))

    async def awrite(self, data: bytes) -> None:
        """Queue bytes from a coroutine, waiting while the buffer is full."""
        self.write(data)

        while len(self._buffer) > self._high_water and self._error is None:
            waiter = self._loop.create_future()
            self._space_waiters.append(waiter)
            await waiter

        if self._error is not None:
            raise ClientDisconnected(str(self._error))

    def hold(self) -> None:
        """The script has ended: keep unsent bytes for `close()` to size."""
        with self._lock:
            self._held = True

    def flush(self) -> None:
        """Send what is buffered now, without waiting for the first-flush
        delay (print(flush=True), sys.stdout.flush())."""
        on_loop = threading.get_ident() == self._loop_thread

        with self._lock:
            self._flush_delayed = False

            if self._pumping or not self._buffer or self._error is not None:
                return

            self._pumping = True
            self._schedule_pump(on_loop)

    def _schedule_pump(self, on_loop: bool) -> None:
        if on_loop:
            self._start_pump()
        else:
            # a context of its own: a copy of the script's would tie the pump
            # task to its request in a reference cycle (job -> stream -> task)
            self._loop.call_soon_threadsafe(self._start_pump, context=contextvars.Context())

    def _start_pump(self) -> None:
        self._pump_task = self._loop.create_task(self._pump())

    def delay_first_flush(self, clock: FlushClock) -> None:
        """Let the first bytes wait while the script has run less than
        FIRST_FLUSH_DELAY (call on the loop as the script is queued; the
        script's thread calls `script_started()`). A script that ends within
        it is sent in one write with a Content-Length, and its prints cost
        no wake-up of the loop; one that runs longer streams from then on."""
        self._flush_delayed = True
        self._clock = clock
        clock.add(self)

    def script_started(self) -> None:
        """From the script's thread, as it starts: the delay counts from now."""
        self._started_at = time.monotonic()

    def first_flush_due(self, now: float) -> bool:
        """From the clock: end the delay if the script has ended or has run
        long enough. Returns True once the stream no longer waits."""
        started_at = self._started_at

        with self._lock:
            # time spent waiting for a free thread does not count: under load
            # a short page would otherwise be streamed in chunks for no reason
            # (a script that never starts has been aborted: _error is set)
            if (not self._held and self._error is None and
                    (started_at is None or now - started_at < FIRST_FLUSH_DELAY)):
                return False

            self._flush_delayed = False
            # a script that has ended leaves its bytes to close()
            start = bool(self._buffer) and not self._pumping and not self._held
            self._pumping = self._pumping or start

        if start:
            self._start_pump()

        return True

    def _cancel_first_flush(self) -> None:
        with self._lock:
            self._flush_delayed = False

        if self._clock is not None:
            self._clock.discard(self)

    async def _pump(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._buffer or (self._held and not self.started):
                        self._pumping = False
                        return

                    data, self._buffer = self._buffer, bytearray()
                    self._notify_room()

                self._wake_space_waiters()
                await self._writer.send(data)
        except (ClientDisconnected, asyncio.CancelledError) as exc:
            self.abort(exc)

    def _notify_room(self) -> None:  # hold the lock
        if self._room is not None:
            self._room.notify_all()

    def _wake_space_waiters(self) -> None:
        while self._space_waiters:
            waiter = self._space_waiters.pop()

            if not waiter.done():
                waiter.set_result(None)

    def abort(self, exc: Optional[BaseException] = None) -> None:
        """The client is gone: fail every pending and later write."""
        with self._lock:
            if self._error is None:
                self._error = exc or ClientDisconnected()

            self._pumping = False
            self._buffer.clear()
            self._notify_room()

        self._writer.abort()
        self._wake_space_waiters()

    @property
    def aborted(self) -> bool:
        return self._error is not None

    async def settle(self) -> None:
        """Hold unsent bytes and wait until the pump is idle, so that
        `started` can no longer change under the caller."""
        self.hold()
        self._cancel_first_flush()

        if self._pump_task is not None:
            await self._pump_task

    async def close(self, keepalive: bool = True) -> None:
        """Send what is left and end the response."""
        await self.settle()

        if self._error is not None:
            return

        with self._lock:
            data, self._buffer = self._buffer, bytearray()
            self._error = ClientDisconnected('the response has ended')

        try:
            await self._writer.end(keepalive, data)
        except ClientDisconnected:
            pass


class FlushClock:
    """One timer per worker for every stream whose first bytes are delayed
    (`OutputStream.delay_first_flush`): it looks at them every
    FIRST_FLUSH_DELAY while there are any. A timer per response would cost
    the loop a few callbacks per request, and most scripts end long before
    it fires."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._streams: Set[OutputStream] = set()
        self._timer: Optional[asyncio.TimerHandle] = None

    def add(self, stream: OutputStream) -> None:
        self._streams.add(stream)

        if self._timer is None:
            self._timer = self._loop.call_later(FIRST_FLUSH_DELAY, self._tick)

    def discard(self, stream: OutputStream) -> None:
        self._streams.discard(stream)

    def _tick(self) -> None:
        now = time.monotonic()

        for stream in list(self._streams):
            if stream.first_flush_due(now):
                self._streams.discard(stream)

        self._timer = (self._loop.call_later(FIRST_FLUSH_DELAY, self._tick)
                       if self._streams else None)
