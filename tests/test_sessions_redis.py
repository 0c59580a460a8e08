"""Sessions on Redis (issue 10; docs/sessions.md "Scaling out"): two httpout
instances behind a real nginx share their visitors' sessions through a real
redis-server, the lock holds across the instances (20 concurrent increments
end 20 higher), expiry is Redis's own TTL, and Redis stopped in the middle
of a run gives 503s on session pages only, until it is back.

The tests start Debian's `redis-server` (and nginx, as test_deploy.py
does) themselves on free loopback ports; they are marked `system` like the
other tests that need Debian packages (`pytest -m system`, run by .ci/run,
which installs them).
"""
from __future__ import annotations

import concurrent.futures
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import httpx
import pytest
import redis

from conftest import Server, free_port, write_tree
from httpout.session_stores import RedisStore
from test_sessions import check_lock_rules
from test_deploy import Nginx, behind_nginx

pytestmark = pytest.mark.system

COOKIE = 'HTTPOUTSESSID'

PAGES = {
    'count.py': '''
        import os
        import time
        from httpout import session
        n = session.get('n', 0)
        time.sleep(0.02)  # a lost update would show here
        session['n'] = n + 1
        print(session['n'], os.getpid(), end='')
        ''',
    'plain.py': '''
        print('plain', end='')
        ''',
    'login.py': '''
        from httpout import session
        session['user'] = 'ann'
        session.regenerate()
        print(session.id, end='')
        ''',
    'whoami.py': '''
        import os
        from httpout import session
        print(session.get('user', 'nobody'), os.getpid(), end='')
        ''',
}


class RedisServer:
    """Debian's redis-server on a free loopback port, in the foreground,
    without persistence (a restart loses the data, as a fresh server would)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which('redis-server')
        if binary is None:
            pytest.fail('redis-server is not installed: these tests need a real '
                        'one (Debian: apt-get install -y redis-server; CI '
                        'installs it)', pytrace=False)
        self.binary = binary
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = 'redis://127.0.0.1:%d/0' % self.port
        self.proc: subprocess.Popen = None  # type: ignore[assignment]
        self.start()

    def start(self) -> None:
        self.log = open(self.folder / 'redis.log', 'ab')
        self.proc = subprocess.Popen(
            [self.binary, '--port', str(self.port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--dir', str(self.folder)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail('redis-server did not start:\n' +
                                (self.folder / 'redis.log').read_text(), pytrace=False)
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


class Stack:
    def __init__(self, redis_server: RedisServer, backends: List[Server],
                 nginx: Nginx) -> None:
        self.redis = redis_server
        self.backends = backends
        self.nginx = nginx


@pytest.fixture(scope='module')
def stack(tmp_path_factory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp('sessions-redis')
    root = base / 'www'
    root.mkdir()
    write_tree(root, PAGES)
    started: list = []
    try:
        redis_server = RedisServer(base / 'redis')
        started.append(redis_server)
        backends, nginx = behind_nginx(root, base, started, '--session-store',
                                       redis_server.url, '--session-lifetime', '600')
        yield Stack(redis_server, backends, nginx)
        for backend in backends:
            assert 'Traceback' not in backend.log(), backend.log()
    finally:
        for thing in reversed(started):
            thing.stop()


def worker_pid(server: Server) -> str:
    response = httpx.get(server.url + '/count.py')  # a session of its own
    return response.text.split()[1]


def test_two_instances_behind_nginx_share_sessions(stack):
    pids = {worker_pid(backend) for backend in stack.backends}
    assert len(pids) == 2
    with httpx.Client(base_url=stack.nginx.url, timeout=30) as client:
        assert client.get('/whoami.py').text.split()[0] == 'nobody'
        client.get('/login.py')
        seen = set()
        for _ in range(6):  # round robin: both instances see the login
            user, pid = client.get('/whoami.py').text.split()
            assert user == 'ann'
            seen.add(pid)
        assert seen == pids


def test_twenty_concurrent_increments_across_two_instances(stack):
    with httpx.Client(base_url=stack.nginx.url) as client:
        client.get('/count.py')
        sid = client.cookies[COOKIE]
    # half of them straight to each instance, the rest through nginx
    targets = [b.url for b in stack.backends] * 5 + [stack.nginx.url] * 10

    def one(url: str) -> List[str]:
        return httpx.get(url + '/count.py', cookies={COOKIE: sid}, timeout=60).text.split()

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, targets))
    assert sorted(int(n) for n, _ in results) == list(range(2, 22))
    assert len({pid for _, pid in results}) == 2  # both instances took part
    assert one(stack.backends[0].url)[0] == '22'


def test_expiry_is_redis_ttl_and_no_lock_is_left(stack):
    with httpx.Client(base_url=stack.nginx.url) as client:
        client.get('/count.py')
        sid = client.cookies[COOKIE]
    store = stack.redis.client()
    ttl = store.ttl('httpout:session:{%s}' % sid)
    assert 590 <= ttl <= 600  # --session-lifetime 600, refreshed by the save
    assert not store.exists('httpout:lock:{%s}' % sid)


def test_hostile_and_unknown_ids_are_not_adopted(stack):
    store = stack.redis.client()
    for value in ('A' * 43, 'x' * 5000, '../etc', ''):
        response = httpx.get(stack.nginx.url + '/count.py', cookies={COOKIE: value})
        assert response.status_code == 200 and response.text.split()[0] == '1'
        assert response.cookies[COOKIE] != value
        assert not store.exists('httpout:session:{%s}' % value)


def test_redis_store_lock_rules(stack):
    store = RedisStore(stack.redis.url, lifetime=60)
    check_lock_rules(store)
    assert store.load('s' * 43) == '{"data": {"by": "b"}}'
    assert 55 <= stack.redis.client().ttl('httpout:session:{%s}' % ('s' * 43)) <= 60


def test_redis_stopped_mid_run_then_restarted(tmp_path):
    redis_server = RedisServer(tmp_path / 'redis')
    write_tree(tmp_path / 'www', PAGES)
    server = Server(tmp_path / 'www', ['--session-store', redis_server.url],
                    tmp_path / 'httpout.log')
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get('/count.py').text.split()[0] == '1'
            assert client.get('/count.py').text.split()[0] == '2'

            redis_server.stop()
            for _ in range(3):
                down = client.get('/count.py')
                assert down.status_code == 503 and 'set-cookie' not in down.headers
            assert client.get('/plain.py').text == 'plain'  # other pages go on
            log = server.log()
            assert 'ERROR: 127.0.0.1 GET /count.py: session store %s: ' % redis_server.url in log
            assert 'Traceback' not in log

            redis_server.start()  # the same port; its data is gone
            back = client.get('/count.py')
            assert back.status_code == 200 and back.text.split()[0] == '1'
            assert back.cookies[COOKIE] != ''  # a new session, not the lost one
            assert client.get('/count.py').text.split()[0] == '2'
    finally:
        server.stop()
        redis_server.stop()
