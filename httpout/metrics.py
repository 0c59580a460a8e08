"""Prometheus metrics, served at --metrics-path in the text format.

Rules this module owns:

- Only the loopback addresses and the --trusted-proxy peers may read them,
  others get 403. A request that a proxy forwarded (X-Forwarded-For) is
  judged by the client it names, so that a proxy on the same host does not
  open the metrics to everyone it serves.
- The figures are counted where they happen, in plain integers on the
  event loop: requests by `Metrics.count()` in the request handler, script
  errors and time-outs by the runner, the threads by the thread pool. They
  are handed to prometheus_client every PUSH_INTERVAL and before each
  scrape: in multiprocess mode one of its counter increments is an mmap
  write under a lock (1.5-3 us), and a few per request would cost a hello
  page over 5% of its time.
- With worker processes (PROMETHEUS_MULTIPROC_DIR, set by supervisor.py),
  each worker writes its figures there and a scrape, answered by whichever
  worker gets it, adds them all up: they are the whole server's. A dead
  worker's counters stay in the totals, its gauges go (`forget_worker`).
  Without it (--worker-num 0, or the Python API) the figures are the one
  process's.
- The process_* figures are summed over the live workers, read from /proc.
- The health and metrics URLs themselves are not counted, so that probes
  and scrapes do not drown the figures.
"""
from __future__ import annotations

import asyncio
import bisect
import glob
import ipaddress
import operator
import os
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

__all__ = ('CONTENT_TYPE', 'Metrics', 'forget_worker')

CONTENT_TYPE = b'text/plain; version=0.0.4; charset=utf-8'
PUSH_INTERVAL = 1.0  # seconds; how stale another worker's figures may be
# prometheus_client's default buckets, in seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
           5.0, 7.5, 10.0, float('inf'))
KINDS = ('script', 'static', 'redirect', 'refused')


def forget_worker(pid: int, directory: str) -> None:
    """In the main process, when a worker has exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)


class Metrics:
    """One worker's figures, and the scrape."""

    def __init__(self, loop: asyncio.AbstractEventLoop, runner: Any,
                 trusted_proxies: Any) -> None:
        # imported here, in the worker: prometheus_client chooses its
        # multiprocess mode when it is first imported
        import prometheus_client as prom
        from prometheus_client import multiprocess

        self._prom = prom
        self._loop = loop
        self._runner = runner
        self._trusted_proxies = trusted_proxies
        self.directory = os.environ.get('PROMETHEUS_MULTIPROC_DIR')
        self.registry = prom.CollectorRegistry()
        # made unregistered with the multiprocess collector, which reads
        # the files; in one process, registered as usual
        own = None if self.directory else self.registry

        if self.directory:
            multiprocess.MultiProcessCollector(self.registry)
            self.registry.register(_WorkerProcesses(self.directory))
        else:
            prom.ProcessCollector(registry=self.registry)

        self._requests_total = prom.Counter(
            'httpout_requests', 'Requests answered, by kind and status class',
            ('kind', 'status'), registry=own)
        self._duration = prom.Histogram(
            'httpout_request_duration_seconds', 'Time to answer a request',
            buckets=BUCKETS, registry=own)
        self._running = prom.Gauge(
            'httpout_scripts_running', 'Scripts running on a thread',
            multiprocess_mode='livesum', registry=own)
        self._queue = prom.Gauge(
            'httpout_script_queue', 'Scripts waiting for a free thread',
            multiprocess_mode='livesum', registry=own)
        self._threads = prom.Gauge(
            'httpout_script_threads', 'Script threads',
            multiprocess_mode='livesum', registry=own)
        self._errors = prom.Counter(
            'httpout_script_errors', 'Scripts that ended with an error',
            registry=own)
        self._exceeded = prom.Counter(
            'httpout_execution_time_exceeded',
            'Scripts stopped after --max-execution-time', registry=own)

        # counted since the last push
        self._requests: Dict[Tuple[str, int], int] = {}
        self._buckets = [0] * len(BUCKETS)
        self._seconds = 0.0
        # the runner's totals at the last push
        self._errors_pushed = 0
        self._exceeded_pushed = 0
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tick()  # the gauges exist from the start

    def count(self, kind: str, status: int, seconds: float) -> None:
        """One request answered, on the event loop."""
        key = (kind, status // 100)
        self._requests[key] = self._requests.get(key, 0) + 1
        self._buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self._seconds += seconds

    def allowed(self, request) -> bool:
        """May this request read the metrics (see the module docstring)?"""
        client = request.client
        peer = client[0] if isinstance(client, tuple) else ''

        if not self._local_or_trusted(peer):
            return False

        if request.headers.get(b'x-forwarded-for'):
            if not self._trusted_proxies.is_trusted(request):
                return False  # forwarded for a client nobody vouches for

            return self._local_or_trusted(self._trusted_proxies.remote_addr(request))

        return True

    def _local_or_trusted(self, address: str) -> bool:
        if address == '':  # a Unix socket: on this host
            return True
        try:
            if ipaddress.ip_address(address).is_loopback:
                return True
        except ValueError:
            return False

        return address in self._trusted_proxies

    def scrape(self) -> bytes:
        """The exposition, in the Prometheus text format."""
        self.push()
        return self._prom.generate_latest(self.registry)

    def push(self) -> None:
        """Hand what was counted since the last push to prometheus_client."""
        for (kind, status_class), count in self._requests.items():
            self._requests_total.labels(kind, '%dxx' % status_class).inc(count)

        self._requests.clear()

        if any(self._buckets):
            # prometheus_client has no call for many observations at once;
            # its Histogram keeps one value per bucket (non-cumulative) and
            # the sum, which `observe()` increments
            for value, count in zip(self._duration._buckets, self._buckets):
                if count:
                    value.inc(count)

            self._duration._sum.inc(self._seconds)
            self._buckets = [0] * len(BUCKETS)
            self._seconds = 0.0

        runner = self._runner

        if runner.script_errors != self._errors_pushed:
            self._errors.inc(runner.script_errors - self._errors_pushed)
            self._errors_pushed = runner.script_errors

        if runner.time_exceeded != self._exceeded_pushed:
            self._exceeded.inc(runner.time_exceeded - self._exceeded_pushed)
            self._exceeded_pushed = runner.time_exceeded
        self._running.set(sum(1 for job in runner.jobs if job.thread_id is not None))
        self._queue.set(runner.threads.waiting)
        self._threads.set(runner.threads.count)

    def _tick(self) -> None:
        self.push()
        self._timer = self._loop.call_later(PUSH_INTERVAL, self._tick)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _WorkerProcesses:
    """process_* for the whole server: each live worker's, added up.

    The workers are the pids of the live gauges' files in the metrics
    directory (every worker has some, and a dead one's are removed)."""

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def _pids(self) -> List[int]:
        pids = set()

        for path in glob.glob(os.path.join(self._directory, 'gauge_livesum_*.db')):
            match = re.search(r'_(\d+)\.db$', path)

            if match:
                pids.add(int(match.group(1)))

        return sorted(pids)

    def collect(self) -> Iterator[Any]:
        from prometheus_client import ProcessCollector
        from prometheus_client.core import Metric

        families: Dict[str, Metric] = {}

        for pid in self._pids():
            for family in ProcessCollector(registry=None, pid=_constant(pid)).collect():
                total = families.get(family.name)

                if total is None:
                    families[family.name] = family
                    continue

                combine = min if family.name == 'process_start_time_seconds' else operator.add
                total.samples[0] = total.samples[0]._replace(
                    value=combine(total.samples[0].value, family.samples[0].value))

        yield from families.values()


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid
