"""Load with every byte checked (issue 4, part 3). Marked `soak`: the default
run deselects them; run them with

    pytest -m soak tests/test_soak.py -s

- `test_soak_mixed_load`: 50 concurrent clients, 2,000 warm-up requests then
  20,000 more, mixed across a hello page, a streamed page, a urlencoded form
  POST, a multipart upload, a static file and a WebSocket echo session. Every
  response body is compared byte for byte with one computed beforehand; no
  error is allowed; the worker's RSS may grow by less than 10 MB between the
  end of the warm-up and the end.
- `test_100mb_page_to_a_slow_client`: a 100 MiB page of numbered lines, read
  by a deliberately slow raw-socket client, arrives whole and in order while
  the worker's RSS stays within 30 MB of where it started (backpressure).
"""
from __future__ import annotations

import hashlib
import queue
import random
import signal
import socket
import threading
import time
from collections import Counter
from typing import Callable, Dict, List, Tuple

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from e2e_util import RawResponse, dechunk, rss_kib, start_server, worker_pid

pytestmark = [pytest.mark.soak, pytest.mark.timeout(600)]

CLIENTS = 50
WARMUP = 2_000
MEASURED = 30_000
RSS_GROWTH_LIMIT_KIB = 10 * 1024

STREAM_LINES = 300
STREAM_LINE = '%04d streamed line, the same every time: ' + '~' * 40
STATIC = random.Random(4).randbytes(48 * 1024)

FILES = {
    'hello.py': '''
        print('hello, soak')
    ''',
    'stream.py': '''
        import time
        for i in range(%d):
            print(%r %% i)
            if i %% 50 == 49:
                time.sleep(0.002)  # the page streams: chunks, not one write
    ''' % (STREAM_LINES, STREAM_LINE),
    'form.py': '''
        from httpout import request
        form = wait(request.form())
        for name in sorted(form):
            print('%s=%s' % (name, '|'.join(form[name])))
    ''',
    'upload.py': '''
        import hashlib
        from httpout import request

        async def digests():
            found = []
            digest, size = hashlib.sha256(), 0
            async for part in request.files():
                digest.update(part['data'])
                size += len(part['data'])
                if part['eof']:
                    found.append('%s %d %s' % (part['filename'], size, digest.hexdigest()))
                    digest, size = hashlib.sha256(), 0
            return found

        for line in wait(digests()):
            print(line)
        for name, values in sorted(wait(request.form()).items()):  # plain fields
            print('field %s=%s' % (name, '|'.join(values)))
    ''',
    'ws.py': '''
        from httpout import websocket

        async def echo():
            async for message in websocket:
                await websocket.send(message)

        wait(echo())
    ''',
    'blob.png': STATIC,
    # for the report: connection objects the worker still holds (idle, every
    # client gone, they are closed connections not yet released)
    'held.py': '''
        import gc
        from tremolo.lib.http_protocol import HTTPProtocol
        gc.collect()
        print(sum(1 for obj in gc.get_objects() if isinstance(obj, HTTPProtocol)))
    ''',
}

HELLO = b'hello, soak\n'
STREAM = ''.join(STREAM_LINE % i + '\n' for i in range(STREAM_LINES)).encode()

# printable, URL-hostile and non-ASCII characters for form values
FORM_ALPHABET = 'abcXYZ019 &=+%?#/;,~\'"<>éß漢字'


class Soak:
    """The clients, their tallies and the first few failures."""

    def __init__(self, server) -> None:
        self.server = server
        self.ws_url = server.url.replace('http://', 'ws://') + '/ws.py'
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.errors: List[str] = []
        self.error_count = 0
        self.kinds: List[Tuple[str, Callable, int]] = [
            ('hello', self.hello, 30),
            ('stream', self.stream, 14),
            ('form', self.form, 15),
            ('upload', self.upload, 15),
            ('static', self.static, 16),
            ('ws', self.websocket, 10),
        ]

    # --- one request of each kind; each raises AssertionError on a mismatch --

    def hello(self, client: httpx.Client, rng: random.Random) -> None:
        response = client.get('/hello.py')
        assert response.status_code == 200, response.status_code
        assert response.content == HELLO, response.content[:200]

    def stream(self, client: httpx.Client, rng: random.Random) -> None:
        response = client.get('/stream.py')
        assert response.status_code == 200, response.status_code
        assert response.content == STREAM, 'streamed page differs (%d bytes)' % len(
            response.content)

    def form(self, client: httpx.Client, rng: random.Random) -> None:
        fields: Dict[str, List[str]] = {}
        for n in range(rng.randint(1, 6)):
            name = 'f%d_%s' % (n, ''.join(rng.choices('abcdefgh', k=rng.randint(1, 8))))
            fields[name] = [''.join(rng.choices(FORM_ALPHABET, k=rng.randint(0, 40)))
                            for _ in range(rng.randint(1, 3))]
        response = client.post('/form.py', data=fields)
        expected = ''.join('%s=%s\n' % (name, '|'.join(fields[name]))
                           for name in sorted(fields)).encode()
        assert response.status_code == 200, response.status_code
        assert response.content == expected, (response.content[:300], expected[:300])

    def upload(self, client: httpx.Client, rng: random.Random) -> None:
        blobs = [rng.randbytes(rng.randint(1, 256 * 1024)) for _ in range(rng.randint(1, 2))]
        files = [('file', ('blob%d.bin' % i, blob, 'application/octet-stream'))
                 for i, blob in enumerate(blobs)]
        response = client.post('/upload.py', data={'note': 'x'}, files=files)
        expected = ''.join([
            'blob%d.bin %d %s\n' % (i, len(blob), hashlib.sha256(blob).hexdigest())
            for i, blob in enumerate(blobs)] + ['field note=x\n']).encode()
        assert response.status_code == 200, response.status_code
        assert response.content == expected, (response.content[:300], expected[:300])

    def static(self, client: httpx.Client, rng: random.Random) -> None:
        response = client.get('/blob.png')
        assert response.status_code == 200, response.status_code
        assert response.headers['content-type'] == 'image/png'
        assert response.content == STATIC, 'static file differs (%d bytes)' % len(
            response.content)

    def websocket(self, client: httpx.Client, rng: random.Random) -> None:
        messages = [
            ''.join(rng.choices(FORM_ALPHABET, k=rng.randint(1, 200))),
            rng.randbytes(rng.randint(1, 16 * 1024)),
            'end %d' % rng.randint(0, 1 << 30),
        ]
        with ws_connect(self.ws_url, open_timeout=30, close_timeout=10) as ws:
            for message in messages:
                ws.send(message)
                echoed = ws.recv(timeout=30)
                assert echoed == message and type(echoed) is type(message), (
                    type(echoed), str(echoed)[:100], str(message)[:100])

    # --- the load ---------------------------------------------------------

    def _client(self, jobs: 'queue.SimpleQueue', seed: int) -> None:
        rng = random.Random(seed)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=self.server.url, timeout=60, limits=limits) as client:
            while True:
                job = jobs.get()
                if job is None:
                    return
                name, func = job
                try:
                    func(client, rng)
                except Exception as exc:  # noqa: B902 - every failure counts
                    with self.lock:
                        self.error_count += 1
                        if len(self.errors) < 10:
                            self.errors.append('%s: %s: %s' % (name, type(exc).__name__,
                                                               str(exc)[:300]))
                    # a broken keep-alive connection must not fail the next one
                    client.close()
                    client = httpx.Client(base_url=self.server.url, timeout=60,
                                          limits=limits)
                finally:
                    with self.lock:
                        self.counts[name] += 1

    def run(self, total: int, seed: int) -> float:
        """`total` requests, from CLIENTS threads; returns the seconds taken."""
        rng = random.Random(seed)
        names = [name for name, _, _ in self.kinds]
        weights = [weight for _, _, weight in self.kinds]
        funcs = {name: func for name, func, _ in self.kinds}
        jobs: queue.SimpleQueue = queue.SimpleQueue()
        for name in rng.choices(names, weights, k=total):
            jobs.put((name, funcs[name]))
        for _ in range(CLIENTS):
            jobs.put(None)

        start = time.monotonic()
        threads = [threading.Thread(target=self._client, args=(jobs, seed * 1000 + i),
                                    daemon=True) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
            assert not thread.is_alive(), 'a client is stuck'
        return time.monotonic() - start


def settled_rss(pid: int) -> int:
    """RSS once the worker is idle (tremolo runs its gc once a second)."""
    time.sleep(2.5)
    return rss_kib(pid)


@pytest.fixture(scope='module')
def soak_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('soak'), FILES)
    yield srv
    srv.stop()


def test_soak_mixed_load(soak_server):
    soak = Soak(soak_server)
    worker = worker_pid(soak_server)
    rss_initial = rss_kib(worker)

    warmup_seconds = soak.run(WARMUP, seed=1)
    assert soak.error_count == 0, soak.errors
    rss_start = settled_rss(worker)

    seconds = soak.run(MEASURED, seed=2)
    rss_end = settled_rss(worker)
    held = int(httpx.get(soak_server.url + '/held.py', timeout=10).text)

    total = sum(soak.counts.values())
    growth = rss_end - rss_start
    print('\nsoak: %d requests (%s), %d errors, %.1f s, %.0f req/s '
          '(warm-up %d in %.1f s); worker RSS %.1f MiB at start, %.1f MiB after '
          'warm-up, %.1f MiB at the end: %+.2f MiB; %d closed connections still '
          'held by the worker'
          % (total, ', '.join('%s %d' % item for item in sorted(soak.counts.items())),
             soak.error_count, warmup_seconds + seconds,
             total / (warmup_seconds + seconds), WARMUP, warmup_seconds,
             rss_initial / 1024, rss_start / 1024, rss_end / 1024, growth / 1024, held))

    assert total == WARMUP + MEASURED
    assert soak.error_count == 0, soak.errors
    assert worker_pid(soak_server) == worker, 'the worker was replaced'
    assert growth < RSS_GROWTH_LIMIT_KIB, (
        'worker RSS grew by %d KiB; %d closed connections still held' % (growth, held))
    assert soak_server.proc.poll() is None


# --- 100 MiB to a slow client --------------------------------------------------

BIG_LINE = b'%08d ' + b'.' * 90 + b'\n'  # 100 bytes a line
BIG_LINES = 1024 * 1024  # 100 MiB
BIG_FILES = {
    'big.py': '''
        for i in range(%d):
            print('%%08d %s' %% i)
    ''' % (BIG_LINES, '.' * 90),
    'hello.py': '''
        print('hello')
    ''',
}
SLOW_RCVBUF = 32 * 1024
SLOW_READ = 256 * 1024  # at most this much per read
SLOW_PAUSE = 0.008  # between reads
RSS_BOUND_KIB = 30 * 1024


def test_100mb_page_to_a_slow_client(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp('big'), BIG_FILES)
    try:
        worker = worker_pid(server)
        assert server.get('/hello.py').text == 'hello\n'
        baseline = settled_rss(worker)

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        sock.settimeout(30)
        sock.connect(('127.0.0.1', server.port))
        sock.sendall(b'GET /big.py HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')

        raw = bytearray()
        rss_peak = baseline
        next_sample = 0.0
        start = time.monotonic()
        with sock:
            while True:
                piece = sock.recv(SLOW_READ)
                if not piece:
                    break
                raw += piece
                now = time.monotonic()
                if now >= next_sample:
                    rss_peak = max(rss_peak, rss_kib(worker))
                    next_sample = now + 0.25
                time.sleep(SLOW_PAUSE)
        took = time.monotonic() - start
        rss_peak = max(rss_peak, rss_kib(worker))

        response = RawResponse(bytes(raw[:4096]), head_only=True)
        assert response.status == 200
        assert response.chunked
        head_size = raw.index(b'\r\n\r\n') + 4
        body = dechunk(bytes(raw[head_size:]))
        del raw

        total = BIG_LINES * len(BIG_LINE % 0)
        print('\n100 MiB page: %d bytes in %.1f s (%.1f MB/s) to a client reading '
              'at most %d KiB every %g ms (SO_RCVBUF %d KiB); worker RSS %.1f MiB '
              'before, peak %.1f MiB (%+.1f MiB)'
              % (len(body), took, len(body) / took / 1e6, SLOW_READ // 1024,
                 SLOW_PAUSE * 1000, SLOW_RCVBUF // 1024, baseline / 1024,
                 rss_peak / 1024, (rss_peak - baseline) / 1024))

        # complete, and in order: every numbered line where it belongs
        assert len(body) == total, 'got %d of %d bytes' % (len(body), total)
        if body != b''.join(BIG_LINE % i for i in range(BIG_LINES)):
            for i in range(BIG_LINES):
                line = body[i * 100:(i + 1) * 100]
                assert line == BIG_LINE % i, 'line %d is %r' % (i, line)
        assert rss_peak - baseline < RSS_BOUND_KIB, \
            'worker RSS grew by %d KiB for one slow client' % (rss_peak - baseline)
        assert server.get('/hello.py').text == 'hello\n'
    finally:
        assert server.stop(signal.SIGTERM) == 0
