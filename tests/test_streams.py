"""A script's standard streams (SPEC section 3, "Standard streams").

While a script runs, `sys.stdout` (text and `.buffer`) is its response, in
order with `print()` and with the same backpressure; `sys.stdin` is the
request body, EOF at its end, never the server's own stdin; `sys.stderr`
goes to the server log with the request line. Threads and executors the
script starts share them. Elsewhere the streams are the process's own.

The server runs with a `__globals__.py` that adds request and response
middleware, once plainly and once with --debug and two workers; its own
stdin is a pipe holding text that no script may ever read.
"""
from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import io
import pprint
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import Server, write_tree

SERVER_STDIN = 'the server process stdin, never a request body\n'

FILES = {
    '__globals__.py': '''
        import threading
        from concurrent.futures import ThreadPoolExecutor
        from httpout import app

        shared_executor = ThreadPoolExecutor(2)  # one executor for every request
        progress = {}
        progress_lock = threading.Lock()

        @app.on_request
        async def tag(response, **_):
            response.set_header(b'X-Request-Tag', b'on')

        @app.on_response
        async def powered(response, **_):
            response.set_header(b'X-Powered-By', b'httpout')
    ''',
    'mixed.py': '''
        import sys
        sys.stdout.write('one\\n')
        print('two')
        sys.stdout.writelines(['three\\n', 'four\\n'])
        sys.stdout.buffer.write(b'five\\n')
        print('six', file=sys.stdout)
        sys.stdout.flush()
        print('seven', end='')
    ''',
    'pretty.py': '''
        from pprint import pprint
        pprint({'numbers': list(range(30)), 'name': 'httpout', 'nested': {'a': [1, 2]}})
    ''',
    'dump.py': '''
        import json, sys
        json.dump({'b': [1, 2, 3], 'a': 'é'}, sys.stdout, sort_keys=True)
    ''',
    'table.py': '''
        import csv, sys
        from httpout import response
        response.set_content_type('text/csv; charset=utf-8')
        writer = csv.writer(sys.stdout)
        writer.writerow(['name', 'note'])
        writer.writerow(['ann', 'says "hi", twice'])
    ''',
    'image.py': '''
        import sys
        from httpout import response
        response.set_content_type('image/png')
        sys.stdout.buffer.write(bytes(range(256)) * 64)
    ''',
    'big.py': '''
        import sys
        block = bytes(range(256)) * 256  # 64 KiB
        for _ in range(80):
            sys.stdout.buffer.write(block)
    ''',
    'slow.py': '''
        import sys, time
        sys.stdout.write('first\\n')
        sys.stdout.flush()
        time.sleep(1.5)
        sys.stdout.write('second\\n')
    ''',
    'blocked.py': '''
        import sys
        block = b'x' * 65536
        for i in range(400):  # 25 MiB: far more than any buffer
            sys.stdout.buffer.write(block)
            with __globals__.progress_lock:
                __globals__.progress[__server__['QUERY_STRING']] = i + 1
    ''',
    'progress.py': '''
        with __globals__.progress_lock:
            print(__globals__.progress.get(__server__['QUERY_STRING'], 0))
    ''',
    'echo.py': '''
        import sys
        data = sys.stdin.read()
        print(len(data), repr(data), repr(sys.stdin.read()))
    ''',
    'echo_bytes.py': '''
        import sys
        from httpout import response
        response.set_content_type('application/octet-stream')
        sys.stdout.buffer.write(sys.stdin.buffer.read())
    ''',
    'lines.py': '''
        import sys
        for number, line in enumerate(sys.stdin, 1):
            print(number, line.rstrip('\\n'))
    ''',
    'ask.py': '''
        name = input('name? ')
        colour = input()
        try:
            input()
        except EOFError:
            print('|EOF')
        print('|%s likes %s' % (name, colour))
    ''',
    'both.py': '''
        import sys
        from httpout import request
        body = wait(request.body())
        print(repr(body), repr(sys.stdin.read()), repr(wait(request.form())))
    ''',
    'coroutine_stdin.py': '''
        import sys

        async def read():
            return sys.stdin.read()

        try:
            wait(read())
        except RuntimeError as exc:
            print('refused:', exc)
    ''',
    'coroutine_stdout.py': '''
        import sys

        async def write():
            sys.stdout.write('from a coroutine\\n')

        wait(write())
        print('after')
    ''',
    'errors.py': '''
        import logging, sys, traceback
        print('to the page')
        print('stderr-line-1', file=sys.stderr)
        sys.stderr.write('stderr-line-2\\nstderr-partial')
        logging.getLogger(__name__).warning('logged-warning-3')
        try:
            1 / 0
        except ZeroDivisionError:
            traceback.print_exc()
    ''',
    'threads.py': '''
        import sys, threading
        from concurrent.futures import ThreadPoolExecutor

        def work(name):
            sys.stdout.write('thread %s\\n' % name)

        thread = threading.Thread(target=work, args=('a',))
        thread.start()
        thread.join()

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, ['b', 'c']))

        __globals__.shared_executor.submit(work, 'd').result()
        print('done')
    ''',
    'tagged.py': '''
        import sys, time
        tag = __server__['QUERY_STRING']
        for i in range(20):
            sys.stdout.write('%s-%d\\n' % (tag, i))
            time.sleep(0.005)
        __globals__.shared_executor.submit(sys.stdout.write, '%s-pool\\n' % tag).result()
    ''',
    'outside.py': '''
        import sys
        print(type(sys.stdout).__name__, type(sys.stdin).__name__, type(sys.stderr).__name__)
    ''',
}


@pytest.fixture(scope='module', params=[[], ['--debug', '--worker-num', '2']],
                ids=['plain', 'debug-2-workers'])
def server(request, tmp_path_factory):
    base = tmp_path_factory.mktemp('streams')
    root = base / 'www'
    root.mkdir()
    write_tree(root, FILES)
    srv = Server(root, request.param, base / 'server.log', stdin=subprocess.PIPE)
    srv.proc.stdin.write(SERVER_STDIN.encode() * 100)
    srv.proc.stdin.flush()  # left open: a read of it would block, not end
    yield srv
    srv.stop()


def test_stdout_text_bytes_and_print_keep_their_order(server):
    response = server.get('/mixed.py')

    assert response.status_code == 200
    assert response.text == 'one\ntwo\nthree\nfour\nfive\nsix\nseven'
    assert response.headers['content-type'] == 'text/html; charset=utf-8'
    assert response.headers['x-request-tag'] == 'on'
    assert response.headers['x-powered-by'] == 'httpout'


def test_pprint_json_dump_and_csv_write_to_the_page(server):
    expected = io.StringIO()
    pprint.pprint({'numbers': list(range(30)), 'name': 'httpout', 'nested': {'a': [1, 2]}},
                  stream=expected)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(['name', 'note'])
    writer.writerow(['ann', 'says "hi", twice'])

    assert server.get('/pretty.py').text == expected.getvalue()
    assert server.get('/dump.py').json() == {'a': 'é', 'b': [1, 2, 3]}
    table = server.get('/table.py')
    assert table.headers['content-type'] == 'text/csv; charset=utf-8'
    assert table.content == rows.getvalue().encode()


def test_binary_output(server):
    response = server.get('/image.py')

    assert response.headers['content-type'] == 'image/png'
    assert response.content == bytes(range(256)) * 64

    big = server.get('/big.py')
    assert hashlib.sha256(big.content).hexdigest() == hashlib.sha256(
        bytes(range(256)) * 256 * 80).hexdigest()


def test_flush_sends_before_the_script_ends(server):
    with httpx.stream('GET', server.url + '/slow.py', timeout=10) as response:
        started = time.monotonic()
        lines = response.iter_lines()
        assert next(lines) == 'first'
        assert time.monotonic() - started < 1.0
        assert next(lines) == 'second'


def test_stdout_blocks_while_the_client_does_not_read(serve):
    """Backpressure: the script's write blocks, memory stays bounded, and
    everything arrives once the client reads."""
    server = serve({name: FILES[name] for name in ('__globals__.py', 'blocked.py',
                                                   'progress.py')})

    def progress() -> int:
        return int(server.get('/progress.py?slow').text)

    with socket.create_connection(('127.0.0.1', server.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b'GET /blocked.py?slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
        time.sleep(1.0)
        stalled = progress()
        time.sleep(0.5)

        assert progress() == stalled < 100  # blocked well before 400 writes
        received = 0

        while True:
            piece = sock.recv(1 << 20)
            if not piece:
                break
            received += len(piece)

    assert received > 400 * 65536
    assert progress() == 400


def test_stdin_is_the_request_body(server):
    body = 'first line\nsecond, with é\nthird'

    assert server.post('/echo.py', content=body.encode()).text == (
        "%d %r ''\n" % (len(body), body))
    assert server.get('/echo.py').text == "0 '' ''\n"  # no body: EOF at once
    data = bytes(range(256)) * 40
    assert server.post('/echo_bytes.py', content=data).content == data
    assert server.post('/lines.py', content=b'a\nb\nc\n').text == '1 a\n2 b\n3 c\n'


def test_input_reads_lines_and_prompts_on_the_page(server):
    response = server.post('/ask.py', content=b'Ann\nblue\n')

    assert response.text == 'name? |EOF\n|Ann likes blue\n'


def test_stdin_and_request_body_share_one_body(server):
    response = server.post('/both.py', data={'q': 'x y'})

    assert response.text == "b'q=x+y' 'q=x+y' {'q': ['x y']}\n"


def test_stdin_cannot_be_read_on_the_event_loop(server):
    response = server.get('/coroutine_stdin.py')

    assert response.status_code == 200
    assert response.text.startswith('refused: sys.stdin cannot be read in a coroutine')


def test_stdout_in_a_coroutine_writes_to_the_page(server):
    assert server.get('/coroutine_stdout.py').text == 'from a coroutine\nafter\n'


def test_stderr_and_logging_go_to_the_log_with_the_request_line(server):
    response = server.get('/errors.py?x=1')

    assert response.text == 'to the page\n'
    time.sleep(0.2)
    log = server.log()

    for text in ('stderr-line-1', 'stderr-line-2', 'stderr-partial', 'logged-warning-3',
                 'ZeroDivisionError: division by zero'):
        lines = [line for line in log.splitlines() if text in line]
        assert lines, (text, log)
        assert '127.0.0.1 GET /errors.py?x=1: stderr: ' in lines[0]


def test_threads_and_executors_write_to_the_response(server):
    assert server.get('/threads.py').text == 'thread a\nthread b\nthread c\nthread d\ndone\n'


def test_concurrent_scripts_never_mix_their_output(server):
    def fetch(tag):
        return tag, httpx.get(server.url + '/tagged.py?' + tag, timeout=20).text

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, ['t%d' % i for i in range(8)] * 2))

    for tag, text in results:
        assert text == ''.join('%s-%d\n' % (tag, i) for i in range(20)) + tag + '-pool\n'


def test_server_stdin_is_never_read_and_streams_are_restored(server):
    assert server.post('/echo.py', content=b'').text == "0 '' ''\n"
    assert SERVER_STDIN.strip() not in server.log()
    # the access log, written to the process's own stdout between requests
    assert '"GET /mixed.py HTTP/1.1" 200' in server.log()
    assert server.get('/outside.py').text == 'StreamSwitch StreamSwitch StreamSwitch\n'


def test_example_cgi_page_runs_served_and_as_a_program(tmp_path):
    example = Path(__file__).resolve().parent.parent / 'example'
    server = Server(example, [], tmp_path / 'example.log')

    try:
        served = server.post('/cgi.py', data={'name': '<Ann>'}).text
    finally:
        server.stop()

    program = subprocess.run([sys.executable, 'cgi.py'], cwd=example, input='name=%3CAnn%3E\n',
                             capture_output=True, text=True, check=True).stdout
    assert '<p>Hello, &lt;Ann&gt;!</p>' in served
    assert served == program


def test_redirect_stdout_captures_for_its_request_only(serve):
    server = serve({
        'capture.py': '''
            import contextlib, io, sys, threading, time
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                print('captured print')
                sys.stdout.write('captured write\\n')
                help(len)
                time.sleep(0.3)  # the other page prints meanwhile
            with contextlib.redirect_stdout(None):
                print('dropped')
            with contextlib.redirect_stderr(sys.stdout):
                print('error text', file=sys.stderr)
            text = buffer.getvalue()
            print(text.startswith('captured print\\ncaptured write\\n'), 'len(obj, /)' in text)
        ''',
        'other.py': '''
            import sys, time
            time.sleep(0.1)
            print('other page')
            sys.stdout.write('other write\\n')
        ''',
    })

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        capture = pool.submit(server.get, '/capture.py')
        other = pool.submit(server.get, '/other.py')

        assert other.result().text == 'other page\nother write\n'
        assert capture.result().text == 'error text\nTrue True\n'

    assert 'captured' not in server.log()
