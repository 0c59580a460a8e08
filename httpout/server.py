"""`HTTPOut`: httpout plugged into a tremolo `Application`.

    app = tremolo.Application()
    HTTPOut(app)
    app.run(host='127.0.0.1', port=8000, document_root='example/')

This is the whole public Python API, kept compatible with httpout 0.1.x.

At worker start (once per process, in `_worker_start`): enter the document
root, put it on `sys.path`, install the import hook, run `__globals__.py`,
and start the script runner with its thread pool. Per request (in `_handle`):
route the URL path, then run the script, send the static file, redirect, or
refuse. Everything per-worker is built once there, so the request path only
does per-request work.
"""
from __future__ import annotations

import os
import signal
import sys
from http import HTTPStatus
from types import ModuleType
from typing import Any, List, Optional, Sequence, Tuple

from . import __version__
from . import current, streams
from .accesslog import AccessLog
from .compression import PageCoding
from .errors import debug_page, error_page, refusal_page
from .middleware import adapt_middlewares
from .imports import CodeCache, Importer, Scope, shadowing_files
from .output import HTTPWriter
from .requests import TrustedProxies
from .router import Redirect, Refusal, Script, StaticFile, resolve
from .runner import ScriptRunner
from .static import SIBLINGS, StaticOptions, send_static

__all__ = ('HTTPOut',)

GLOBALS_FILE = '__globals__.py'


class HTTPOut:
    """Serve a document root of scripts and static files on a tremolo app.

    Options read from `app.run(...)`: `document_root` (default: the working
    directory), `directory_index` (default `['index.py', 'index.html']`),
    `debug`, `thread_pool_size` (16), `ws`, `trusted_proxies`,
    `max_execution_time` (0: off), `access_log`, `client_max_body_size`,
    `compress` (absent: static files' precompressed siblings only; True:
    pages too; False: nothing is sent compressed; see docs/compression.md).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.document_root = ''
        self.directory_index: Sequence[str] = ()
        self.runner: Optional[ScriptRunner] = None
        self.logger: Any = None
        self.trusted_proxies = TrustedProxies()
        self.max_body_size = 0
        self.draining = False  # a stop signal came: no new requests
        self.access_log: Optional[AccessLog] = None
        self.static_options = StaticOptions()

        async def handle(request, response, **_):
            await self._handle(request, response)

        async def error_500(request, exc, **_):
            # a request middleware failed (script errors are runner.py's):
            # tremolo's own page would show the exception's text to anyone
            debug = request.protocol is not None and request.protocol.options['debug']
            return (debug_page(exc, request.method, request.url, request.headers)
                    if debug else error_page())

        app.add_hook(self._worker_start, 'worker_start')
        app.add_hook(self._worker_stop, 'worker_stop')
        app.add_route(handle, '/')   # the root URL has a slot of its own
        app.add_route(handle, '^/')  # every other URL
        app.error(500, error_500)

    # --- worker lifecycle ---------------------------------------------------

    async def _worker_start(self, **worker: Any) -> None:
        options = worker['context'].options
        # tremolo cuts any request after 120 s, and keeps a closed connection
        # in memory for 30 s; a page may stream for long to a slow client
        # (--max-execution-time limits scripts), and closed is closed. tremolo
        # applies its defaults after this hook, so these take their place.
        options.setdefault('app_handler_timeout', 24 * 3600)
        options.setdefault('app_close_timeout', 5)
        self.logger = worker['logger']
        self.document_root = os.path.realpath(options.get('document_root', os.getcwd()))
        self.directory_index = tuple(options.get('directory_index',
                                                 ('index.py', 'index.html')))
        # scripts expect relative paths to start at their folder, like PHP's
        os.chdir(self.document_root)
        # last, so that a page named like a module (json.py) never shadows it
        # for library code; scripts' local imports go through the hook anyway
        sys.path.append(self.document_root)

        code_cache = CodeCache()
        importer = Importer(self.document_root, code_cache)
        importer.install()
        current.install()
        streams.install_switches()

        if options.get('warn_shadowing', True):
            self._warn_shadowing(importer)

        globals_module = self._run_globals(code_cache)
        adapt_middlewares(self.app)
        self._stop_accepting_on_signals(worker['loop'])

        compress = options.get('compress')  # None: static siblings only (BREACH)
        self.static_options = StaticOptions(
            codings=tuple(SIBLINGS) if compress is not False else (),
            # tremolo applies its --download-rate in its send queue only
            zero_copy='download_rate' not in options)
        self.max_body_size = options.get('client_max_body_size', 2 * 1048576)
        self.trusted_proxies = TrustedProxies(options.get('trusted_proxies', ()))
        wants_access_log = (options.get('access_log', True) and
                            options.get('log_level', 'INFO').upper() in ('DEBUG', 'INFO'))
        self.access_log = AccessLog(worker['loop']) if wants_access_log else None
        self.runner = ScriptRunner(
            app=self.app, loop=worker['loop'], document_root=self.document_root,
            thread_pool_size=options.get('thread_pool_size', 16),
            debug=options.get('debug', False), logger=self.logger,
            globals_module=globals_module,
            trusted_proxies=self.trusted_proxies,
            websocket_enabled=options.get('ws', True),
            software='httpout/%s' % __version__, code_cache=code_cache,
            max_execution_time=options.get('max_execution_time', 0),
            page_coding=PageCoding() if compress is True else None,
        )
        self.logger.info('httpout %s: document root %s', __version__, self.document_root)

    def _warn_shadowing(self, importer: Importer) -> None:
        shadowing = shadowing_files(self.document_root, importer)

        if shadowing:
            self.logger.warning(shadowing_warning(shadowing))

    def _run_globals(self, code_cache: CodeCache) -> ModuleType:
        """Run `__globals__.py` once for this worker, as module `__globals__`."""
        path = os.path.join(self.document_root, GLOBALS_FILE)
        scope = Scope(names={}, virtual={'app': self.app})
        module = scope.new_main(path, name='__globals__')
        scope.names['__globals__'] = scope.virtual['__globals__'] = module
        scope.virtual['modules'] = scope.modules
        # one per worker, so pickle and friends may find its classes by name
        sys.modules['__globals__'] = module

        if os.path.isfile(path):
            exec(code_cache.get(path), module.__dict__)  # nosec B102: trusted code
            self.logger.info('ran %s', path)

        return module

    def _stop_accepting_on_signals(self, loop: Any) -> None:
        """On SIGTERM/SIGINT, stop accepting connections at once, while the
        requests in flight finish within --shutdown-timeout.

        tremolo closes its listening socket only after that grace period, so
        the server it creates is captured here (after this hook, the same
        worker start calls loop.create_server) and closed from the signal
        handler, in front of tremolo's own. Where the loop does not allow
        that (uvloop), new requests are answered 503 instead."""
        listeners: List[Any] = []

        try:
            create_server = loop.create_server

            async def create_and_keep_server(*args: Any, **kwargs: Any) -> Any:
                server = await create_server(*args, **kwargs)
                listeners.append(server)
                return server

            loop.create_server = create_and_keep_server
        except AttributeError:  # a loop whose methods cannot be replaced
            pass

        for signum in (signal.SIGTERM, signal.SIGINT):
            tremolo_handler = signal.getsignal(signum)

            def handler(signum: int, frame: Any, tremolo_handler: Any = tremolo_handler) -> None:
                self.draining = True

                for server in listeners:
                    server.close()

                if callable(tremolo_handler):
                    tremolo_handler(signum, frame)

            signal.signal(signum, handler)

    async def _worker_stop(self, **_: Any) -> None:
        if self.runner is not None:
            self.runner.shutdown()

    # --- requests ------------------------------------------------------------

    async def _handle(self, request, response) -> None:
        route = resolve(self.document_root, request.path.decode('latin-1'),
                        self.directory_index)

        if self.draining:
            route = Refusal(503, 'Shutting down', 'shutting-down')
            request.http_keepalive = False
        elif request.transfer_encoding not in ([], [b'chunked']):
            # RFC 9112 section 6.3: chunked must be the last and only coding we
            # read; anything else cannot be framed and is how requests are smuggled
            route = Refusal(400, 'Unsupported Transfer-Encoding', 'transfer-encoding')
        elif isinstance(route, Script) and request.content_length > self.max_body_size:
            # refused before the script runs, so it never sees a cut body
            route = Refusal(413, 'Payload Too Large', 'body-too-large')

        if isinstance(route, Script):
            assert self.runner is not None
            size: Optional[int] = await self.runner.run(route, request, response,
                                                        request.protocol)
        elif isinstance(route, StaticFile):
            size = await send_static(route, request, response, self.static_options)
        elif isinstance(route, Redirect):
            location = route.location

            if request.query_string:
                location += '?' + request.query_string.decode('latin-1')

            size = await self._send_page(request, response, 301, b'',
                                         (b'Location', location.encode('latin-1')))
        else:
            self._log_refusal(request, route)
            size = await self._send_page(request, response, route.status,
                                         refusal_page(route.status, route.reason))

        if self.access_log is not None:
            self.access_log.log(request, self.trusted_proxies.remote_addr(request),
                                response.get_status()[0], size)

    def _log_refusal(self, request, refusal: Refusal) -> None:
        self.logger.info('%d %s %s: refused by rule %s', refusal.status,
                         request.method.decode('latin-1'),
                         request.path.decode('latin-1'), refusal.rule)

    @staticmethod
    async def _send_page(request, response, status: int, body: bytes,
                         *headers: Tuple[bytes, bytes]) -> int:
        response.set_status(status, HTTPStatus(status).phrase.encode())

        for name, value in headers:
            response.set_header(name, value)

        await HTTPWriter(request.protocol, request, response).end(True, body)
        return len(body)


def shadowing_warning(files: Sequence[str]) -> str:
    return ('%s: named like installed or standard modules, which always win: '
            '"import" gives those, never these files (as pages they run as usual)'
            % ', '.join(files))
