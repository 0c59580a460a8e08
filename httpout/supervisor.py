"""The main process, when httpout runs worker processes: it owns the
listening sockets and the workers, and restarts them on SIGHUP.

Rules this module owns:

- Sockets are made here, once, before any worker starts, and all workers of
  an address accept from that one socket (not from an SO_REUSEPORT socket
  each, tremolo's default): a worker that stops leaves the connections
  waiting in the queue to the others, so a restart refuses nobody.
- SIGHUP is a graceful reload. The workers are replaced one after another:
  a new worker starts and, once it serves (its start, `__globals__.py`
  included, is done), the old one gets SIGTERM, stops accepting and finishes
  its requests. A new worker that fails to start ends the reload, logged;
  the old workers keep serving. A SIGHUP during a reload starts it over.
- SIGTERM and SIGINT stop the server: the sockets close at once (new
  connections are refused), every worker gets SIGTERM and finishes its
  requests within --shutdown-timeout; then the main process exits 0.
- A worker that exits on its own (a crash, --limit-memory) is replaced,
  unless it never got to serve at all: a worker that cannot start (an error
  in `__globals__.py`) stops the server at start, with exit status 1.
- With --metrics-path, the workers' metric files live in a fresh directory
  (PROMETHEUS_MULTIPROC_DIR), made here before the first worker and removed
  at exit; a dead worker's gauges are dropped there (metrics.py).
- With --reload, one worker at a time watches the files (watch.py) and asks
  for a reload with SIGHUP to this process.

A worker is tremolo's own worker process body (`Application._worker`) run in
a forked child, with the shared socket; it reports that it serves by writing
its pid to a pipe, and ends by itself if this process dies.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any, Dict, List, Optional, Tuple

from .metrics import forget_worker

__all__ = ('Supervisor',)

Address = Tuple[str, Optional[int]]
# tremolo runs worker_start hooks in order of priority, 999 by default:
# this one comes after httpout's and after any __globals__.py adds
READY_PRIORITY = 10 ** 9
# after --shutdown-timeout, how long the workers get before SIGKILL
KILL_MARGIN = 5.0


@dataclass(eq=False)
class Worker:
    process: BaseProcess
    address: Address
    watch: bool  # --reload: this one watches the files
    ready: bool = False
    retiring: bool = False  # sent SIGTERM by a reload: not to be replaced


class Supervisor:
    """The main process's job: `run()` serves until stopped, see above."""

    def __init__(self, app: Any, addresses: List[Address], options: Dict[str, Any],
                 logger: logging.Logger) -> None:
        self.app = app
        self.addresses = addresses
        self.options = dict(options)
        self.watch = bool(self.options.pop('reload', False))
        self.logger = logger
        count = self.options.pop('worker_num')
        self.count = count if count > 0 else (os.cpu_count() or 1)
        self.workers: Dict[int, Worker] = {}  # by pid
        self.sockets: Dict[Address, socket.socket] = {}
        self.signals: List[int] = []
        self.replacing: List[Worker] = []  # a reload's old workers still to replace
        self.incoming: Optional[Worker] = None  # the new worker a reload waits for
        self.incoming_for: Optional[Worker] = None  # the old one it replaces
        self.stopping = False
        self.kill_at = 0.0
        self.failed = False
        self.ctx = multiprocessing.get_context('fork')
        self.ready_r, self.ready_w = os.pipe()
        # only this process holds the write end: EOF tells a worker it is gone
        self.lifeline_r, self.lifeline_w = os.pipe()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_w.setblocking(False)
        self.metrics_dir: Optional[str] = None

    # --- the main loop --------------------------------------------------------

    def run(self) -> None:
        if self.options.get('metrics_path'):
            # before any worker, so that each of them finds it
            self.metrics_dir = tempfile.mkdtemp(prefix='httpout-metrics-')
            os.environ['PROMETHEUS_MULTIPROC_DIR'] = self.metrics_dir

        # tremolo's cross-worker locks (request.protocol.lock), as its run() makes
        self.options['_locks'] = [self.ctx.Lock() for _ in
                                  range(self.options.get('thread_pool_size', 5))]
        self._catch_signals()
        self._log_internals()

        try:
            for address in self.addresses:
                try:
                    self.sockets[address] = self._listening_socket(address)
                except OSError as exc:  # e.g. the port is taken: one line, no traceback
                    self.logger.error('cannot listen on %s: %s', _where(address),
                                      exc.strerror or exc)
                    raise SystemExit(1) from None

            for address in self.addresses:
                for _ in range(self.count):
                    self._spawn(address, watch=self.watch and not self.workers)

            while self.workers:
                self._step()
        finally:
            self._close_sockets()

            if self.metrics_dir is not None:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)

        if self.failed:
            raise SystemExit(1)

    def _listening_socket(self, address: Address) -> socket.socket:
        host, port = address

        if port is not None:
            return self.app.create_sock(host, port, reuse_port=False)

        # tremolo's create_sock() would first look the path up as a host
        # name, which fails for a long one
        if os.path.exists(host) and stat.S_ISSOCK(os.stat(host).st_mode):
            os.unlink(host)  # left by a server that did not stop cleanly

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind(host)
        return sock

    def _log_internals(self) -> None:
        """What tremolo's run() prints at start, for --log-level debug."""
        for routes in self.app.routes.values():
            for pattern, func, _, _ in routes:
                if func is not None:
                    self.logger.debug('tremolo route: %s -> %s', pattern, func.__name__)

        self.logger.debug('tremolo options: %s', ', '.join(
            '%s=%r' % item for item in self.options.items() if item[0] != '_locks'))

    def _step(self) -> None:
        """Wait for something to happen, and act on it."""
        waiting = {w.process.sentinel: w for w in self.workers.values()}
        timeout = max(0.0, self.kill_at - time.monotonic()) if self.stopping else None
        readable = multiprocessing.connection.wait(
            [*waiting, self.ready_r, self.wake_r], timeout)

        if self.wake_r in readable:
            self.wake_r.recv(4096)

        if self.ready_r in readable:
            for pid in os.read(self.ready_r, 4096).split():
                self._ready(int(pid))

        for fd in readable:
            if fd in waiting:
                self._exited(waiting[fd])

        while self.signals:
            signum = self.signals.pop(0)

            if signum == signal.SIGHUP:
                self._reload()
            else:
                self._stop()

        if self.stopping and time.monotonic() >= self.kill_at:
            for worker in self.workers.values():
                self.logger.error('worker pid %d did not stop in time: killed',
                                  worker.process.pid)
                worker.process.kill()

    def _catch_signals(self) -> None:
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda signum, _: self.signals.append(signum))

    # --- workers --------------------------------------------------------------

    def _spawn(self, address: Address, watch: bool) -> Worker:
        process = self.ctx.Process(target=self._work, args=(address, watch),
                                   name='httpout-worker')
        process.start()
        worker = Worker(process, address, watch)
        self.workers[process.pid] = worker  # type: ignore[index]
        return worker

    def _work(self, address: Address, watch: bool) -> None:
        """The body of a worker process."""
        os.close(self.lifeline_w)
        threading.Thread(target=_exit_with_parent, args=(self.lifeline_r,),
                         daemon=True).start()
        signal.set_wakeup_fd(-1)
        # until tremolo sets its own: a stop while the worker starts ends it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # only the main process reloads
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

        async def ready(**worker: Any) -> None:
            # the next turn of the loop is the server's first: it is accepting
            worker['loop'].call_soon(os.write, self.ready_w, b'%d\n' % os.getpid())

        self.app.add_hook(ready, 'worker_start', READY_PRIORITY)
        host, port = address
        self.app._worker(host, port, sock=self.sockets[address],
                         reload_watch=watch, **self.options)

    def _ready(self, pid: int) -> None:
        worker = self.workers.get(pid)

        if worker is None:
            return

        worker.ready = True

        if worker is self.incoming and self.incoming_for is not None:
            old = self.incoming_for
            old.retiring = True
            _signal(old, signal.SIGTERM)  # it stops accepting and drains

            if old in self.replacing:  # named again by a second SIGHUP
                self.replacing.remove(old)

            self.incoming = self.incoming_for = None
            self._replace_next()

    def _exited(self, worker: Worker) -> None:
        process = worker.process
        process.join()
        del self.workers[process.pid]  # type: ignore[arg-type]

        if self.metrics_dir is not None:
            forget_worker(process.pid, self.metrics_dir)  # type: ignore[arg-type]

        if self.stopping or worker.retiring:
            return

        if worker is self.incoming:
            self.logger.error('reload stopped: a new worker %s before it served; '
                              'the others keep serving', _ended(process))
            self.incoming = self.incoming_for = None
            self.replacing.clear()
            return

        if not worker.ready:
            self.logger.error('a worker %s before it served: stopping',
                              _ended(process))
            self.failed = True
            self._stop()
            return

        self.logger.error('worker pid %d %s: starting another', process.pid,
                          _ended(process))
        self._spawn(worker.address, worker.watch)

    # --- reload and stop ------------------------------------------------------

    def _reload(self) -> None:
        if self.stopping:
            return

        self.logger.info('reload: restarting the workers one after another')
        self.replacing = [w for w in self.workers.values()
                          if not w.retiring and w is not self.incoming]

        if self.incoming is None:
            self._replace_next()

    def _replace_next(self) -> None:
        """Start the replacement of the next old worker still serving."""
        while self.replacing:
            old = self.replacing.pop(0)

            if old.process.pid in self.workers and not old.retiring:
                self.incoming = self._spawn(old.address, old.watch)
                self.incoming_for = old
                return

        self.logger.info('reload: done')

    def _stop(self) -> None:
        if self.stopping:
            return

        self.stopping = True
        self.kill_at = (time.monotonic() + KILL_MARGIN +
                        self.options.get('shutdown_timeout', 30))
        self.replacing.clear()
        # refuse new connections at once, while the requests in flight finish
        self._close_sockets()

        for worker in self.workers.values():
            _signal(worker, signal.SIGTERM)

    def _close_sockets(self) -> None:
        """Close this process's copies of the sockets; each worker closes its
        own as it stops (a shutdown() here would break their accept())."""
        for (path, port), sock in self.sockets.items():
            sock.close()

            if port is None:  # a Unix socket's file
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

        self.sockets.clear()


def _where(address: Address) -> str:
    host, port = address
    return host if port is None else '%s port %d' % (host, port)


def _ended(process: BaseProcess) -> str:
    """'exited with status 1', 'was killed by SIGKILL'."""
    code = process.exitcode or 0

    if code < 0:
        return 'was killed by %s' % signal.Signals(-code).name

    return 'exited with status %d' % code


def _signal(worker: Worker, signum: int) -> None:
    try:
        os.kill(worker.process.pid, signum)  # type: ignore[arg-type]
    except ProcessLookupError:  # exited already; its sentinel will say so
        pass


def _exit_with_parent(lifeline: int) -> None:
    """In a worker: stop gracefully when the main process is gone."""
    try:
        os.read(lifeline, 1)  # EOF: the only writer has exited
    except OSError:
        pass

    os.kill(os.getpid(), signal.SIGTERM)
