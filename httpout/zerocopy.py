"""Zero-copy bodies: a file's bytes from the page cache to a client's socket
with `os.sendfile()`, never through Python buffers.

Rules owned here:
- Plain TCP and Unix sockets only (`available`): TLS encrypts in Python, so
  its bytes must pass through Python anyway.
- The caller has sent the head through the transport and waited until the
  transport's buffer is empty (HTTPWriter with a high-water mark of 0), so
  the body follows the head on the socket, and nothing else writes to the
  connection until `sendfile()` returns.
- asyncio's selector loop: its own `loop.sendfile()`.
- uvloop: its loop has no `sendfile()` (it raises NotImplementedError), so
  the body goes with `os.sendfile()` on a duplicate of the socket's
  descriptor, waiting for room with `add_writer()` on that duplicate
  (uvloop refuses a transport's own descriptor). The duplicate also makes
  sure the bytes can only reach this connection, even if its descriptor
  number is closed and reused meanwhile. When the connection is lost
  (tremolo's close callbacks), the wait ends and the duplicate is closed,
  so that a connection the server closed is closed for real.
- Any other loop: not available; the caller keeps its other path.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, BinaryIO, List, Optional

__all__ = ('available', 'sendfile')

_UVLoop: Optional[type]

try:
    from uvloop import Loop as _UVLoop
except ImportError:  # uvloop is an optional extra
    _UVLoop = None


def available(protocol: Any) -> bool:
    """Can the body of this connection's response go out by os.sendfile?"""
    loop = protocol.loop
    transport = protocol.transport
    return (transport is not None and transport.get_extra_info('sslcontext') is None and
            (isinstance(loop, asyncio.SelectorEventLoop) or
             (_UVLoop is not None and isinstance(loop, _UVLoop))))


async def sendfile(protocol: Any, file: BinaryIO, count: int) -> int:
    """Send the first `count` bytes of `file`; returns how many were sent
    (fewer if the file is shorter). Raises ConnectionError if the client
    goes away."""
    loop = protocol.loop

    if isinstance(loop, asyncio.SelectorEventLoop):
        return await loop.sendfile(protocol.transport, file, 0, count)

    return await _sendfile_by_descriptor(protocol, file, count)


async def _sendfile_by_descriptor(protocol: Any, file: BinaryIO, count: int) -> int:
    loop = protocol.loop
    transport = protocol.transport
    fd = os.dup(transport.get_extra_info('socket').fileno())
    waiting: List[asyncio.Future] = []

    def connection_lost() -> None:
        for waiter in waiting:
            waiter.cancel()

    protocol.add_close_callback(connection_lost)
    sent = 0

    try:
        while sent < count:
            if transport.is_closing():
                raise ConnectionResetError('the connection is closing')

            try:
                done = os.sendfile(fd, file.fileno(), sent, count - sent)
            except BlockingIOError:
                await _writable(loop, fd, waiting, transport)
                continue

            if done == 0:  # the file is shorter than it was when stat'ed
                break

            sent += done
    finally:
        protocol.context.tasks.discard(connection_lost)
        os.close(fd)

    return sent


async def _writable(loop: asyncio.AbstractEventLoop, fd: int,
                    waiting: List[asyncio.Future], transport: Any) -> None:
    """Wait until the socket can take more, or the connection is lost."""
    waiter = loop.create_future()
    waiting.append(waiter)

    def ready() -> None:
        if not waiter.done():  # called until remove_writer, maybe twice
            waiter.set_result(None)

    loop.add_writer(fd, ready)

    try:
        await waiter
    except asyncio.CancelledError:
        if transport.is_closing():
            raise ConnectionResetError('the connection was lost') from None
        raise
    finally:
        loop.remove_writer(fd)
        waiting.clear()
