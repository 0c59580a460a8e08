"""The operator's side of a real server (docs/operations.md): the start
line, what stays out of the INFO log, `--log-format json`, `--health-path`
(and draining on SIGTERM), and `--slow-log`.

Metrics are in test_metrics.py, SIGHUP and --reload in test_reload.py.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time

import httpout
from e2e_util import RawResponse, children, wait_for

FILES = {
    'ok.py': "print('fine')\n",
    'boom.py': "raise ValueError('bad <thing>')\n",
    'static/a.txt': 'static text\n',
    'status.py': "print('the script ran')\n",
    'sleep1.py': "import time\ntime.sleep(1)\nprint('slept')\n",
    # garbage for tremolo's collector: its full collection, which it logs,
    # comes once generation 1 is over its threshold, which collect(0) counts
    'garbage.py': '''
        import gc
        for _ in range(30):
            gc.collect(0)
        for _ in range(500):
            cycle = []
            cycle.append(cycle)
        print('made garbage')
    ''',
    'slow.py': '''
        import threading
        import time

        def helper_blocks(event):
            event.wait(5)

        def stuck_here():
            time.sleep(1.2)

        event = threading.Event()
        helper = threading.Thread(target=helper_blocks, args=(event,))
        helper.start()
        stuck_here()
        event.set()
        helper.join()
        print('done')
    ''',
}


def wait_for_log(server, pattern: str, timeout: float = 5.0) -> str:
    found = wait_for(lambda: re.search(pattern, server.log(), re.M), timeout)
    assert found, '%r not in the log:\n%s' % (pattern, server.log())
    return server.log()


def is_root_warning(line: str) -> bool:
    return line.startswith('WARNING: ')  # the tests may run as root


# --- the start ------------------------------------------------------------------

def test_start_is_one_line_and_no_tremolo_internals(serve):
    server = serve(FILES, '--worker-num', '2', '--thread-pool-size', '3', '--no-access-log')
    assert wait_for(lambda: len(children(server.proc.pid)) == 2, 10)
    for _ in range(4):
        assert server.get('/ok.py', headers={'Connection': 'close'}).text == 'fine\n'
    time.sleep(0.3)
    lines = [line for line in server.log().splitlines() if not is_root_warning(line)]

    # the one line, and nothing else: no banner, routes, options or a line
    # per worker
    assert lines == ['httpout %s serving %s at %s/ (2 workers, 3 threads; press Ctrl+C '
                     'to stop)' % (httpout.__version__, server.root, server.url)], lines


def test_debug_level_shows_tremolo_internals(serve):
    server = serve(FILES, '--log-level', 'debug')
    log = wait_for_log(server, r'tremolo: httpout worker \(pid \d+\) is started at 127\.0\.0\.1')
    assert re.search(r"DEBUG: tremolo route: b'\^/' -> handle$", log, re.M), log
    assert re.search(r"DEBUG: tremolo options: thread_pool_size=16, .*log_level='DEBUG'",
                     log, re.M), log
    assert 'DEBUG: ran ' not in log  # no __globals__.py here


def test_garbage_collector_reports_only_at_debug(serve):
    quiet = serve(FILES, '--no-access-log')
    loud = serve(FILES, '--no-access-log', '--log-level', 'debug')

    for server in (quiet, loud):
        assert server.get('/garbage.py').text == 'made garbage\n'

    wait_for_log(loud, r'DEBUG: collected \d+ unreachable objects$', timeout=4)
    time.sleep(1.5)  # tremolo collects once a second: quiet has had its turn
    assert 'unreachable' not in quiet.log(), quiet.log()
    assert 'made garbage' not in quiet.log()


# --- --log-format json ----------------------------------------------------------

def json_lines(server) -> list:
    """Every line of the log (standard output and error), parsed."""
    return [json.loads(line) for line in server.log().splitlines()]


def test_json_logs_are_one_object_per_line(serve):
    # json.py: a page named like a standard module, which is warned about
    server = serve(dict(FILES, **{'json.py': "print('a page')\n"}), '--log-format', 'json')
    assert server.get('/ok.py?a=1', headers={'Referer': 'http://example.org/'}).text == 'fine\n'
    assert server.get('/static/a.txt').status_code == 200
    assert server.get('/boom.py', headers={'User-Agent': 'evil" {agent}'}).status_code == 500
    assert server.get('/missing.py').status_code == 404
    assert wait_for(lambda: server.log().count('"logger": "access"') == 4, 5), server.log()

    entries = json_lines(server)  # every line parses, the warnings' too
    assert [e['message'] for e in entries if e['level'] == 'WARNING'
            and 'json.py' in e['message']], entries
    start = [e for e in entries if 'serving' in e.get('message', '')]
    assert len(start) == 1 and start[0]['level'] == 'INFO'
    assert start[0]['message'].startswith(
        'httpout %s serving %s' % (httpout.__version__, server.root))

    access = [e for e in entries if e['logger'] == 'access']
    assert [(e['request'], e['status']) for e in access] == [
        ('GET /ok.py?a=1 HTTP/1.1', 200), ('GET /static/a.txt HTTP/1.1', 200),
        ('GET /boom.py HTTP/1.1', 500), ('GET /missing.py HTTP/1.1', 404)]
    ok = access[0]
    assert ok['remote_addr'] == '127.0.0.1' and ok['level'] == 'INFO'
    assert ok['method'] == 'GET' and ok['path'] == '/ok.py'
    assert ok['bytes'] == len('fine\n') and ok['referer'] == 'http://example.org/'
    assert 0 < ok['duration'] < 5
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$', ok['time'])
    assert access[2]['user_agent'] == 'evil" {agent}'  # one JSON string, escaped

    errors = [e for e in entries if e['level'] == 'ERROR']
    assert len(errors) == 1, errors
    error = errors[0]
    assert error['request'] == 'GET /boom.py' and error['remote_addr'] == '127.0.0.1'
    assert error['message'] == '127.0.0.1 GET /boom.py: script error'
    assert error['traceback'].startswith('Traceback (most recent call last):')
    assert error['traceback'].endswith('ValueError: bad <thing>')
    assert 'boom.py", line 1' in error['traceback']


def test_combined_access_log_stays_the_default(serve):
    server = serve(FILES)
    server.get('/ok.py')
    log = wait_for_log(server, r'"GET /ok.py HTTP/1.1" 200 5 "-"')
    assert '{"' not in log


# --- --health-path ----------------------------------------------------------------

def test_health_answers_without_a_script_or_the_disk(serve):
    server = serve(FILES, '--health-path', '/status.py')
    response = server.get('/status.py')
    assert (response.status_code, response.text) == (200, 'ok\n')
    assert response.headers['content-type'] == 'text/plain; charset=utf-8'
    assert response.headers['cache-control'] == 'no-store'
    assert server.client.head('/status.py').status_code == 200

    # the document root gone: the pages are, health is not
    shutil.rmtree(server.root)
    assert server.get('/ok.py').status_code == 404
    assert server.get('/status.py').text == 'ok\n'
    # only that exact path
    assert server.get('/status.py/x').status_code == 404
    assert 'the script ran' not in server.log()


def test_health_is_off_by_default(serve):
    server = serve(FILES)
    assert server.get('/status.py').text == 'the script ran\n'


def send(sock: socket.socket, path: str) -> RawResponse:
    sock.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
    data = b''
    while True:
        data += sock.recv(65536)
        try:
            response = RawResponse(data)
        except ValueError:
            continue
        if int(response.header('content-length', '0')) <= len(response.body):
            return response


def test_health_is_503_while_draining_and_requests_still_finish(serve):
    server = serve(FILES, '--health-path', '/healthz', '--shutdown-timeout', '10')
    # a keep-alive connection, open before the stop, as a balancer keeps
    sock = socket.create_connection(('127.0.0.1', server.port), 5)
    sock.settimeout(5)
    first = send(sock, '/healthz')
    assert (first.status, first.body) == (200, b'ok\n')
    assert first.header('connection') == 'keep-alive'

    in_flight = socket.create_connection(('127.0.0.1', server.port), 5)
    in_flight.sendall(b'GET /sleep1.py HTTP/1.1\r\nHost: x\r\n\r\n')
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)

    draining = send(sock, '/healthz')
    assert (draining.status, draining.body) == (503, b'stopping\n')
    assert draining.header('connection') == 'close'
    sock.close()
    # the request in flight is answered, and its connection closed after it
    in_flight.settimeout(5)
    data = b''
    while chunk := in_flight.recv(65536):
        data += chunk
    in_flight.close()
    answer = RawResponse(data)
    assert (answer.status, answer.body) == (200, b'slept\n')
    assert server.proc.wait(12) == 0


# --- --slow-log --------------------------------------------------------------------

def test_slow_log_logs_the_stack_once_with_the_threads_it_started(serve):
    server = serve(FILES, '--slow-log', '0.3')
    assert server.get('/ok.py').text == 'fine\n'
    assert server.get('/slow.py?x=1').text == 'done\n'
    log = wait_for_log(server, r'"GET /slow.py\?x=1 HTTP/1.1" 200')

    assert log.count('slow script') == 1, log
    entry = log[log.index('127.0.0.1 GET /slow.py?x=1: slow script, running for more '
                          'than 0.3s:'):]
    entry = entry[:entry.index('"GET /slow.py')]
    script = str(server.root / 'slow.py')
    # the script's stack, from the script down to where it waits
    stack, _, thread = entry.partition('started by the script:')
    assert stack.split('\n')[1].startswith('  File "%s", line 13, in <module>' % script), entry
    assert '  File "%s", line 8, in stuck_here\n    time.sleep(1.2)' % script in stack
    assert 'runner.py' not in stack and 'threads.py' not in stack
    # and the thread it started, blocked in its own function
    assert thread.split('\n', 1)[1].startswith(
        '  File "%s", line 5, in helper_blocks\n    event.wait(5)' % script), entry
    assert 'GET /ok.py: slow script' not in log


# --- stopping -----------------------------------------------------------------------

def test_ctrl_c_stops_every_process_and_cleans_up(serve):
    server = serve(FILES, '--worker-num', '2', '--metrics-path', '/metrics')
    assert wait_for(lambda: len(children(server.proc.pid)) == 2, 10)
    assert server.get('/ok.py').text == 'fine\n'
    # the directory of the workers' metric files, which hold their pids
    worker = children(server.proc.pid)[0]
    pattern = os.path.join(tempfile.gettempdir(), 'httpout-metrics-*',
                           'gauge_livesum_%d.db' % worker)
    assert wait_for(lambda: glob.glob(pattern), 10)  # once that worker has started
    found = glob.glob(pattern)
    assert len(found) == 1, found
    metrics_dir = os.path.dirname(found[0])

    # a terminal's Ctrl+C reaches the whole process group
    os.killpg(server.proc.pid, signal.SIGINT)
    assert server.proc.wait(10) == 0
    assert not os.path.exists(metrics_dir)  # the workers' metric files went too
    assert 'Traceback' not in server.log()
