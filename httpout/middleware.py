"""tremolo middleware, made to follow SPEC section 6.

Rules owned here:
- Response middleware runs just before a response's head is sent, and only
  then: once the head is out, a response middleware is skipped (tremolo
  would otherwise call it again after a request middleware has answered,
  when no header can change any more).
- A request middleware that answers (returns bytes, str or a tuple, as
  tremolo allows) has its answer sent by httpout's writer, so that response
  middleware still sees and can change that response's head.

`adapt_middlewares(app)` rewrites the app's middleware lists in place once
per worker, after `__globals__.py` has added its own, so middleware
registered on the app from Python (`HTTPOut(app)`) is covered too.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from tremolo.utils import getoptions

from .output import HTTPWriter

__all__ = ('adapt_middlewares',)

Middleware = Callable[..., Awaitable[Any]]
_ADAPTED = '__httpout_adapted__'


def _request_middleware(func: Middleware) -> Middleware:
    async def middleware(**server: Any) -> Any:
        data = await func(**server)

        if not isinstance(data, (bytes, bytearray, str, tuple)):
            return data

        request, response = server['request'], server['response']
        options = request.context.options
        encoding = 'utf-8'

        if isinstance(data, tuple):
            data, encoding = data[0], (data[1:] or (encoding,))[0]

        if isinstance(data, str):
            data = data.encode(encoding)

        if 'status' in options:
            response.set_status(*options['status'])

        if 'content_type' in options:
            response.set_content_type(options['content_type'])

        await HTTPWriter(request.protocol, request, response).end(True, data)
        response.close(keepalive=True)  # hand the connection back to tremolo
        return True  # answered: tremolo stops here

    return middleware


def _response_middleware(func: Middleware) -> Middleware:
    async def middleware(**server: Any) -> Any:
        if server['response'].headers_sent():
            return None

        return await func(**server)

    return middleware


_ADAPTERS = {'request': _request_middleware, 'response': _response_middleware}


def adapt_middlewares(app: Any) -> None:
    for lists in app.middlewares.values():
        for kind, adapter in _ADAPTERS.items():
            for i, (priority, func, options) in enumerate(lists[kind]):
                if getattr(func, _ADAPTED, False):
                    continue

                wrapped = adapter(func)
                setattr(wrapped, _ADAPTED, True)
                # tremolo passes a middleware's declared options through
                # request.context.options; keep the original's
                lists[kind][i] = (priority, wrapped, options or getoptions(func))
