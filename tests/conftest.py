"""Test helpers: real httpout servers on free loopback ports.

Every end-to-end test talks HTTP to a real `python -m httpout` process; the
`serve` fixture starts one over a temporary document root built from a dict
of file names to contents, and stops it (and checks its log) afterwards.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_tree(root: Path, files: dict) -> None:
    """Create `files` ({relative path: text or bytes}) under `root`.
    Text is dedented, so tests can write scripts inline."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)

        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip('\n'))


class Server:
    """A running `python -m httpout` process and its captured log."""

    def __init__(self, root: Path, args: list, log_path: Path, stdin=None) -> None:
        self.root = root
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'httpout', '--port', str(self.port),
             *args, str(root)],
            stdin=stdin, stdout=self._log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED='1'),
            start_new_session=True,  # its own process group: stop() ends the workers too
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('httpout exited early:\n' + self.log())
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)

        raise RuntimeError('httpout did not start:\n' + self.log())

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def stop(self, sig: Optional[int] = None, timeout: float = 15) -> int:
        """Stop the server; with a signal (signal.SIGTERM), the way an
        operator would, waiting for a graceful exit and returning its status.
        Without, at once: the process group is killed (tremolo's graceful
        shutdown takes about 1.5 s, too long for every test's teardown)."""
        self.client.close()

        if self.proc.poll() is None:
            if sig is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

        self._log.close()
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """serve(files, *args, root=None) -> Server on a fresh document root.

    The document root is `tmp_path / 'www'`, so tests can put files *outside*
    it (in `tmp_path`) to check that they never leak."""
    servers = []

    def start(files: Optional[dict] = None, *args: str,
              root: Optional[Path] = None) -> Server:
        if root is None:
            root = tmp_path / 'www'
            root.mkdir(exist_ok=True)
            write_tree(root, files or {})

        server = Server(root, list(args), tmp_path / ('server%d.log' % len(servers)))
        servers.append(server)
        return server

    yield start

    for server in servers:
        server.stop()
