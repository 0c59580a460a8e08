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

import asyncio
import os
import signal
import sys
import time
from http import HTTPStatus
from types import ModuleType
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

from . import __version__
from . import current, streams
from .accesslog import AccessLog
from .compression import PageCoding
from .errors import debug_page, error_page, refusal_page
from .logs import quiet_gc
from .metrics import CONTENT_TYPE, Metrics
from .middleware import adapt_middlewares
from .imports import CodeCache, Importer, Scope, shadowing_files
from .output import HTTPWriter
from .requests import TrustedProxies
from .router import Redirect, Refusal, Routes, Script, StaticFile
from .runner import ScriptRunner
from .session_stores import default_url, open_store
from .sessions import DEFAULT_COOKIE, DEFAULT_LIFETIME, DEFAULT_LOCK_TIMEOUT, Sessions
from .slowlog import SlowLog
from .static import SIBLINGS, StaticOptions, send_static
from .watch import GlobalsWatcher

__all__ = ('HTTPOut',)

GLOBALS_FILE = '__globals__.py'
# after a stop signal, how long keep-alive connections get to make their
# next request (answered, then closed) before tremolo stops the worker
LINGER = 1.0
# after a stop signal, when the listening socket is closed (_stop_accepting)
CLOSE_DELAY = 0.05
PLAIN_TEXT = ((b'Content-Type', b'text/plain; charset=utf-8'),
              (b'Cache-Control', b'no-store'))


class HTTPOut:
    """Serve a document root of scripts and static files on a tremolo app.

    Options read from `app.run(...)`: `document_root` (default: the working
    directory), `directory_index` (default `['index.py', 'index.html']`),
    `debug`, `thread_pool_size` (16), `ws`, `trusted_proxies`,
    `max_execution_time` (0: off), `access_log`, `log_format` ('text'),
    `client_max_body_size`, `health_path`, `metrics_path`, `slow_log`
    (docs/operations.md), `compress` (absent: static files' precompressed
    siblings only; True: pages too; False: nothing is sent compressed; see
    docs/compression.md), `session_store` (a URL; default:
    `session_stores.default_url`), `session_lifetime`, `session_cookie`,
    `session_lock_timeout`.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.document_root = ''
        self.routes = Routes('')
        self.runner: Optional[ScriptRunner] = None
        self.sessions: Optional[Sessions] = None
        self.logger: Any = None
        self.trusted_proxies = TrustedProxies()
        self.max_body_size = 0
        self.draining = False  # a stop signal came: no new requests
        self.access_log: Optional[AccessLog] = None
        self.static_options = StaticOptions()
        # the operator's URLs (--health-path, --metrics-path), by path
        self.endpoints: Dict[bytes, Callable[[Any, Any], Awaitable[int]]] = {}
        self.metrics: Optional[Metrics] = None
        self.slow_log: Optional[SlowLog] = None
        self.watcher: Optional[GlobalsWatcher] = None

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
        quiet_gc(self.logger)
        self.document_root = os.path.realpath(options.get('document_root', os.getcwd()))
        self.routes = Routes(self.document_root,
                             tuple(options.get('directory_index', ('index.py', 'index.html'))))
        # scripts expect relative paths to start at their folder, like PHP's
        os.chdir(self.document_root)
        # last, so that a page named like a module (json.py) never shadows it
        # for library code; scripts' local imports go through the hook anyway
        sys.path.append(self.document_root)

        self.trusted_proxies = TrustedProxies(options.get('trusted_proxies', ()))
        # before __globals__.py, whose middleware may use them
        self.sessions = self._open_sessions(options, worker['loop'])
        code_cache = CodeCache()
        importer = Importer(self.document_root, code_cache)
        importer.install()
        current.install()
        streams.install_switches()

        if options.get('warn_shadowing', True):
            self._warn_shadowing(importer)

        globals_module, globals_files = self._run_globals(code_cache)
        adapt_middlewares(self.app)
        self._stop_accepting_on_signals(worker['loop'])

        compress = options.get('compress')  # None: static siblings only (BREACH)
        self.static_options = StaticOptions(
            codings=tuple(SIBLINGS) if compress is not False else (),
            # tremolo applies its --download-rate in its send queue only
            zero_copy='download_rate' not in options)
        self.max_body_size = options.get('client_max_body_size', 2 * 1048576)
        wants_access_log = (options.get('access_log', True) and
                            options.get('log_level', 'INFO').upper() in ('DEBUG', 'INFO'))
        self.access_log = (AccessLog(worker['loop'],
                                     json_lines=options.get('log_format') == 'json')
                           if wants_access_log else None)
        self.runner = ScriptRunner(
            app=self.app, loop=worker['loop'], document_root=self.document_root,
            thread_pool_size=options.get('thread_pool_size', 16),
            debug=options.get('debug', False), logger=self.logger,
            globals_module=globals_module,
            trusted_proxies=self.trusted_proxies,
            websocket_enabled=options.get('ws', True),
            software='httpout/%s' % __version__, code_cache=code_cache,
            sessions=self.sessions,
            max_execution_time=options.get('max_execution_time', 0),
            page_coding=PageCoding() if compress is True else None,
        )
        self._start_operations(worker['loop'], options, globals_files)
        self.logger.debug('httpout %s: document root %s', __version__, self.document_root)

    def _warn_shadowing(self, importer: Importer) -> None:
        shadowing = shadowing_files(self.document_root, importer)

        if shadowing:
            self.logger.warning(shadowing_warning(shadowing))

    def _open_sessions(self, options: dict, loop: Any) -> Sessions:
        """The worker's sessions; the store is connected on first use."""
        url = options.get('session_store')
        store = open_store(url or default_url(self.document_root),
                           options.get('session_lifetime', DEFAULT_LIFETIME),
                           default=url is None)
        self.logger.debug('sessions: %s', store.url)
        return Sessions(store, loop=loop, logger=self.logger,
                        trusted_proxies=self.trusted_proxies,
                        cookie_name=options.get('session_cookie', DEFAULT_COOKIE),
                        lock_timeout=options.get('session_lock_timeout',
                                                 DEFAULT_LOCK_TIMEOUT))

    def _start_operations(self, loop: Any, options: dict, globals_files: List[str]) -> None:
        """What the operator asked for: docs/operations.md."""
        assert self.runner is not None

        if options.get('health_path'):
            self.endpoints[options['health_path'].encode()] = self._health

        if options.get('metrics_path'):
            self.metrics = Metrics(loop, self.runner, self.trusted_proxies)
            self.endpoints[options['metrics_path'].encode()] = self._metrics

        if options.get('slow_log'):
            self.slow_log = SlowLog(loop, self.runner, options['slow_log'], self.logger)

        if options.get('reload_watch'):  # supervisor.py chooses the one worker
            self.watcher = GlobalsWatcher(loop, globals_files, self.logger)

    def _run_globals(self, code_cache: CodeCache) -> Tuple[ModuleType, List[str]]:
        """Run `__globals__.py` once for this worker, as module `__globals__`.
        Returns it, and the files it is made of (itself, and the local
        modules it imported)."""
        path = os.path.join(self.document_root, GLOBALS_FILE)
        scope = Scope(names={}, virtual={'app': self.app, 'sessions': self.sessions})
        module = scope.new_main(path, name='__globals__')
        scope.names['__globals__'] = scope.virtual['__globals__'] = module
        scope.virtual['modules'] = scope.modules
        # one per worker, so pickle and friends may find its classes by name
        sys.modules['__globals__'] = module

        if os.path.isfile(path):
            exec(code_cache.get(path), module.__dict__)  # nosec B102: trusted code
            self.logger.debug('ran %s', path)

        return module, [path] + [m.__file__ for m in scope.modules.values()
                                 if m is not module and m.__file__]

    def _stop_accepting_on_signals(self, loop: Any) -> None:
        """On SIGTERM/SIGINT, stop accepting connections at once, while the
        requests in flight finish within --shutdown-timeout.

        tremolo closes its listening socket only after that grace period, so
        the server it creates is captured here (after this hook, the same
        worker start calls loop.create_server) and closed from the signal
        handler, in front of tremolo's own. Requests that still come, on
        connections already open, are answered and their connections closed
        (a reload must not fail them). Where the loop does not allow closing
        the server (uvloop), the worker keeps accepting until tremolo stops
        it, and answers those the same way.

        tremolo's own stop closes a keep-alive connection as soon as its
        request is answered, which races with the client's next request on
        it (the client sees a reset). So it is called only once the
        keep-alive connections are gone (each closes after its next
        answer), or after LINGER, when the ones still idle are closed
        (tremolo would keep them until half the --shutdown-timeout)."""
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
                if self.draining or not callable(tremolo_handler):  # a second signal
                    if callable(tremolo_handler):
                        tremolo_handler(signum, frame)
                    return

                self.draining = True

                for server in listeners:
                    _stop_accepting(loop, server)

                for job in self.runner.jobs if self.runner else ():
                    # in flight: close after it, unless its headers said
                    # keep-alive already (the client may be sending again)
                    if not job.response.headers_sent():
                        job.request.http_keepalive = False

                loop.create_task(self._linger(loop, lambda: tremolo_handler(signum, frame)))

            signal.signal(signum, handler)

    async def _linger(self, loop: Any, stop: Callable[[], None]) -> None:
        deadline = loop.time() + LINGER
        connections = self.app.context.connections  # tremolo's keep-alive ones

        while connections and loop.time() < deadline:
            await asyncio.sleep(0.02)

        for protocol in list(connections):
            if protocol.request is None:  # idle since LINGER: tremolo would wait for it
                protocol.close()

        stop()

    async def _worker_stop(self, **_: Any) -> None:
        for part in (self.metrics, self.slow_log, self.watcher):
            if part is not None:
                part.close()

        if self.runner is not None:
            self.runner.shutdown()

        if self.sessions is not None:
            self.sessions.shutdown()

    # --- requests ------------------------------------------------------------

    async def _handle(self, request, response) -> None:
        started = time.perf_counter()

        if self.draining:  # answered, then its connection closes
            request.http_keepalive = False

        if self.endpoints and request.path in self.endpoints:
            size: Optional[int] = await self.endpoints[request.path](request, response)
            self._log_access(request, response, size, started)
            return

        route = self.routes.resolve(request.path.decode('latin-1'))

        if request.transfer_encoding not in ([], [b'chunked']):
            # RFC 9112 section 6.3: chunked must be the last and only coding we
            # read; anything else cannot be framed and is how requests are smuggled
            route = Refusal(400, 'Unsupported Transfer-Encoding', 'transfer-encoding')
        elif isinstance(route, Script) and request.content_length > self.max_body_size:
            # refused before the script runs, so it never sees a cut body
            route = Refusal(413, 'Payload Too Large', 'body-too-large')

        if isinstance(route, Script):
            assert self.runner is not None
            kind = 'script'
            size = await self.runner.run(route, request, response, request.protocol)
        elif isinstance(route, StaticFile):
            kind = 'static'
            size = await send_static(route, request, response, self.static_options)
        elif isinstance(route, Redirect):
            kind = 'redirect'
            location = route.location

            if request.query_string:
                location += '?' + request.query_string.decode('latin-1')

            size = await self._send_page(request, response, 301, b'',
                                         (b'Location', location.encode('latin-1')))
        else:
            kind = 'refused'
            size = await self._refuse(request, response, route)

        if self.metrics is not None:
            self.metrics.count(kind, response.get_status()[0],
                               time.perf_counter() - started)

        self._log_access(request, response, size, started)

    def _log_access(self, request, response, size: Optional[int], started: float) -> None:
        if self.access_log is not None:
            self.access_log.log(request, self.trusted_proxies.remote_addr(request),
                                response.get_status()[0], size,
                                time.perf_counter() - started)

    async def _refuse(self, request, response, refusal: Refusal) -> int:
        self._log_refusal(request, refusal)
        return await self._send_page(request, response, refusal.status,
                                     refusal_page(refusal.status, refusal.reason))

    async def _health(self, request, response) -> int:
        """--health-path: 200 while serving, 503 once a stop signal came."""
        status, body = (503, b'stopping\n') if self.draining else (200, b'ok\n')
        return await self._send_page(request, response, status, body, *PLAIN_TEXT)

    async def _metrics(self, request, response) -> int:
        """--metrics-path, for the addresses allowed (metrics.py)."""
        assert self.metrics is not None

        if not self.metrics.allowed(request):
            return await self._refuse(request, response,
                                      Refusal(403, 'Forbidden', 'metrics-peer'))

        return await self._send_page(request, response, 200, self.metrics.scrape(),
                                     (b'Content-Type', CONTENT_TYPE),
                                     (b'Cache-Control', b'no-store'))

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


def _stop_accepting(loop: Any, server: Any) -> None:
    """Stop accepting at once; close the server a moment later. A connection
    accepted just before must first be attached to the server, which asyncio
    refuses (an assertion, and the client's connection is dropped) once the
    server is closed; its attaching waits for the loop's next turn."""
    for sock in server.sockets:
        loop.remove_reader(sock.fileno())  # asyncio's accept; uvloop has none

    loop.call_later(CLOSE_DELAY, server.close)


def shadowing_warning(files: Sequence[str]) -> str:
    return ('%s: named like installed or standard modules, which always win: '
            '"import" gives those, never these files (as pages they run as usual)'
            % ', '.join(files))
