"""Graceful reload of a real server: SIGHUP under load (wrk, Debian's), a
reload that fails, `--reload` for development, and the shared socket that
makes it possible (TCP and Unix).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import write_tree
from e2e_util import children, wait_for

FILES = {
    '__globals__.py': '''
        from _lib import conf
        version = 'globals %d, conf %d' % (1, conf.VERSION)
    ''',
    '_lib/__init__.py': '',
    '_lib/conf.py': 'VERSION = 1\n',
    'v.py': "print(__globals__.version)\n",
    'pid.py': "import os\nprint(os.getpid())\n",
}


def versions(server, count: int = 6) -> set:
    """What the workers say, over new connections (each lands on either)."""
    return {httpx.get(server.url + '/v.py', headers={'Connection': 'close'},
                      timeout=5).text for _ in range(count)}


def all_serving(server, count: int = 2) -> set:
    """Wait until `count` workers answer (each has run __globals__.py), so
    that an edit cannot reach one of them at its start."""
    pids: set = set()
    assert wait_for(lambda: pids.add(httpx.get(
        server.url + '/pid.py', headers={'Connection': 'close'}, timeout=5).text) or
        len(pids) == count, 10), pids
    return pids


def edit(server, globals_version: int, conf_version: int) -> None:
    (server.root / '__globals__.py').write_text(
        "from _lib import conf\n"
        "version = 'globals %d, conf %%d' %% conf.VERSION\n" % globals_version)
    (server.root / '_lib' / 'conf.py').write_text('VERSION = %d\n' % conf_version)


def wait_for_log(server, pattern: str, timeout: float = 10) -> str:
    found = wait_for(lambda: re.search(pattern, server.log(), re.M), timeout)
    assert found, '%r not in the log:\n%s' % (pattern, server.log())
    return server.log()


@pytest.mark.parametrize('loop', ['asyncio', 'uvloop'])
def test_sighup_under_load_fails_no_request_and_runs_the_new_code(serve, loop):
    server = serve(FILES, '--worker-num', '2', '--no-access-log', '--loop', loop)
    all_serving(server)
    assert versions(server) == {'globals 1, conf 1\n'}
    before = set(children(server.proc.pid))
    assert len(before) == 2

    wrk = subprocess.Popen(['wrk', '-t2', '-c16', '-d4s', server.url + '/v.py'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    edit(server, 2, 2)
    server.proc.send_signal(signal.SIGHUP)
    wait_for_log(server, r'supervisor: INFO: reload: done$')
    out, _ = wrk.communicate(timeout=20)

    requests = int(re.search(r'(\d+) requests in', out).group(1))
    assert requests > 1000, out
    # wrk prints these lines only when there are any
    assert 'Socket errors' not in out, out
    assert 'Non-2xx' not in out, out

    assert versions(server) == {'globals 2, conf 2\n'}
    after = set(children(server.proc.pid))
    assert len(after) == 2 and not after & before, (before, after)
    assert 'Traceback' not in server.log()
    print('reload under wrk (%s): %d requests, 0 errors' % (loop, requests))


def test_a_reload_that_cannot_start_keeps_the_old_workers(serve):
    server = serve(FILES, '--worker-num', '2', '--no-access-log')
    all_serving(server)
    before = set(children(server.proc.pid))
    (server.root / '__globals__.py').write_text('raise RuntimeError("broken")\n')
    server.proc.send_signal(signal.SIGHUP)

    wait_for_log(server, r'reload stopped: a new worker exited with status 1 before it '
                         r'served; the others keep serving$')
    assert versions(server) == {'globals 1, conf 1\n'}
    assert set(children(server.proc.pid)) == before

    # fixed, the next SIGHUP goes through
    edit(server, 3, 1)
    server.proc.send_signal(signal.SIGHUP)
    wait_for_log(server, r'reload: done$')
    assert versions(server) == {'globals 3, conf 1\n'}
    assert server.stop(signal.SIGTERM) == 0


def test_a_worker_that_cannot_start_stops_the_server_with_status_1(serve, tmp_path):
    root = tmp_path / 'broken'
    root.mkdir()
    (root / '__globals__.py').write_text('raise RuntimeError("broken")\n')
    log = tmp_path / 'broken.log'
    with open(log, 'wb') as out:
        code = subprocess.run([sys.executable, '-m', 'httpout', '--port', '0',
                               '--worker-num', '2', str(root)],
                              stdout=out, stderr=subprocess.STDOUT, timeout=20).returncode
    text = log.read_text()
    assert code == 1, text
    assert 'RuntimeError: broken' in text
    assert re.search(r'a worker exited with status 1 before it served: stopping$',
                     text, re.M), text


def test_reload_option_restarts_when_globals_or_its_module_changes(serve):
    server = serve(FILES, '--worker-num', '2', '--reload', '--no-access-log')
    all_serving(server)
    assert versions(server) == {'globals 1, conf 1\n'}

    # the private module __globals__.py imports
    time.sleep(0.1)  # a different modification time, whatever the clock's grain
    (server.root / '_lib' / 'conf.py').write_text('VERSION = 5\n')
    wait_for_log(server, r'reload: done$')
    assert versions(server) == {'globals 1, conf 5\n'}
    # one watcher: one change is one reload
    log = server.log()
    assert log.count('reload: %s changed' % (server.root / '_lib' / 'conf.py')) == 1, log
    assert log.count('reload: restarting') == 1, log

    # and __globals__.py itself
    edit(server, 6, 5)
    assert wait_for(lambda: server.log().count('reload: done') == 2, 10), server.log()
    assert versions(server) == {'globals 6, conf 5\n'}


def test_workers_share_one_unix_socket_and_reload_on_it(tmp_path):
    root = tmp_path / 'www'
    write_tree(root, FILES)
    path = str(tmp_path / 'httpout.sock')
    log = open(tmp_path / 'unix.log', 'wb')
    proc = subprocess.Popen([sys.executable, '-m', 'httpout', '--bind', path,
                             '--worker-num', '2', str(root)],
                            stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=5)
    try:
        def pids() -> set:
            try:
                return {client.get('http://x/pid.py', headers={'Connection': 'close'}).text
                        for _ in range(10)}
            except httpx.TransportError:  # not listening yet
                return set()

        assert wait_for(lambda: len(pids()) == 2, 10)  # both accept from it
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: b'reload: done' in (tmp_path / 'unix.log').read_bytes(), 10)
        assert client.get('http://x/v.py').text == 'globals 1, conf 1\n'
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        log.close()
    assert not os.path.exists(path)  # removed at exit


def test_a_port_in_use_is_one_line_and_status_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, '-m', 'httpout', '--port', str(port),
                               '--worker-num', '2', str(tmp_path)],
                              capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert 'Traceback' not in done.stderr
    assert re.search(r'supervisor: ERROR: cannot listen on 127\.0\.0\.1 port %d: '
                     r'Address already in use$' % port, done.stderr, re.M), done.stderr
