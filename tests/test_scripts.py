"""End-to-end tests of running a script (SPEC section 3).

A fresh `__main__` per request, the thread pool, the built-ins (`print`,
`run`, `wait`, `exit`, `__main__`, `__server__`, `__globals__`), fresh code
after an edit, and the end of a script (pending coroutines, cleared
namespaces). Every test talks HTTP to a real `python -m httpout`; one server
per configuration is shared by the whole module, since starting one takes
about a second.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from e2e_util import start_server
from conftest import Server

FILES = {
    'state.py': '''
        import json, os, sys
        counter = 0
        counter += 1
        print(json.dumps({
            'counter': counter,
            'name': __name__,
            'file': __file__,
            'cwd': os.getcwd(),
            'path': sys.path,
            'main_is_module': __main__.__dict__ is globals(),
        }))
    ''',
    'sleep.py': '''
        import time
        time.sleep(1)
        print('slept')
    ''',
    'static.txt': 'plain static text\n',
    'printing.py': '''
        import sys
        print('a', 'b', 'c', sep='-', end='!\\n')
        print('x', 'y', sep='', end='')
        print()
        print(1, None, [2], sep=None, end=None)
        print('to-stderr-marker', file=sys.stderr, flush=True)
        print('done', flush=True)
    ''',
    'run_later.py': '''
        import asyncio, concurrent.futures, time

        async def later(delay, text):
            await asyncio.sleep(delay)
            print(text)
            return text

        t0 = time.monotonic()
        first = run(later(0.3, 'late-one'))
        second = run(later(0.1, 'late-two'))
        elapsed = time.monotonic() - t0
        print('future', isinstance(first, concurrent.futures.Future),
              first.done(), elapsed < 0.2)
    ''',
    'run_result.py': '''
        import asyncio

        async def value():
            await asyncio.sleep(0.05)
            return 'the-result'

        future = run(value())
        print('got', future.result(5))
    ''',
    'wait_result.py': '''
        import asyncio

        async def double(x):
            await asyncio.sleep(0.01)
            return x * 2

        async def boom():
            await asyncio.sleep(0)
            raise KeyError('boom-in-coroutine')

        print('result', wait(double(21)))

        try:
            wait(boom())
        except KeyError as exc:
            print('caught', type(exc).__name__, exc.args[0])
    ''',
    'wait_timeout.py': '''
        import asyncio, concurrent.futures

        async def slow():
            await asyncio.sleep(5)

        try:
            wait(slow(), timeout=0.1)
        except (TimeoutError, concurrent.futures.TimeoutError):
            print('timed out')
    ''',
    'exit_text.py': '''
        print('before')
        exit('bye')
        print('never')
    ''',
    'sys_exit_text.py': '''
        import sys
        sys.exit('bye from sys.exit')
    ''',
    'exit_status.py': '''
        import sys
        from httpout import response
        response.set_status(201)
        how = __server__['QUERY_STRING']
        if how == 'exit':
            exit()
        elif how == 'exit0':
            exit(0)
        elif how == 'sys_exit':
            sys.exit()
        elif how == 'sys_exit0':
            sys.exit(0)
        elif how == 'quit':
            quit()
        print('never')
    ''',
    'exit_after_output.py': '''
        import sys
        print('kept output')
        sys.exit(0)
        print('never')
    ''',
    'show_main.py': '''
        import showmain
        marker = 'main-marker'
        print(showmain.who())
    ''',
    'showmain.py': '''
        def who():
            return '%s|%s|%s' % (__main__.__name__, __main__.marker,
                                 __main__.__file__)
    ''',
    'server_dict.py': '''
        print(type(__server__).__name__, __server__['REQUEST_METHOD'],
              __server__['SCRIPT_NAME'], __server__['QUERY_STRING'],
              __server__['DOCUMENT_ROOT'])
    ''',
    'globals_builtin.py': '''
        import types
        print(isinstance(__globals__, types.ModuleType), __globals__.__name__,
              __globals__.shared_value)
    ''',
    '__globals__.py': '''
        shared_value = 'from-globals'
        finalized = []
    ''',
    'code_id.py': '''
        import sys
        print(id(sys._getframe().f_code.co_consts), __server__['REMOTE_PORT'])
    ''',
    'finalize_set.py': '''
        import weakref

        class Thing:
            pass

        thing = Thing()

        def helper():  # a function: its globals are this namespace (a cycle)
            return thing

        weakref.finalize(thing, __globals__.finalized.append,
                         __server__['QUERY_STRING'])
        print('registered')
    ''',
    'finalize_lib.py': '''
        import weakref

        class LibThing:
            pass

        lib_thing = LibThing()
        weakref.finalize(lib_thing, __globals__.finalized.append,
                         'lib-' + __server__['QUERY_STRING'])
    ''',
    'finalize_import.py': '''
        import finalize_lib
        print('imported')
    ''',
    'finalize_fail.py': '''
        import weakref

        class Thing:
            pass

        thing = Thing()
        weakref.finalize(thing, __globals__.finalized.append,
                         'fail-' + __server__['QUERY_STRING'])
        raise RuntimeError('intended failure')
    ''',
    'finalize_check.py': '''
        print(','.join(__globals__.finalized))
    ''',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('scripts'), FILES, '--thread-pool-size', '4')
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def server_pool1(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('scripts'), {'sleep.py': FILES['sleep.py']},
                       '--thread-pool-size', '1')
    yield srv
    srv.stop()


def concurrent_gets(url: str, paths: list, timeout: float = 30) -> list:
    """GET every path at once, each on its own connection."""
    def fetch(path):
        return httpx.get(url + path, timeout=timeout)

    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(fetch, paths))


# --- a fresh __main__ per request -------------------------------------------

def test_fresh_main_module_per_request(server):
    root = str(Path(server.root).resolve())

    for _ in range(3):
        response = server.get('/state.py')
        assert response.status_code == 200
        state = json.loads(response.text)
        assert state['counter'] == 1
        assert state['name'] == '__main__'
        assert state['file'] == os.path.join(root, 'state.py')
        assert os.path.isabs(state['file'])
        assert state['cwd'] == root
        assert root in state['path']
        assert state['main_is_module'] is True


# --- thread pool -------------------------------------------------------------

def test_pool_runs_blocking_scripts_in_parallel(server):
    t0 = time.monotonic()
    responses = concurrent_gets(server.url, ['/sleep.py'] * 4)
    elapsed = time.monotonic() - t0

    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.text == 'slept\n' for r in responses)
    assert elapsed < 2.5, elapsed


def test_requests_beyond_pool_wait_their_turn(server_pool1):
    t0 = time.monotonic()
    responses = concurrent_gets(server_pool1.url, ['/sleep.py'] * 2)
    elapsed = time.monotonic() - t0

    assert [r.text for r in responses] == ['slept\n'] * 2
    assert elapsed >= 2.0, elapsed


def test_event_loop_not_blocked_by_sleeping_scripts(server):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        sleepers = [pool.submit(httpx.get, server.url + '/sleep.py', timeout=30)
                    for _ in range(4)]
        time.sleep(0.2)  # let the four scripts start sleeping
        t0 = time.monotonic()
        static = httpx.get(server.url + '/static.txt', timeout=10)
        elapsed = time.monotonic() - t0
        assert not all(f.done() for f in sleepers)  # they were still running
        results = [f.result() for f in sleepers]

    assert static.status_code == 200
    assert static.text == 'plain static text\n'
    assert elapsed < 0.5, elapsed
    assert [r.text for r in results] == ['slept\n'] * 4


# --- built-ins -----------------------------------------------------------------

def test_print_sep_end_and_stderr(server):
    response = server.get('/printing.py')

    assert response.status_code == 200
    assert response.text == 'a-b-c!\nxy\n1 None [2]\ndone\n'
    assert 'to-stderr-marker' not in response.text
    deadline = time.monotonic() + 2

    while 'to-stderr-marker' not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert 'to-stderr-marker' in server.log()


def test_run_returns_future_at_once_and_response_waits(server):
    t0 = time.monotonic()
    response = server.get('/run_later.py')
    elapsed = time.monotonic() - t0

    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0] == 'future True False True'
    assert sorted(lines[1:]) == ['late-one', 'late-two']
    assert lines[1:] == ['late-two', 'late-one']  # in the order they printed
    assert elapsed >= 0.3


def test_run_future_result_from_script_thread(server):
    assert server.get('/run_result.py').text == 'got the-result\n'


def test_wait_returns_result_and_raises(server):
    response = server.get('/wait_result.py')

    assert response.status_code == 200
    assert response.text == 'result 42\ncaught KeyError boom-in-coroutine\n'


def test_wait_timeout(server):
    t0 = time.monotonic()
    response = server.get('/wait_timeout.py')

    assert response.status_code == 200
    assert response.text == 'timed out\n'
    assert time.monotonic() - t0 < 3


def test_exit_text(server):
    response = server.get('/exit_text.py')

    assert response.status_code == 200
    assert response.text == 'before\nbye'


@pytest.mark.parametrize('how', ['exit', 'exit0', 'sys_exit', 'sys_exit0', 'quit'])
def test_exit_writes_nothing_and_keeps_status(server, how):
    response = server.get('/exit_status.py?' + how)

    assert response.status_code == 201
    assert response.text == ''


def test_sys_exit_text(server):
    response = server.get('/sys_exit_text.py')

    assert response.status_code == 200
    assert response.text == 'bye from sys.exit'


def test_exit_after_output_keeps_output(server):
    response = server.get('/exit_after_output.py')

    assert response.status_code == 200
    assert response.text == 'kept output\n'


def test_main_visible_from_imported_module(server):
    root = str(Path(server.root).resolve())
    response = server.get('/show_main.py')

    assert response.status_code == 200
    assert response.text == '__main__|main-marker|%s\n' % os.path.join(root, 'show_main.py')


def test_server_dict(server):
    root = str(Path(server.root).resolve())
    response = server.get('/server_dict.py?a=1&b=2')

    assert response.text == 'dict GET /server_dict.py a=1&b=2 %s\n' % root


def test_globals_builtin(server):
    assert server.get('/globals_builtin.py').text == 'True __globals__ from-globals\n'


# --- fresh code -----------------------------------------------------------------

def _rewrite(path: Path, text: str) -> None:
    """Write new content and move the mtime clearly forward."""
    before = path.stat().st_mtime if path.exists() else time.time()
    path.write_text(text)
    later = max(before, time.time()) + 5
    os.utime(path, (later, later))


def test_edited_script_takes_effect_on_same_connection(server):
    script = Path(server.root) / 'edit_me.py'
    script.write_text("print('version one')\n")

    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = client.get('/edit_me.py')
        _rewrite(script, "print('version number two')\n")
        second = client.get('/edit_me.py')
        # same size, only the mtime differs
        _rewrite(script, "print('version number 333')\n")
        third = client.get('/edit_me.py')

    assert first.text == 'version one\n'
    assert second.text == 'version number two\n'
    assert third.text == 'version number 333\n'


def test_edited_local_module_takes_effect_on_same_connection(server):
    root = Path(server.root)
    (root / 'edit_lib.py').write_text("VALUE = 'lib one'\n")
    (root / 'edit_main.py').write_text(
        "import edit_lib\nprint(edit_lib.VALUE, __server__['REMOTE_PORT'])\n")

    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = client.get('/edit_main.py')
        _rewrite(root / 'edit_lib.py', "VALUE = 'lib number two'\n")
        second = client.get('/edit_main.py')

    text1, port1 = first.text.rstrip('\n').rsplit(' ', 1)
    text2, port2 = second.text.rstrip('\n').rsplit(' ', 1)
    assert text1 == 'lib one'
    assert text2 == 'lib number two'
    assert port1 == port2  # really the same keep-alive connection


def test_unchanged_script_is_not_recompiled(server):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = client.get('/code_id.py').text.split()
        second = client.get('/code_id.py').text.split()

    # the same code object (its constants tuple) is reused from the cache
    assert first[0] == second[0]
    assert first[1] == second[1]


# --- end of script ----------------------------------------------------------------

def _finalized(server: Server, token: str) -> bool:
    deadline = time.monotonic() + 3

    while True:
        seen = server.get('/finalize_check.py').text.strip().split(',')

        if token in seen or time.monotonic() > deadline:
            return token in seen

        time.sleep(0.05)


def test_namespaces_cleared_after_request(server):
    token = 'tok%d' % time.monotonic_ns()
    assert server.get('/finalize_set.py?' + token).text == 'registered\n'
    assert _finalized(server, token)


def test_local_module_namespaces_cleared_after_request(server):
    token = 'tok%d' % time.monotonic_ns()
    assert server.get('/finalize_import.py?' + token).text == 'imported\n'
    assert _finalized(server, 'lib-' + token)


def test_namespaces_cleared_after_failed_request(server):
    token = 'tok%d' % time.monotonic_ns()
    assert server.get('/finalize_fail.py?' + token).status_code == 500
    assert _finalized(server, 'fail-' + token)
