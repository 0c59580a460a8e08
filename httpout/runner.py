"""Running a script: one request, one fresh `__main__`, one pool thread.

The path of a script request, top to bottom in this file:
1. `ScriptRunner.run()` (event loop) builds the request's objects: the
   `__server__` dict, `request`, `response`, the output stream, the
   WebSocket if the client asked for one, and the `Scope` of names.
2. `_execute()` runs the module on a thread of the worker's own pool
   (`threads.ScriptThreads`: one shared queue, so N blocking scripts on N
   threads run at the same time).
3. Back on the loop, `run()` waits for every coroutine the script started
   with `run()`, then ends the response, or sends the error page.
4. The request's module namespaces are cleared so memory is returned.

Errors (SPEC section 7): an exception before the script wrote anything
gives a 500 page (the traceback only with --debug) that keeps the headers
request middleware set; once it has written, flushed or not, its status,
headers and output stand, the traceback is appended with --debug and the
connection is closed. Either way the traceback is logged with the request
line. The script's thread runs with `current.CURRENT` set to its job, which
is how its standard streams (streams.py) and `sys.modules` (imports.py)
find the request. `exit()` ends a script
normally: `exit('text')` writes the text, `exit(0)` writes nothing.
"""
from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextvars
import logging
import os
import threading
from typing import Any, List, Optional, Set

from tremolo.exceptions import HTTPException

from .compression import PageCoding
from .current import CURRENT
from .errors import debug_fragment, debug_page, error_page, refusal_page
from .imports import CodeCache, Scope
from .output import ClientDisconnected, FlushClock, HTTPWriter, OutputStream
from .requests import Request, TrustedProxies, build_environ
from .responses import Response
from .router import Script
from .sessions import Sessions
from .streams import ScriptStreams, restore_switches
from .threads import ScriptThreads, raise_in_thread
from .websockets import websocket_for

__all__ = ('ExecutionTimeExceeded', 'ScriptRunner')

# After --max-execution-time, how long a stopped script may take to notice.
STOP_GRACE = 1.0


class ExecutionTimeExceeded(BaseException):
    """Raised inside a script that ran longer than --max-execution-time.
    A BaseException, like SystemExit, so that `except Exception` in the
    script does not swallow it."""

    def __init__(self, message: str = 'the script exceeded --max-execution-time') -> None:
        super().__init__(message)


class _Reraise:
    """An exception a coroutine may not raise on the loop, carried to wait()."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Job:
    """One execution of one script, and the built-ins bound to it."""

    def __init__(self, runner: ScriptRunner, script: Script, request, response,
                 protocol) -> None:
        self.runner = runner
        self.loop = runner.loop
        self.loop_thread = runner.loop_thread
        self.script = script
        self.request = request  # tremolo's
        self.environ = build_environ(
            request, script, document_root=runner.document_root,
            trusted_proxies=runner.trusted_proxies, software=runner.software)
        self.tremolo_response = response
        # what request middleware set stays on an error page (SPEC section 7)
        self.middleware_headers = {name: list(values)
                                   for name, values in response.headers.items()}
        self.writer = HTTPWriter(protocol, request, response, coding=runner.page_coding)
        self.stream = OutputStream(self.loop, self.writer)
        self.response = Response(response, self.writer, self.stream)
        self.websocket = websocket_for(request, response, runner.websocket_enabled)
        # lazy: no store call and no cookie unless the script uses it
        self.sessions = runner.sessions
        self.session = runner.sessions.session(
            request, self.environ['REQUEST_SCHEME'] == 'https',
            self.response.append_header, self.response.headers_sent)
        self.pending: Set[concurrent.futures.Future] = set()  # run() coroutines
        self.waiting: Set[concurrent.futures.Future] = set()  # wait() coroutines
        self.errors: List[BaseException] = []
        self.thread_id: Optional[int] = None  # while the script's thread runs it
        # guarded by thread_lock: a pool thread is in _execute() for this job;
        # the loop, done with the job first, leaves its release to that thread
        self.on_thread = False
        self.release_on_thread_exit = False
        self.threads: Set[int] = set()  # threads the script started, while they run
        self._streams: Optional[ScriptStreams] = None
        self.thread_lock = threading.Lock()
        self.timed_out = False
        self.given_up: Optional[asyncio.Future] = None  # set when its thread is abandoned
        self.request_object = Request(request, self.environ)
        self.scope = Scope(
            names={'print': self.print, 'run': self.run, 'wait': self.wait,
                   'exit': self.exit, 'quit': self.exit,
                   '__server__': self.environ, '__globals__': runner.globals_module},
            virtual={'request': self.request_object,
                     'response': self.response, 'websocket': self.websocket,
                     'print': self.print, 'run': self.run, 'wait': self.wait,
                     'context': protocol.context, '__server__': self.environ,
                     '__globals__': runner.globals_module, 'app': runner.app,
                     'session': self.session, 'sessions': runner.sessions},
        )
        self.scope.virtual['modules'] = self.scope.modules
        self.scope.new_main(script.path)

    # --- built-ins -----------------------------------------------------------

    def print(self, *args: Any, sep: Optional[str] = ' ', end: Optional[str] = '\n',
              file: Any = None, flush: bool = False) -> None:
        """print() to the response; with `file=` it is the ordinary print."""
        # one string per call is how pages print, line by line: the fast case
        if (len(args) == 1 and type(args[0]) is str and type(end) is str and
                file is None and self.websocket is None and not flush and
                self._streams is None):
            self.stream.write((args[0] + end).encode())
            return

        if file is None and self._streams is not None and 'stdout' in self._streams.redirected:
            file = self._streams.redirected['stdout']  # redirect_stdout() applies

            if file is None:  # redirect_stdout(None): print() writes nothing
                return

        if file is not None:
            builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
            return

        text = (' ' if sep is None else sep).join(map(str, args))
        self.write_output((text + ('\n' if end is None else end)).encode())

        if flush:
            self.stream.flush()

    def write_output(self, data: bytes) -> None:
        """Body bytes from print() or sys.stdout, from any thread."""
        if self.websocket is not None and self.request.upgraded:
            raise RuntimeError('print() has no response to write to after a '
                               'WebSocket upgrade: use websocket.send()')

        self.stream.write(data)

    @property
    def streams(self) -> ScriptStreams:
        """sys.stdout, sys.stdin and sys.stderr of this request (made at
        first use: most pages never touch them)."""
        if self._streams is None:
            self._streams = ScriptStreams(
                write=self.write_output, flush=self.stream.flush,
                read_body=self._read_body, logger=self.runner.logger,
                request_line=lambda: self.runner.request_line(self))

        return self._streams

    def _read_body(self) -> bytes:
        if threading.get_ident() == self.loop_thread:
            raise RuntimeError('sys.stdin cannot be read in a coroutine: it would '
                               'block the event loop; use "await request.body()"')

        return self.wait(self.request_object.body())

    def run(self, coro) -> concurrent.futures.Future:
        """Schedule a coroutine on the server's loop; the response waits for it."""
        future = asyncio.run_coroutine_threadsafe(self._guard(coro, True), self.loop)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)
        return future

    def wait(self, coro, timeout: Optional[float] = None) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        if threading.get_ident() == self.loop_thread:
            raise RuntimeError('wait() would block the event loop; '
                               'inside a coroutine use "await" instead')

        future = asyncio.run_coroutine_threadsafe(self._guard(coro, False), self.loop)
        self.waiting.add(future)

        try:
            result = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise
        finally:
            self.waiting.discard(future)

        if isinstance(result, _Reraise):
            raise result.exc

        return result

    async def _guard(self, coro, is_run: bool) -> Any:
        try:
            return await coro
        except (SystemExit, KeyboardInterrupt) as exc:
            # raised out of a task, these would stop the server's event loop
            if not is_run:
                return _Reraise(exc)  # wait() raises it on the script's thread

            if isinstance(exc, SystemExit):
                self.write_exit_text(exc)
            else:
                self.errors.append(exc)
        except BaseException as exc:
            if self.stream.aborted:
                # the client is gone and the script's future was cancelled:
                # nobody will read this, so asyncio must not report it either
                return None

            if is_run:
                self.errors.append(exc)

            raise

    @staticmethod
    def exit(status: Any = None) -> None:
        """End the script normally (the site module's exit() would close stdin)."""
        raise SystemExit(status)

    def write_exit_text(self, exc: SystemExit) -> None:
        if exc.code is not None and not isinstance(exc.code, int):
            try:
                self.print(exc.code, end='')
            except ClientDisconnected:
                pass

    # --- lifecycle -----------------------------------------------------------

    def end_session(self) -> None:
        error = self.sessions.end_now(self.session)

        if error is not None:
            self.errors.append(error)

    def release(self) -> None:
        """The request is over: break the reference cycles through its module
        namespaces and its streams (which call back into the job), so that
        reference counting frees it without waiting for the collector. A
        thread the script left running that writes later gets new streams,
        whose writes fail: the response has ended."""
        self.scope.clear()
        self._streams = None
        self.sessions.end_later(self.session)  # a cancelled request's session

    def abort(self) -> None:
        """The connection was lost: stop output and the request's coroutines."""
        self.stream.abort()
        self.cancel_coroutines()

    def cancel_coroutines(self) -> None:
        for future in list(self.pending) + list(self.waiting):
            future.cancel()

    def stop(self) -> Optional[int]:
        """Past the time limit: raise in the script's thread and cancel its
        coroutines. Returns the id of the thread, if it still runs the job."""
        with self.thread_lock:
            thread_id = self.thread_id

            if thread_id is not None:
                raise_in_thread(thread_id, ExecutionTimeExceeded)

        self.cancel_coroutines()

        return thread_id

    async def wait_pending(self) -> None:
        while self.pending:
            await asyncio.wait([asyncio.wrap_future(future, loop=self.loop)
                                for future in list(self.pending)])

    def first_error(self) -> Optional[BaseException]:
        for exc in self.errors:
            if not isinstance(exc, (ClientDisconnected, asyncio.CancelledError)):
                return exc

        return None


def _client_error(exc: BaseException) -> bool:
    """Did the script fail because of the client's request (reading a body
    too large, a malformed form), or because a service it needs is down
    (the session store: 503), rather than by a fault of its own?"""
    return isinstance(exc, HTTPException) and (400 <= exc.code < 500 or exc.code == 503)


class ScriptRunner:
    """Runs scripts for one worker process: its thread pool and code cache."""

    def __init__(self, *, app, loop: asyncio.AbstractEventLoop, document_root: str,
                 thread_pool_size: int, debug: bool, logger: logging.Logger,
                 globals_module: Any, trusted_proxies: TrustedProxies,
                 websocket_enabled: bool, software: str,
                 code_cache: CodeCache, sessions: Sessions,
                 max_execution_time: float = 0,
                 page_coding: Optional[PageCoding] = None) -> None:
        self.app = app
        self.loop = loop
        self.loop_thread = threading.get_ident()  # built on the loop's thread
        self.document_root = document_root
        self.debug = debug
        self.logger = logger
        self.globals_module = globals_module
        self.trusted_proxies = trusted_proxies
        self.websocket_enabled = websocket_enabled
        self.software = software
        self.code_cache = code_cache
        self.max_execution_time = max_execution_time
        self.page_coding = page_coding  # None: pages are sent uncompressed
        self.sessions = sessions
        self.threads = ScriptThreads(thread_pool_size)
        self.flush_clock = FlushClock(loop)
        # for the operator (metrics.py, slowlog.py): the jobs in progress,
        # and how many scripts failed or were stopped, counted on the loop
        self.jobs: Set[Job] = set()
        self.script_errors = 0
        self.time_exceeded = 0

    def shutdown(self) -> None:
        self.threads.shutdown()

    async def run(self, script: Script, request, response, protocol) -> int:
        """Run `script` for this request; returns the body size sent."""
        job = Job(self, script, request, response, protocol)
        self.jobs.add(job)
        protocol.add_close_callback(job.abort)
        job.stream.delay_first_flush(self.flush_clock)
        thread_job = self.threads.submit(self.loop, self._execute, job)

        try:
            if self.max_execution_time > 0:
                error = await self._wait_with_limit(job, thread_job)
            else:
                error = await thread_job

            if error is not None:
                job.errors.insert(0, error)

            await job.wait_pending()
            error = await self.sessions.end(job.session)  # saved before the response ends

            if error is not None:
                job.errors.append(error)

            await self._finish(job)
            return job.writer.body_bytes
        except asyncio.CancelledError:
            # tremolo's handler timeout or shutdown: stop the script's output
            job.abort()
            raise
        finally:
            self.jobs.discard(job)
            protocol.context.tasks.discard(job.abort)

            # awaited without asyncio.shield() (a future and a loop turn less
            # per request), a cancelled wait cancels `thread_job` too: whether
            # a thread still works on the job is asked of the job itself
            with job.thread_lock:
                job.release_on_thread_exit = job.on_thread

            if not job.release_on_thread_exit:
                job.release()

    async def _wait_with_limit(self, job: Job, thread_job: asyncio.Future
                               ) -> Optional[BaseException]:
        """Wait for the script's thread; the clock that stops it at
        --max-execution-time starts when the script starts (`_start_clock`),
        so that time spent waiting for a free thread does not count."""
        job.given_up = self.loop.create_future()
        await asyncio.wait((thread_job, job.given_up),
                           return_when=asyncio.FIRST_COMPLETED)
        job.given_up.cancel()  # stops the clock if the script ended in time
        error = None

        if thread_job.done():
            error = thread_job.exception() or thread_job.result()

        if job.timed_out and not isinstance(error, ExecutionTimeExceeded):
            return ExecutionTimeExceeded()

        return error

    def _start_clock(self, job: Job) -> None:
        clock = self.loop.call_later(self.max_execution_time, self._time_up, job)
        # `given_up` is done (or cancelled) once the runner stops waiting
        job.given_up.add_done_callback(lambda _: clock.cancel())  # type: ignore[union-attr]

    def _time_up(self, job: Job) -> None:
        if job.thread_id is None:
            return

        job.timed_out = True
        self.time_exceeded += 1
        self.logger.error('%s: stopped after --max-execution-time %gs',
                          self.request_line(job), self.max_execution_time)
        self.loop.create_task(self._stop(job))

    async def _stop(self, job: Job) -> None:
        """Raise ExecutionTimeExceeded in the script until it lets go; a
        thread blocked in a system call is abandoned after STOP_GRACE."""
        deadline = self.loop.time() + STOP_GRACE

        while self.loop.time() < deadline:
            if job.stop() is None:
                return

            await asyncio.sleep(0.1)

        thread_id = job.thread_id

        if thread_id is not None:
            self.threads.replace(thread_id)

            if job.given_up is not None and not job.given_up.done():
                job.given_up.set_result(None)

    def _execute(self, job: Job) -> Optional[BaseException]:
        """On a pool thread: run the script's module. Returns its exception."""
        with job.thread_lock:
            if job.stream.aborted or job.release_on_thread_exit:
                return None  # the client left while the job waited for a thread

            job.on_thread = True
            job.thread_id = threading.get_ident()

        try:
            return self._execute_on_thread(job)
        finally:
            with job.thread_lock:
                job.on_thread = False
                release = job.release_on_thread_exit

            if release:  # the loop has finished with the request already
                try:
                    self.loop.call_soon_threadsafe(job.release)
                except RuntimeError:  # the loop has closed: the worker is exiting
                    pass

    def _execute_on_thread(self, job: Job) -> Optional[BaseException]:
        """The script itself, then what its thread tidies up after it."""
        job.stream.script_started()

        if self.max_execution_time > 0:
            self.loop.call_soon_threadsafe(self._start_clock, job, context=contextvars.Context())

        # sys.stdout, threads, pickle... see the request from here (current.py)
        current = CURRENT.set(job)

        try:
            exec(self.code_cache.get(job.script.path, job.script.stat),  # nosec B102: trusted scripts
                 job.scope.main.__dict__)
        except SystemExit as exc:
            job.write_exit_text(exc)
        except BaseException as exc:
            tb = exc.__traceback__
            # drop this frame: the traceback should start in the script
            return exc.with_traceback(tb.tb_next if tb and tb.tb_next else tb)
        finally:
            CURRENT.reset(current)

            with job.thread_lock:
                job.thread_id = None

            if job._streams is not None:
                job._streams.close()

            if os.getcwd() != self.document_root:
                # the working directory is the whole process's, not the script's
                self.logger.warning('%s: the script changed the working directory; '
                                    'it is set back to the document root',
                                    self.request_line(job))
                os.chdir(self.document_root)

            for name in restore_switches():
                self.logger.warning('%s: the script replaced sys.%s for the whole '
                                    'process; it is put back (contextlib.redirect_%s() '
                                    'redirects one request only)',
                                    self.request_line(job), name, name)

            if not job.pending:
                # nothing else can use the session now: save it on this
                # thread, which spares the loop a trip to a session thread
                job.end_session()
                job.stream.hold()

        return None

    async def _finish(self, job: Job) -> None:
        if job.request.upgraded:  # a WebSocket session has no HTTP response to end
            job.request.http_keepalive = False
            self._log_error(job, job.first_error())
            return

        if job.stream.aborted:
            self.logger.info('%s: client disconnected', self.request_line(job))
            return

        exc = job.first_error()

        if exc is None:
            await job.stream.close()
            return

        if _client_error(exc) and not job.stream.written:
            # a store that is down is for the operator to see, a client's mistake is not
            level = logging.ERROR if getattr(exc, 'code', 0) >= 500 else logging.INFO
            self.logger.log(level, '%s: %s', self.request_line(job), exc)
        else:
            self._log_error(job, exc)

        await job.stream.settle()

        try:
            if not job.stream.written:
                await self._send_error_page(job, exc)
            else:
                if self.debug:
                    await job.stream.awrite(debug_fragment(exc))

                await job.stream.close(keepalive=False)
        except ClientDisconnected:
            pass

    async def _send_error_page(self, job: Job, exc: BaseException) -> None:
        request = job.request
        response = job.tremolo_response
        # what the script set (cookies included) does not belong on an error
        # page; what request middleware set does
        response.headers.clear()
        response.headers.update(job.middleware_headers)
        response.set_content_type(b'text/html; charset=utf-8')

        if _client_error(exc):  # e.g. a body over --client-max-body-size
            assert isinstance(exc, HTTPException)
            response.set_status(exc.code, exc.message.encode())
            body = refusal_page(exc.code, exc.message)
        else:
            response.set_status(500, b'Internal Server Error')
            body = (debug_page(exc, request.method, request.url, request.headers)
                    if self.debug else error_page())

        await job.writer.end(True, body)

    def request_line(self, job: Job) -> str:
        environ = job.environ
        return '%s %s %s' % (environ['REMOTE_ADDR'], environ['REQUEST_METHOD'],
                             environ['REQUEST_URI'])

    def _log_error(self, job: Job, exc: Optional[BaseException]) -> None:
        if exc is None:
            return

        self.script_errors += 1
        self.logger.error('%s: script error', self.request_line(job), exc_info=exc,
                          extra={'http': {  # for --log-format json
                              'remote_addr': job.environ['REMOTE_ADDR'],
                              'request': '%(REQUEST_METHOD)s %(REQUEST_URI)s' % job.environ}})
