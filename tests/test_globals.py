"""End-to-end tests of `__globals__.py` (SPEC section 6).

It runs once per worker at start as the module `__globals__`; scripts see
its names as `__globals__.name`; through `from httpout import app` it adds
tremolo middleware (a response middleware that sets a header on every
response, a request middleware that can answer by itself) and hooks; inside
it `import __main__` is the `__globals__` module itself.
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from conftest import Server, write_tree

FILES = {
    '__globals__.py': '''
        import os
        import time
        import __main__ as main_module
        from httpout import app

        started = time.time()
        pid = os.getpid()
        runs = 0
        runs += 1
        hits = 0
        me = main_module
        STOP_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                                 'worker-stopped.txt')

        @app.on_request
        async def block(request, response, **_):
            if request.path == b'/blocked.py':
                return b'blocked'

        @app.on_response
        async def stamp(request, response, **_):
            response.set_header(b'X-Globals', b'yes')
            response.set_header(b'X-Seen-Status',
                                b'%d' % response.get_status()[0])

        @app.on_worker_stop
        async def stopped(**_):
            with open(STOP_FILE, 'w') as file:
                file.write('stopped %d' % pid)

        print('globals ran in', pid, file=__import__('sys').stderr)
    ''',
    'show.py': '''
        import json
        __globals__.hits += 1
        print(json.dumps({
            'started': __globals__.started,
            'pid': __globals__.pid,
            'runs': __globals__.runs,
            'hits': __globals__.hits,
            'name': __globals__.__name__,
            'me_is_globals': __globals__.me is __globals__,
        }))
    ''',
    'blocked.py': '''
        print('the script ran')
    ''',
    'status.py': '''
        from httpout import response
        response.set_status(202)
        print('accepted')
    ''',
    'fail.py': '''
        raise RuntimeError('fails')
    ''',
    'static.txt': 'static body\n',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp('globals')
    root = base / 'www'
    root.mkdir()
    write_tree(root, FILES)
    srv = Server(root, [], base / 'server.log')
    yield srv
    srv.stop()


def test_runs_once_per_worker(server):
    first = json.loads(server.get('/show.py').text)
    time.sleep(0.05)
    second = json.loads(server.get('/show.py').text)

    assert first['runs'] == second['runs'] == 1
    assert first['started'] == second['started']
    assert first['pid'] == second['pid']
    assert second['hits'] == first['hits'] + 1  # one module for the worker
    assert first['name'] == '__globals__'
    assert server.log().count('globals ran in') == 1


def test_import_main_inside_globals_is_globals_itself(server):
    assert json.loads(server.get('/show.py').text)['me_is_globals'] is True


def test_response_middleware_header_on_script(server):
    response = server.get('/show.py')

    assert response.status_code == 200
    assert response.headers['X-Globals'] == 'yes'


def test_response_middleware_header_on_static_file(server):
    response = server.get('/static.txt')

    assert response.status_code == 200
    assert response.text == 'static body\n'
    assert response.headers['X-Globals'] == 'yes'


def test_response_middleware_header_on_404(server):
    response = server.get('/missing.py')

    assert response.status_code == 404
    assert response.headers['X-Globals'] == 'yes'


def test_response_middleware_header_on_error_page(server):
    response = server.get('/fail.py')

    assert response.status_code == 500
    assert response.headers['X-Globals'] == 'yes'
    assert response.headers['X-Seen-Status'] == '500'


def test_response_middleware_runs_before_head_is_sent(server):
    response = server.get('/status.py')

    assert response.status_code == 202
    assert response.text == 'accepted\n'
    assert response.headers['X-Seen-Status'] == '202'


def test_request_middleware_can_answer(server):
    response = server.get('/blocked.py')

    assert response.status_code == 200
    assert response.text == 'blocked'
    assert 'the script ran' not in response.text
    # other scripts are not blocked
    assert server.get('/status.py').text == 'accepted\n'


def test_request_middleware_answer_gets_response_middleware(server):
    """The answer of a request middleware is a response too: the response
    middleware runs before its head goes out, and nothing fails on the way."""
    response = server.get('/blocked.py')

    assert response.status_code == 200
    assert response.text == 'blocked'
    assert response.headers.get('X-Globals') == 'yes'
    time.sleep(0.1)
    assert 'headers already sent' not in server.log()


def test_worker_stop_hook(server):
    stop_file = Path(server.root).parent / 'worker-stopped.txt'
    pid = json.loads(server.get('/show.py').text)['pid']
    assert not stop_file.exists()

    server.stop(signal.SIGTERM)

    assert stop_file.read_text() == 'stopped %d' % pid


def test_runs_once_in_each_worker_process(serve):
    server = serve({
        '__globals__.py': '''
            import os, sys
            print('globals-start pid=%d' % os.getpid(), file=sys.stderr)
        ''',
        'pid.py': '''
            import os
            print(os.getpid(), __globals__.__name__)
        ''',
    }, '--worker-num', '2')
    deadline = time.monotonic() + 10
    lines = []

    while time.monotonic() < deadline:
        lines = [line for line in server.log().splitlines()
                 if line.startswith('globals-start')]

        if len(lines) >= 2:
            break

        time.sleep(0.1)

    for _ in range(6):
        pid, name = server.get('/pid.py').text.split()
        assert name == '__globals__'
        assert 'globals-start pid=%s' % pid in lines

    assert len(lines) == 2
    assert len(set(lines)) == 2
