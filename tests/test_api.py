"""End-to-end tests of the public Python API (kept from httpout 0.1.x):

    app = tremolo.Application()
    HTTPOut(app)
    app.run(host=..., port=..., document_root=..., debug=...)

run in a subprocess, as a user's own launcher file would be.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port, write_tree

LAUNCHER = '''
import sys

import tremolo
from httpout import HTTPOut

app = tremolo.Application()
HTTPOut(app)

options = dict(host='127.0.0.1', port=int(sys.argv[1]), debug=True)

if len(sys.argv) > 2:
    options['document_root'] = sys.argv[2]

app.run(**options)
'''

FILES = {
    'index.py': '''
        print('index of', __server__['SCRIPT_NAME'])
    ''',
    'hello.py': '''
        import os
        print('hello', __name__, os.getcwd() == __server__['DOCUMENT_ROOT'])
    ''',
    'style.css': 'body { color: red }\n',
    '_private.py': '''
        print('never routed')
    ''',
    'fail.py': '''
        raise ValueError('<i>api-debug</i>')
    ''',
}


class Launched:
    def __init__(self, tmp: Path, root: Path, pass_root: bool = True,
                 cwd: Path = None) -> None:
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        launcher = tmp / 'launch.py'
        launcher.write_text(LAUNCHER)
        self.log_path = tmp / ('api-%d.log' % self.port)
        self._log = open(self.log_path, 'wb')
        args = [sys.executable, str(launcher), str(self.port)]

        if pass_root:
            args.append(str(root))

        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=str(cwd or tmp),
                                     env=dict(os.environ, PYTHONUNBUFFERED='1'))
        deadline = time.monotonic() + 15

        while True:
            if self.proc.poll() is not None:
                raise RuntimeError('launcher exited early:\n' + self.log())
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError('launcher did not start:\n' + self.log())
                time.sleep(0.05)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope='module')
def launched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('api')
    root = tmp / 'www'
    root.mkdir()
    write_tree(root, FILES)
    server = Launched(tmp, root)
    server.root = root
    yield server
    server.stop()


def test_api_serves_a_script(launched):
    response = launched.get('/hello.py')

    assert response.status_code == 200, launched.log()
    assert response.text == 'hello __main__ True\n'
    assert response.headers['content-type'] == 'text/html; charset=utf-8'


def test_api_serves_a_static_file(launched):
    response = launched.get('/style.css')

    assert response.status_code == 200
    assert response.text == 'body { color: red }\n'
    assert response.headers['content-type'].startswith('text/css')


def test_api_directory_index_by_default(launched):
    response = launched.get('/')

    assert response.status_code == 200
    assert response.text == 'index of /index.py\n'


def test_api_debug_option_shows_escaped_traceback(launched):
    response = launched.get('/fail.py')

    assert response.status_code == 500
    assert '&lt;i&gt;api-debug&lt;/i&gt;' in response.text
    assert '<i>api-debug</i>' not in response.text


def test_api_refuses_like_the_cli(launched):
    assert launched.get('/missing.py').status_code == 404
    assert launched.get('/_private.py').status_code == 404
    assert launched.get('/.hidden.py').status_code == 403


def test_api_document_root_defaults_to_working_directory(tmp_path):
    root = tmp_path / 'site'
    root.mkdir()
    write_tree(root, {'here.py': "print('served from cwd')\n"})
    server = Launched(tmp_path, root, pass_root=False, cwd=root)

    try:
        response = server.get('/here.py')
        assert response.status_code == 200, server.log()
        assert response.text == 'served from cwd\n'
    finally:
        server.stop()
