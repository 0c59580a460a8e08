"""What still differs from a standalone program (docs/writing-pages.md).

A page runs inside the server process, beside other pages, so whatever
belongs to the whole process is shared: os.environ, the working directory
(relative paths start at the document root), sys.argv (argparse,
fileinput), the standard streams as objects (sys.stdout = ...), the logging
configuration, file descriptors 0-2 (what a child process inherits), signal
handlers, and the process itself (os._exit()). And a page is not a process:
it ends without waiting for its threads, pdb talks to the page, exit('text')
writes to it. Each test shows one of these differences against a real
server, the way the document describes it. The last one, a page that
replaces sys.stdout for good, shows what must not happen to the pages after
it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from e2e_util import children, start_server, wait_for

FILES = {
    'set_env.py': '''
        import os
        from httpout import request

        os.environ['SHOP_MODE'] = request.query['mode'][0]
        print('set')
    ''',
    'get_env.py': '''
        import json, os
        print(json.dumps({'SHOP_MODE': os.environ.get('SHOP_MODE'),
                          'QUERY_STRING': os.environ.get('QUERY_STRING'),
                          'server': __server__['QUERY_STRING']}))
    ''',
    '_hold.py': '''
        import os, time

        def hold(folder):
            """Tell the test this page got here, and wait for its go."""
            folder = os.path.abspath(folder)  # the directory may change under it
            open(os.path.join(folder, 'held'), 'w').close()
            deadline = time.monotonic() + 10
            while not os.path.exists(os.path.join(folder, 'release')) and time.monotonic() < deadline:
                time.sleep(0.01)
    ''',
    'move.py': '''
        import os
        from httpout import request
        from _hold import hold

        os.chdir(request.query['dir'][0])
        hold('.')  # relative: now the folder it moved to
        print(os.getcwd())
    ''',
    'cwd.py': '''
        import os
        print(os.getcwd())
    ''',
    'prices.txt': 'the prices at the top\n',
    'shop/prices.txt': 'the prices of the shop\n',
    'shop/list.py': '''
        import os
        print(open('prices.txt').read(), end='')  # relative: to the document root
        print(open(os.path.join(os.path.dirname(__file__), 'prices.txt')).read(), end='')
    ''',
    'argv.py': '''
        import json, sys
        print(json.dumps(sys.argv))
    ''',
    'options.py': '''
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument('--name', default='world')
        print('Hello,', parser.parse_args().name)
    ''',
    'lines.py': '''
        import fileinput
        try:
            for line in fileinput.input():
                print('argv line:', line, end='')
        except OSError as exc:
            print('fileinput.input():', exc)
        for line in fileinput.input('-'):
            print('body line:', line, end='')
    ''',
    'capture.py': '''
        import io, sys
        from httpout import request
        from _hold import hold

        buffer = io.StringIO()
        saved, sys.stdout = sys.stdout, buffer  # capture, the old way
        try:
            print('print() still writes to the page')
            sys.stdout.write('sys.stdout.write() is redirected\\n')
            hold(request.query['dir'][0])
        finally:
            sys.stdout = saved
        print('captured:', repr(buffer.getvalue()))
    ''',
    'writer.py': '''
        import sys
        sys.stdout.write('from writer.py\\n')
    ''',
    'late.py': '''
        import threading, time

        def later():
            time.sleep(0.3)
            print('too late')

        threading.Thread(target=later).start()
        print('page done')
    ''',
    'debugger.py': '''
        total = 41
        breakpoint()
        print('not reached', total + 1)
    ''',
    'fatal.py': '''
        import sys
        print('<p>Loading the settings...</p>')
        sys.exit('<p>fatal: no settings file</p>')
    ''',
    'child.py': '''
        import subprocess, sys
        subprocess.run(['echo', 'child-output-not-captured'])
        done = subprocess.run(['echo', 'child-output-captured'], capture_output=True, text=True)
        print('page:', done.stdout.strip())
    ''',
    'handler.py': '''
        import signal
        try:
            signal.signal(signal.SIGTERM, lambda signum, frame: None)
        except ValueError as exc:
            print('ValueError:', exc)
        print('handler:', signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
    ''',
    'die.py': '''
        import os
        print('this line is never sent')
        os._exit(3)
    ''',
    'slow.py': '''
        import os, time
        print('started in', os.getpid(), flush=True)
        time.sleep(3)
        print('finished')
    ''',
    'pid.py': '''
        import os
        print(os.getpid())
    ''',
}


@contextlib.contextmanager
def holding(server, url: str, folder: Path) -> Iterator[dict]:
    """Request `url` (a page that calls `hold(folder)`) on a thread of its
    own. Inside the block the page is held; after it, the dict has the
    page's response."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        'response', server.get(url + '?dir=' + str(folder))))
    thread.start()
    try:
        assert wait_for((folder / 'held').exists, 10)
        yield result
    finally:
        (folder / 'release').touch()
        thread.join(15)


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp('writing'), FILES)
    yield server
    server.stop()


def test_os_environ_is_the_process_environment(server):
    """A page that sets os.environ changes it for every later request of the
    worker; the request's CGI variables are in __server__, not os.environ."""
    assert server.get('/set_env.py?mode=sale').text == 'set\n'
    seen = json.loads(server.get('/get_env.py?x=1').text)
    assert seen == {'SHOP_MODE': 'sale', 'QUERY_STRING': None, 'server': 'x=1'}


def test_chdir_is_process_wide_and_set_back(server, tmp_path):
    """While a page is in another directory, every page is: relative paths
    in pages running at the same time resolve there. When a page ends (any
    page), httpout sets the directory back to the document root and logs a
    warning: the page that moved cannot count on it either."""
    with holding(server, '/move.py', tmp_path) as move:
        # another page, meanwhile: it starts in move.py's directory ...
        assert server.get('/cwd.py').text == str(tmp_path) + '\n'

    # ... and its end set the directory back, under move.py's feet
    assert move['response'].text == str(server.root) + '\n'
    assert server.get('/cwd.py').text == str(server.root) + '\n'
    assert wait_for(lambda: re.search(r'GET /(cwd|move)\.py\S*: the script changed the '
                                      'working directory', server.log()), 5), server.log()


def test_plain_python_lets_a_page_shadow_the_standard_library(server, tmp_path):
    """The other way round from httpout: python3 puts the script's folder
    first on sys.path, so a program beside json.py imports that file."""
    (tmp_path / 'json.py').write_text("print('this is the page json.py')\n")
    (tmp_path / 'prog.py').write_text('import json\nprint(hasattr(json, "dumps"))\n')
    done = subprocess.run([sys.executable, 'prog.py'], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert done.stdout == 'this is the page json.py\nFalse\n'
    # served, the same two files: json is the standard library's
    server.root.joinpath('prog.py').write_text((tmp_path / 'prog.py').read_text())
    server.root.joinpath('json.py').write_text((tmp_path / 'json.py').read_text())
    assert server.get('/prog.py').text == 'True\n'
    assert server.get('/json.py').text == 'this is the page json.py\n'


def test_relative_paths_start_at_the_document_root(server):
    """Not at the page's folder, as `cd shop && python3 list.py` would."""
    assert server.get('/shop/list.py').text == 'the prices at the top\nthe prices of the shop\n'


def test_sys_argv_is_the_servers_command_line(server):
    argv = json.loads(server.get('/argv.py').text)
    assert argv[1:] == ['--port', str(server.port), str(server.root)]


def test_argparse_and_fileinput_read_the_servers_argv(server):
    page = server.get('/options.py')
    assert page.status_code == 200 and page.text == ''  # argparse's exit(2): a normal end
    assert wait_for(lambda: 'GET /options.py: stderr: __main__.py: error: unrecognized '
                    'arguments: --port %d %s' % (server.port, server.root) in server.log(), 5)

    page = server.post('/lines.py', content=b'one\ntwo\n')
    assert page.text == ("fileinput.input(): [Errno 2] No such file or directory: '--port'\n"
                         'body line: one\nbody line: two\n')


def test_assigning_sys_stdout_is_process_wide(server, tmp_path):
    """`sys.stdout = buffer` (not contextlib.redirect_stdout(), which is
    the request's own): the page's sys.stdout.write() goes to the buffer,
    and so does that of every other page running meanwhile; the page's
    print() still writes to its response."""
    with holding(server, '/capture.py', tmp_path) as capture:
        assert server.get('/writer.py').text == ''  # lost to capture.py's buffer

    # (the server's access log line for writer.py may follow: it too
    # writes to sys.stdout)
    assert capture['response'].text.startswith(
        "print() still writes to the page\n"
        "captured: 'sys.stdout.write() is redirected\\nfrom writer.py\\n")
    assert server.get('/writer.py').text == 'from writer.py\n'  # put back


def test_a_page_ends_without_waiting_for_its_threads(server):
    page = server.get('/late.py')
    assert page.text == 'page done\n'
    assert wait_for(lambda: 'the response has ended' in server.log(), 5), server.log()
    assert 'in later\n' in server.log()  # the thread's traceback


def test_breakpoint_talks_to_the_page_and_quits_at_the_end_of_the_body(server):
    """pdb prompts on sys.stdout (the page) and reads sys.stdin (the body):
    at its end the debugger quits, and BdbQuit is the page's error."""
    page = server.get('/debugger.py')
    assert page.status_code == 200  # the prompt was output: the status stands
    assert page.text.startswith('> %s(3)<module>()\n' % (server.root / 'debugger.py'))
    assert "-> print('not reached', total + 1)\n(Pdb) " in page.text
    assert 'not reached 42' not in page.text
    assert wait_for(lambda: 'GET /debugger.py: script error' in server.log(), 5)
    assert 'bdb.BdbQuit' in server.log()


def test_logging_configuration_is_the_workers(serve):
    """logging.basicConfig() in a page configures the root logger of the
    whole worker: from then on every page's info() is logged, once (the
    server's logger does not propagate to the root). A logger of the site's
    own, set up in __globals__.py, logs each record once too."""
    server = serve({
        '__globals__.py': '''
            import logging
            site_log = logging.getLogger('site')
            site_log.addHandler(logging.StreamHandler())
            site_log.setLevel(logging.INFO)
        ''',
        'shop.py': '''
            import logging
            logging.getLogger('site.shop').info('shop.py says %s', 'hello')
            print('done')
        ''',
        'setup.py': '''
            import logging
            logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
            print('configured')
        ''',
        'quiet.py': '''
            import logging
            logging.getLogger('quiet').info('quiet.py says %s', 'hello')
            print('done')
        ''',
    })
    assert server.get('/quiet.py').text == 'done\n'
    assert server.get('/shop.py').text == 'done\n'
    assert wait_for(lambda: 'shop.py says hello' in server.log(), 5)
    assert server.log().count('shop.py says hello') == 1
    assert server.get('/setup.py').text == 'configured\n'
    assert server.get('/quiet.py').text == 'done\n'
    def quiet_lines():
        return [line for line in server.log().splitlines() if 'quiet.py says hello' in line]

    assert wait_for(quiet_lines, 5), server.log()
    time.sleep(0.2)  # and no second one
    lines = quiet_lines()
    # through the page's stderr, with its request line, and only so
    assert len(lines) == 1, server.log()
    assert all('GET /quiet.py' in line for line in lines), lines


def test_exit_with_text_writes_it_to_the_page(server):
    page = server.get('/fatal.py')
    assert page.status_code == 200
    assert page.text == '<p>Loading the settings...</p>\n<p>fatal: no settings file</p>'


def test_child_processes_write_to_the_servers_stdout(server):
    """sys.stdout is the response, but a child process inherits the
    process's file descriptor 1, the server's own output: capture it."""
    assert server.get('/child.py').text == 'page: child-output-captured\n'
    assert wait_for(lambda: 'child-output-not-captured' in server.log(), 5)


def test_signal_handlers_belong_to_the_server(serve):
    """signal.signal() from a page (a worker thread) raises ValueError; the
    server's own SIGTERM handling stays, and stops it gracefully."""
    server = serve(FILES)
    page = server.get('/handler.py')
    assert page.text == ('ValueError: signal only works in main thread of the main '
                         'interpreter\nhandler: True\n')
    assert server.stop(signal.SIGTERM) == 0


def test_os_exit_ends_the_whole_worker(serve):
    """os._exit() in a page ends its worker process at once: the page's own
    output is lost, the other requests in flight on that worker are cut off,
    and tremolo starts a new worker, which serves the next requests."""
    server = serve(FILES)
    old_pid = int(server.get('/pid.py').text)
    cut = {}

    def slow() -> None:
        with httpx.stream('GET', server.url + '/slow.py', timeout=30) as response:
            cut['head'] = response.status_code
            try:
                for chunk in response.iter_text():
                    cut.setdefault('text', '')
                    cut['text'] += chunk
            except httpx.HTTPError as exc:
                cut['error'] = exc

    reader = threading.Thread(target=slow)
    reader.start()
    assert wait_for(lambda: 'text' in cut, 10)

    with pytest.raises(httpx.RemoteProtocolError):  # no response at all
        httpx.get(server.url + '/die.py', timeout=10)
    reader.join(15)
    assert cut['head'] == 200 and cut['text'] == 'started in %d\n' % old_pid
    assert isinstance(cut['error'], httpx.RemoteProtocolError)  # cut, not finished

    def new_pid():
        try:
            return int(httpx.get(server.url + '/pid.py', timeout=5).text)
        except httpx.HTTPError:  # refused while no worker listens
            time.sleep(0.1)
            return None

    pid = wait_for(new_pid, 15)
    assert pid is not None and pid != old_pid
    assert 'this line is never sent' not in server.log()
    assert os.path.exists('/proc/%d' % server.proc.pid)  # the main process stays


def test_os_exit_with_two_workers_the_other_one_serves(serve):
    """With --worker-num 2, the requests that come while the dead worker is
    being replaced go to the other one: none is refused."""
    server = serve(FILES, '--worker-num', '2')
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + '/die.py', timeout=10)
    # each on a new connection, at once: none is refused, all are answered
    # by a live worker
    answers = [httpx.get(server.url + '/pid.py', timeout=5) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    live = children(server.proc.pid)
    assert {int(a.text) for a in answers} <= set(live), live


def test_a_page_that_replaces_sys_stdout_leaves_later_pages_working(serve):
    """The Python 2 era idiom of forcing UTF-8 output: sys.stdout replaced by
    a wrapper of its buffer, for good. The page's output arrives whole, as
    python3 would flush it at exit, and the pages after it still write to
    their own responses."""
    server = serve({
        'utf8.py': '''
            import io, sys
            sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding='utf-8')
            sys.stdout.write('written to the wrapper\\n')
            print('printed')
        ''',
        'after.py': '''
            import sys
            sys.stdout.write('text of after.py\\n')
            sys.stdout.buffer.write(b'bytes of after.py\\n')
        ''',
    })
    page = server.get('/utf8.py')
    assert sorted(page.text.splitlines()) == ['printed', 'written to the wrapper']
    for _ in range(3):
        assert server.get('/after.py').text == 'text of after.py\nbytes of after.py\n'
    assert 'GET /utf8.py: the script replaced sys.stdout' in server.log()


def test_importing_request_tells_the_server_from_a_terminal(serve, tmp_path):
    """`try: from httpout import request` fails outside the server, even
    where httpout is installed (its own modules have other names)."""
    page = '''
        try:
            from httpout import request
            where = 'server ' + request.query['who'][0]
        except ImportError:
            where = 'terminal'
        print(where)
    '''
    server = serve({'where.py': page})
    program = tmp_path / 'alone' / 'where.py'
    program.parent.mkdir()
    program.write_text((server.root / 'where.py').read_text())

    assert server.get('/where.py?who=web').text == 'server web\n'
    done = subprocess.run([sys.executable, str(program)], cwd=program.parent,
                          capture_output=True, text=True, check=True)
    assert done.stdout == 'terminal\n'
