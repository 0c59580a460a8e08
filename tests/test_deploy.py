"""Deployment: the Dockerfile, docker-compose.yml and a real nginx in front of
two httpout processes (issue 5, parts 4 and 5; docs/deployment.md).

Docker cannot run here, so the container files are checked by reading them,
and the parts of them that are plain commands (the entry point, the health
check, the compose command line) are run against a local server.

The nginx tests run the shipped deploy/nginx/httpout.conf, with loopback
addresses put in, in front of two `python -m httpout --trusted-proxy
127.0.0.1` processes. nginx is required, not optional: without it these tests
fail (CI installs it; locally `apt-get install -y nginx`). Like the other
tests that need Debian packages they are marked `system`: the plain `pytest`
leaves them out, `pytest -m system` (run by .ci/run) runs them. They write what
they observe (pids, latencies, echoes, addresses) to the terminal, so that
the CI log shows it.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from conftest import Server, free_port, write_tree

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / 'Dockerfile'
DOCKERIGNORE = REPO / '.dockerignore'
COMPOSE = REPO / 'deploy' / 'docker-compose.yml'
NGINX_CONF = REPO / 'deploy' / 'nginx' / 'httpout.conf'


_capture = None  # pytest's capture manager, while output is captured


@pytest.fixture(autouse=True, scope='module')
def _observations_to_terminal(request):
    global _capture
    _capture = request.config.pluginmanager.getplugin('capturemanager')
    yield
    _capture = None


def observe(message: str) -> None:
    """Show an observation in the CI log whatever the capture mode (the
    same as printing inside `capsys.disabled()`)."""
    if _capture is None:
        print('[deploy] ' + message, flush=True)
        return
    with _capture.global_and_fixture_disabled():
        print('\n[deploy] ' + message, end='', flush=True)


# --- Dockerfile --------------------------------------------------------------

def dockerfile_instructions(text: str) -> List[tuple]:
    """[(INSTRUCTION, arguments)], with comments dropped and `\\`
    continuations joined. Enough of Docker's syntax for our own file."""
    instructions = []
    pending = ''

    for line in text.splitlines():
        stripped = line.strip()

        if not pending and (not stripped or stripped.startswith('#')):
            continue
        if pending and stripped.startswith('#'):  # comment inside a RUN
            continue

        if stripped.endswith('\\'):
            pending += stripped[:-1] + ' '
            continue

        full = pending + stripped
        pending = ''
        keyword, _, args = full.partition(' ')
        instructions.append((keyword.upper(), args.strip()))

    assert not pending, 'Dockerfile ends with a line continuation'
    return instructions


def exec_form(args: str) -> List[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    assert args.startswith('['), 'not exec form (a JSON array): %s' % args
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


@pytest.fixture(scope='module')
def dockerfile() -> List[tuple]:
    assert DOCKERFILE.is_file(), 'no Dockerfile at the repository root'
    return dockerfile_instructions(DOCKERFILE.read_text())


def only(instructions: List[tuple], keyword: str) -> List[str]:
    return [args for kw, args in instructions if kw == keyword]


def entrypoint(instructions: List[tuple]) -> List[str]:
    entry = only(instructions, 'ENTRYPOINT')
    assert len(entry) == 1, 'one ENTRYPOINT expected, found %r' % entry
    return exec_form(entry[0])


def healthcheck_command(instructions: List[tuple]) -> List[str]:
    checks = only(instructions, 'HEALTHCHECK')
    assert len(checks) == 1, 'one HEALTHCHECK expected'
    options, sep, command = checks[0].partition('CMD ')
    assert sep, 'HEALTHCHECK without CMD: %s' % checks[0]
    assert 'NONE' not in options
    return exec_form(command.strip())


def test_dockerfile_essentials(dockerfile):
    # a slim Python 3.11 base
    bases = only(dockerfile, 'FROM')
    assert bases, 'no FROM'
    assert re.fullmatch(r'python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:\w+)?'
                        r'(\s+AS\s+\w+)?', bases[-1], re.I), bases[-1]

    # the package comes from the source tree, with no pip cache left behind
    runs = only(dockerfile, 'RUN')
    installs = [run for run in runs if 'pip install' in run]
    assert installs, 'the package is never pip installed'
    assert any(re.search(r'pip install\b.*\s["\']?\.(["\'\[$]|\s|$)', run)
               for run in installs), 'no `pip install .` of the source tree'
    env = ' '.join(only(dockerfile, 'ENV'))
    cache_off_by_env = re.search(r'\bPIP_NO_CACHE_DIR=(1|true|yes|on)\b', env, re.I)
    for run in installs:
        assert '--no-cache-dir' in run or cache_off_by_env, \
            'pip install keeps a cache: %s' % run
        assert ' -e ' not in run and '--editable' not in run, run
    assert not any('pip cache' in run and 'purge' not in run for run in runs)

    copied = ' '.join(only(dockerfile, 'COPY') + only(dockerfile, 'ADD'))
    for needed in ('pyproject.toml', 'httpout', 'example'):
        assert needed in copied, '%s is not copied into the image' % needed

    # a non-root user, in effect from the USER line to the end
    users = [(i, args) for i, (kw, args) in enumerate(dockerfile) if kw == 'USER']
    assert users, 'the image runs as root: no USER'
    last_index, user = users[-1]
    name = user.split(':')[0]
    assert name not in ('root', '0', ''), 'USER %s is root' % user
    assert all(kw not in ('RUN',) for kw, _ in dockerfile[last_index:]), \
        'RUN after the final USER: keep the image build steps above it'
    # it exists: created with a fixed uid, or given as a number
    assert name.isdigit() or any(
        re.search(r'useradd\b.*\b%s\s*($|&&|;)' % re.escape(name), run)
        or re.search(r'adduser\b.*\b%s\b' % re.escape(name), run)
        for run in runs), 'USER %s is never created' % name

    # the port, the health check and the entry point
    assert '8000' in ' '.join(only(dockerfile, 'EXPOSE')).split()
    health = healthcheck_command(dockerfile)
    assert health[0].startswith('python') and '8000' in ' '.join(health)

    command = entrypoint(dockerfile) + [
        arg for cmd in only(dockerfile, 'CMD') for arg in exec_form(cmd)]
    assert command[:3] == ['python', '-m', 'httpout'] or command[0] == 'httpout'
    assert command[-1] == '/srv/www', 'document root is not /srv/www'
    assert ['--host', '0.0.0.0'] == command[command.index('--host'):][:2]
    assert ['--port', '8000'] == command[command.index('--port'):][:2]

    # no secrets or caches in the image's build context
    ignored = DOCKERIGNORE.read_text().split()
    for name in ('.git', '**/__pycache__', 'tests', '.venv'):
        assert name in ignored, '.dockerignore lacks %s' % name
    for name in ('pyproject.toml', 'README.md', 'LICENSE', 'httpout', 'example'):
        assert (REPO / name).exists() and name not in ignored, name
    observe('Dockerfile: FROM %s, USER %s, ENTRYPOINT %s'
            % (bases[-1], user, shlex.join(command)))


def wait_for_text(log: Path, text: str, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors='replace'):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_port(port: int, proc: subprocess.Popen, log: Path,
                  timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail('exited with %s:\n%s' % (proc.returncode, log.read_text()))
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail('did not start:\n' + log.read_text())
            time.sleep(0.05)


def test_dockerfile_commands_run(dockerfile, tmp_path):
    """The entry point's command line starts a working server on a copy of
    the image's document root, and the health check passes against it and
    fails when nothing listens."""
    root = tmp_path / 'www'
    shutil.copytree(REPO / 'example', root,
                    ignore=shutil.ignore_patterns('__pycache__'))
    port = free_port()
    command = entrypoint(dockerfile)
    # the same command with this venv's python
    args = command[1:] if command[0] == 'python' else ['-m', 'httpout'] + command[1:]
    # same options, but on a free loopback port and the local copy
    args = [str(port) if a == '8000' else '127.0.0.1' if a == '0.0.0.0'
            else str(root) if a == '/srv/www' else a for a in args]
    log = open(tmp_path / 'entry.log', 'wb')
    proc = subprocess.Popen([sys.executable] + args, stdout=log,
                            stderr=subprocess.STDOUT)
    health = healthcheck_command(dockerfile)
    health = [sys.executable if a == 'python' else a for a in health]
    code = ''.join(health[2:]).replace('8000', str(port))
    try:
        wait_for_port(port, proc, tmp_path / 'entry.log')
        ok = subprocess.run([health[0], '-c', code], capture_output=True,
                            timeout=20)
        assert ok.returncode == 0, ok.stderr.decode()
        # it asked the entry point's --health-path, which no file answers
        path = args[args.index('--health-path') + 1]
        assert not (root / path.lstrip('/')).exists()
        assert wait_for_text(tmp_path / 'entry.log', '"GET %s HTTP/1.1" 200 3 ' % path)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    down = subprocess.run([health[0], '-c', code], capture_output=True,
                          timeout=20)
    assert down.returncode != 0
    assert proc.returncode == 0, 'httpout did not stop cleanly on SIGTERM'
    observe('health check: exit %d while serving, %d when down'
            % (ok.returncode, down.returncode))


# --- docker-compose.yml --------------------------------------------------------

def compose_services(text: str) -> Dict[str, str]:
    """{service name: its block of text}, from the top-level `services:`
    mapping (two-space indentation). No YAML library is needed for this."""
    services: Dict[str, str] = {}
    block = re.search(r'^services:\n(.*?)(?=^\S|\Z)', text, re.M | re.S)
    assert block, 'no top-level services:'
    current = None

    for line in block.group(1).splitlines():
        match = re.match(r'^  ([A-Za-z0-9_.-]+):', line)
        if match:
            current = match.group(1)
            services[current] = ''
        elif current:
            services[current] += line + '\n'

    return services


def test_compose_file():
    text = COMPOSE.read_text()
    assert '\t' not in text, 'tabs are not allowed in YAML'

    try:  # a full parse when PyYAML happens to be installed
        import yaml
    except ImportError:
        pass
    else:
        assert isinstance(yaml.safe_load(text)['services'], dict)

    services = compose_services(text)
    upstreams = re.findall(r'^\s*server\s+([\w.-]+):8000\b', NGINX_CONF.read_text(), re.M)
    assert len(upstreams) >= 2, 'the nginx upstream needs two or more instances'

    subnet = re.search(r'subnet:\s*"?([\d.]+/\d+)', text)
    assert subnet, 'the compose network needs a fixed subnet for --trusted-proxy'

    from httpout.cli import parse_args

    trusted_values = set()
    for name in upstreams:
        assert name in services, 'upstream %s is not a compose service' % name
        service = services[name]
        # built from the repository's Dockerfile (the file's folder is deploy/)
        assert re.search(r'^\s+context:\s*\.\.\s*$', service, re.M), service
        assert re.search(r'^\s+dockerfile:\s*Dockerfile\s*$', service, re.M), service
        # the document root, read-only, and a read-only container
        assert re.search(r'^\s+- \S+:/srv/www:ro\s*$', service, re.M), service
        assert re.search(r'^\s+read_only:\s*true\s*$', service, re.M), service
        assert not re.search(r'^\s+user:\s*"?(root|0)\b', service, re.M), service
        assert not re.search(r'^\s+ports:', service, re.M), \
            '%s should be reachable through nginx only' % name

        command = re.search(r'^\s+command:\s*(\[.*\])\s*$', service, re.M)
        assert command, '%s needs a command: [...] with --trusted-proxy' % name
        extra = json.loads(command.group(1))  # a JSON array is YAML too
        trusted = extra[extra.index('--trusted-proxy') + 1]
        assert trusted == subnet.group(1), (trusted, subnet.group(1))
        trusted_values.add(trusted)

    assert (COMPOSE.parent / '..' / 'Dockerfile').resolve() == DOCKERFILE

    # the image's command line plus these options is valid for httpout
    image_args = entrypoint(dockerfile_instructions(DOCKERFILE.read_text()))[3:]
    options = parse_args([str(REPO) if a == '/srv/www' else a
                          for a in image_args + extra])
    assert options.run['trusted_proxies'] == [trusted]

    nginx = services.get('nginx')
    assert nginx, 'no nginx service'
    assert re.search(r'image:\s*nginx', nginx)
    assert re.search(r'nginx/httpout\.conf:/etc/nginx/conf\.d/default\.conf:ro', nginx)
    assert re.search(r':/srv/www:ro\b', nginx), 'nginx serves /static/ from /srv/www'
    for name in upstreams:
        assert name in nginx, 'nginx should depend on %s' % name
    observe('compose: nginx -> %s, --trusted-proxy %s'
            % (', '.join(upstreams), trusted))


# --- nginx in front of two httpout processes -----------------------------------

BIG_PAGE = '''
import os
import time

start = time.monotonic()
line = 'x' * 1023
for _ in range(32 * 1024):
    print(line)
mark = os.path.join(__server__['DOCUMENT_ROOT'], '..', 'marks',
                    __server__['QUERY_STRING'])
with open(mark, 'w') as file:
    file.write('%.2f' % (time.monotonic() - start))
'''

PAGES = {
    'pid.py': '''
        import os
        print(os.getpid(), end='')
        ''',
    'stream.py': '''
        import time
        print('first line')
        time.sleep(2)
        print('second line')
        ''',
    # 32 MiB in 1 KiB lines, then a mark (outside the document root) that
    # says the script has finished, and how long it took
    'big.py': BIG_PAGE,
    'big_accel.py': "from httpout import response\n"
                    "response.set_header('X-Accel-Buffering', 'no')\n" + BIG_PAGE,
    'addr.py': '''
        import json
        print(json.dumps({name: __server__.get(name) for name in (
            'REMOTE_ADDR', 'HTTP_X_FORWARDED_FOR', 'REQUEST_SCHEME',
            'HTTP_HOST')}), end='')
        ''',
    'echo.py': '''
        from httpout import websocket

        async def echo():
            async for message in websocket:
                await websocket.send(message)

        wait(echo())
        ''',
    '__globals__.py': '''
        import os
        from httpout import app

        @app.on_response
        async def served_by(**server):
            server['response'].set_header(b'X-Served-By', b'httpout-%d' % os.getpid())
        ''',
    'static/site.css': 'body { color: black }\n',
    'static/_private.css': 'secret\n',
    'static/tool.py': 'print("ran", end="")\n',
}


def nginx_binary() -> str:
    found = shutil.which('nginx') or next(
        (p for p in ('/usr/sbin/nginx', '/usr/local/sbin/nginx') if os.access(p, os.X_OK)),
        None)
    if found is None:
        pytest.fail('nginx is not installed: these tests need a real nginx '
                    '(Debian: apt-get install -y nginx; CI installs it)',
                    pytrace=False)
    return found


def nginx_version(binary: str) -> tuple:
    out = subprocess.run([binary, '-v'], capture_output=True, text=True)
    match = re.search(r'nginx/(\d+)\.(\d+)\.(\d+)', out.stderr + out.stdout)
    return tuple(map(int, match.groups())) if match else (0, 0, 0)


def site_config(upstreams: List[str], port: int, root: Path,
                naive: bool = False) -> str:
    """deploy/nginx/httpout.conf with our addresses put in. `naive` gives the
    config people often write instead: buffering on and the client's
    X-Forwarded-For appended to (to show what goes wrong then)."""
    text = NGINX_CONF.read_text()
    servers = re.findall(r'^[ \t]*server\s+[\w.-]+:\d+;[ \t]*\n', text, re.M)
    assert len(servers) >= 2, 'upstream servers not found in %s' % NGINX_CONF
    text = text.replace(servers[0], ''.join(
        '    server %s;\n' % address for address in upstreams), 1)
    for line in servers[1:]:
        text = text.replace(line, '', 1)

    replacements = [(r'^(\s*)listen\s+80;', r'\1listen 127.0.0.1:%d;' % port),
                    (r'^(\s*)root\s+/srv/www;', r'\1root %s;' % root)]
    if naive:
        replacements += [
            (r'^(\s*)proxy_buffering\s+off;', r'\1proxy_buffering on;'),
            (r'^(\s*proxy_set_header\s+X-Forwarded-For\s+)\$remote_addr;',
             r'\1$proxy_add_x_forwarded_for;')]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text, flags=re.M)
        assert count == 1, '%r should appear once in %s' % (pattern, NGINX_CONF)

    return text


class Nginx:
    """A real nginx in the foreground with everything under `prefix`."""

    def __init__(self, prefix: Path, site: str) -> None:
        binary = nginx_binary()
        self.prefix = prefix
        prefix.mkdir(parents=True)
        self.port = int(re.search(r'listen 127\.0\.0\.1:(\d+);', site).group(1))
        self.url = 'http://127.0.0.1:%d' % self.port
        mime = '/etc/nginx/mime.types'
        types = ('include %s;' % mime if os.path.exists(mime) else
                 'types { text/css css; text/plain txt; image/png png; '
                 'application/javascript js; }')
        # nginx switches its workers to an unprivileged user only when
        # started as root; that user could not read our temporary
        # directories, so keep root then. Without root, `user` is ignored.
        user = 'user root;' if os.geteuid() == 0 else ''
        conf = prefix / 'nginx.conf'
        conf.write_text('''
%(user)s
daemon off;
worker_processes 1;
pid %(p)s/nginx.pid;
error_log %(p)s/error.log info;
events { worker_connections 256; }
http {
    %(types)s
    default_type application/octet-stream;
    access_log %(p)s/access.log;
    client_body_temp_path %(p)s/client_body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
%(site)s
}
''' % {'user': user, 'p': prefix, 'types': types, 'site': site})
        command = [binary, '-p', str(prefix), '-c', str(conf)]
        if nginx_version(binary) >= (1, 19, 5):  # -e: the log before the config's
            command += ['-e', str(prefix / 'error.log')]
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10

        while True:
            if self.proc.poll() is not None:
                pytest.fail('nginx exited with %s:\n%s\n%s' % (
                    self.proc.returncode, self.proc.stdout.read().decode(),
                    self.error_log()), pytrace=False)
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail('nginx did not start:\n' + self.error_log(),
                                pytrace=False)
                time.sleep(0.05)

    def error_log(self) -> str:
        path = self.prefix / 'error.log'
        return path.read_text(errors='replace') if path.exists() else ''

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def behind_nginx(root: Path, base: Path, started: list, *args: str):
    """Two httpout processes over `root` that trust 127.0.0.1 as their
    proxy (plus `args`), and nginx with the shipped config in front of
    them; each is appended to `started` as it starts, for the caller to
    stop. Returns (the two servers, nginx)."""
    backends = []
    for i in range(2):
        backends.append(Server(root, ['--trusted-proxy', '127.0.0.1', *args],
                               base / ('httpout%d.log' % i)))
        started.append(backends[-1])

    upstreams = ['127.0.0.1:%d' % b.port for b in backends]
    nginx = Nginx(base / 'nginx', site_config(upstreams, free_port(), root))
    started.append(nginx)
    return backends, nginx


class Stack:
    def __init__(self, root: Path, backends: List[Server], nginx: Nginx,
                 naive: Nginx):
        self.root = root
        self.backends = backends
        self.nginx = nginx
        self.naive = naive


@pytest.fixture(scope='module')
def stack(tmp_path_factory) -> Iterator[Stack]:
    """nginx (the shipped config) and a naive variant, both in front of the
    same two httpout processes that trust 127.0.0.1 as their proxy."""
    nginx_binary()  # fail early, before starting anything
    base = tmp_path_factory.mktemp('deploy')
    root = base / 'www'
    root.mkdir()
    (base / 'marks').mkdir()
    write_tree(root, PAGES)
    started: list = []
    try:
        backends, nginx = behind_nginx(root, base, started,
                                       '--health-path', '/healthz', '--metrics-path', '/metrics')
        upstreams = ['127.0.0.1:%d' % b.port for b in backends]
        naive = Nginx(base / 'nginx-naive',
                      site_config(upstreams, free_port(), root, naive=True))
        started.append(naive)
        yield Stack(root, backends, nginx, naive)
        for backend in backends:
            log = backend.log()
            assert 'Traceback' not in log, log
    finally:
        for thing in reversed(started):
            thing.stop()


@pytest.mark.system
def test_health_through_nginx_and_metrics_not(stack):
    with httpx.Client(base_url=stack.nginx.url, timeout=10) as client:
        health = client.get('/healthz')
        assert (health.status_code, health.text) == (200, 'ok\n')
        # nginx does not pass the metrics on, though it connects from a
        # loopback address that httpout trusts
        hidden = client.get('/metrics')
        assert hidden.status_code == 404 and 'httpout_' not in hidden.text

    for backend in stack.backends:  # Prometheus scrapes each instance itself
        direct = backend.get('/metrics')
        assert direct.status_code == 200 and 'httpout_script_threads 16.0' in direct.text


@pytest.mark.system
def test_requests_spread_across_both_instances(stack):
    with httpx.Client(base_url=stack.nginx.url, timeout=10) as client:
        responses = [client.get('/pid.py') for _ in range(20)]

    assert [r.status_code for r in responses] == [200] * 20
    pids = [int(r.text) for r in responses]
    backend_pids = set()
    for backend in stack.backends:  # each instance's worker process
        backend_pids.add(int(backend.client.get('/pid.py').text))
    assert set(pids) == backend_pids and len(backend_pids) == 2, (pids, backend_pids)
    counts = {pid: pids.count(pid) for pid in sorted(set(pids))}
    observe('20 requests through nginx reached worker pids %s' % counts)
    # round robin: close to even
    assert min(counts.values()) >= 5, counts


@pytest.mark.system
def test_streaming_is_unbuffered_through_nginx(stack):
    """A line printed before a 2 s sleep arrives through nginx at once."""
    start = time.monotonic()
    arrivals = []
    with httpx.stream('GET', stack.nginx.url + '/stream.py', timeout=10) as response:
        assert response.status_code == 200
        body = b''
        for chunk in response.iter_raw():
            body += chunk
            arrivals.append((time.monotonic() - start, chunk))
    total = time.monotonic() - start
    first = next(t for t, _ in arrivals if b'first line' in _)
    observe('streaming through nginx: first line after %.3f s, whole page '
            'after %.3f s' % (first, total))
    assert body == b'first line\nsecond line\n'
    assert first < 1.0
    assert total >= 1.9


BIG_PAGE_BYTES = 32 * 1024 * 1024  # well beyond the kernel's socket buffers


@pytest.mark.system
def test_backpressure_through_nginx(stack):
    """What `proxy_buffering off` is for. nginx (1.22, seen here) passes on
    what it has read at once in both modes, so latency alone does not show
    it; the difference is how fast nginx reads from httpout. With buffering
    off it reads only as fast as the client takes the data, so a slow client
    holds the script's print() (bounded memory, and a client that leaves is
    noticed); with buffering on, nginx takes the whole page at once and
    spools it to disk, and the script ends long before the client has read
    it. `X-Accel-Buffering: no` from the script restores the first
    behaviour under a buffering config. The three run at the same time,
    each with a client that pauses after the first bytes."""
    marks = stack.root.parent / 'marks'
    # name: (proxy, page, does the script finish while the client pauses?)
    cases = {'shipped config (proxy_buffering off)': (stack.nginx, 'big.py', False),
             'proxy_buffering on': (stack.naive, 'big.py', True),
             'proxy_buffering on + X-Accel-Buffering: no':
                 (stack.naive, 'big_accel.py', False)}
    results: Dict[str, tuple] = {}

    def slow_client(name: str, nginx: Nginx, page: str, finishes: bool,
                    token: str) -> None:
        url = '%s/%s?%s' % (nginx.url, page, token)
        with httpx.stream('GET', url, timeout=30) as response:
            chunks = response.iter_raw()
            received = len(next(chunks))
            # pause: 1.5 s where the script should be held (it needs ~0.1 s
            # when nothing holds it), longer where it should not be, so that
            # a loaded machine does not make it look held
            deadline = time.monotonic() + (10 if finishes else 1.5)
            while not (marks / token).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            script_done = (marks / token).exists()
            for chunk in chunks:
                received += len(chunk)
        results[name] = (script_done, received, (marks / token).read_text())

    threads = [threading.Thread(target=slow_client, args=(name, *case, 't%d' % i))
               for i, (name, case) in enumerate(cases.items())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)

    for name in cases:
        script_done, received, script_time = results[name]
        observe('slow client, %s: script finished before the client read the '
                'page: %s (script ran %s s); %d bytes received'
                % (name, script_done, script_time, received))
        assert received == BIG_PAGE_BYTES, name  # nothing lost either way

    for name, (_, _, finishes) in cases.items():
        assert results[name][0] is finishes, name


@pytest.mark.system
def test_websocket_echo_through_nginx(stack):
    url = 'ws://127.0.0.1:%d/echo.py' % stack.nginx.port
    with ws_connect(url, open_timeout=10, close_timeout=5) as ws:
        echoed = []
        for message in ('hello', 'through nginx', 'x' * 100_000):
            ws.send(message)
            echoed.append(ws.recv(timeout=10))
        ws.send(b'\x00\x01binary')
        binary = ws.recv(timeout=10)
    assert echoed == ['hello', 'through nginx', 'x' * 100_000]
    assert binary == b'\x00\x01binary'
    observe('websocket echo through nginx: %r, %r, %d chars, %r'
            % (echoed[0], echoed[1], len(echoed[2]), binary))

    # keep-alive HTTP still works on the same proxy afterwards
    with httpx.Client(base_url=stack.nginx.url, timeout=10) as client:
        assert client.get('/pid.py').status_code == 200


def addr(url: str, local_address: Optional[str] = None, **headers) -> dict:
    transport = httpx.HTTPTransport(local_address=local_address)
    with httpx.Client(transport=transport, timeout=10) as client:
        response = client.get(url + '/addr.py', headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


SPOOF = {'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https'}


@pytest.mark.system
def test_remote_addr_is_the_real_client(stack):
    """nginx sends `X-Forwarded-For: $remote_addr`, replacing the client's
    own header, and httpout believes it because the connection comes from
    127.0.0.1, its trusted proxy.

    A client on 127.0.0.2 (still loopback, but not a trusted address) shows
    the forwarding itself: httpout's peer is nginx at 127.0.0.1, yet
    REMOTE_ADDR is 127.0.0.2. A client on 127.0.0.1 gets 127.0.0.1. The
    spoofed 203.0.113.7 and `https` are ignored in both cases."""
    other = addr(stack.nginx.url, '127.0.0.2', **SPOOF)
    assert other['REMOTE_ADDR'] == '127.0.0.2', other
    assert other['HTTP_X_FORWARDED_FOR'] == '127.0.0.2', other
    assert other['REQUEST_SCHEME'] == 'http', other
    assert other['HTTP_HOST'] == '127.0.0.1:%d' % stack.nginx.port, other

    local = addr(stack.nginx.url, None, **SPOOF)
    assert local['REMOTE_ADDR'] == '127.0.0.1', local
    assert local['HTTP_X_FORWARDED_FOR'] == '127.0.0.1', local
    assert local['REQUEST_SCHEME'] == 'http', local
    observe('REMOTE_ADDR through nginx, spoofed X-Forwarded-For 203.0.113.7: '
            'client 127.0.0.2 -> %s, client 127.0.0.1 -> %s'
            % (other['REMOTE_ADDR'], local['REMOTE_ADDR']))

    # Why the shipped config replaces the header: with
    # $proxy_add_x_forwarded_for nginx sends "203.0.113.7, 127.0.0.1";
    # httpout skips hops that are trusted proxies, and 127.0.0.1 is one, so
    # the spoofed address wins for a client whose own address is trusted.
    # (A client outside the trusted range, 127.0.0.2, is still safe.)
    naive = addr(stack.naive.url, None, **SPOOF)
    assert naive['HTTP_X_FORWARDED_FOR'] == '203.0.113.7, 127.0.0.1', naive
    assert naive['REMOTE_ADDR'] == '203.0.113.7', naive
    naive_other = addr(stack.naive.url, '127.0.0.2', **SPOOF)
    assert naive_other['REMOTE_ADDR'] == '127.0.0.2', naive_other
    observe('with $proxy_add_x_forwarded_for instead: client 127.0.0.1 -> %s '
            '(spoofed), client 127.0.0.2 -> %s'
            % (naive['REMOTE_ADDR'], naive_other['REMOTE_ADDR']))

    # A client that reaches a trusting httpout directly, from a trusted
    # address, is believed too: keep httpout's ports private.
    direct = addr(stack.backends[0].url, None, **SPOOF)
    assert direct['REMOTE_ADDR'] == '203.0.113.7', direct


def test_spoofed_header_ignored_without_trusted_proxy(serve):
    server = serve({'addr.py': PAGES['addr.py']})  # no --trusted-proxy
    seen = addr(server.url, None, **SPOOF)
    assert seen['REMOTE_ADDR'] == '127.0.0.1', seen
    assert seen['REQUEST_SCHEME'] == 'http', seen
    assert seen['HTTP_X_FORWARDED_FOR'] == '203.0.113.7', seen  # visible, not believed
    observe('direct, no --trusted-proxy, spoofed X-Forwarded-For: REMOTE_ADDR %s'
            % seen['REMOTE_ADDR'])


@pytest.mark.system
def test_static_files_from_nginx(stack):
    """/static/ assets come from nginx itself (no X-Served-By header from
    httpout's middleware); anything else under /static/ goes to httpout,
    which applies its own rules."""
    with httpx.Client(base_url=stack.nginx.url, timeout=10) as client:
        css = client.get('/static/site.css')
        assert css.status_code == 200 and css.text == PAGES['static/site.css']
        assert 'x-served-by' not in css.headers
        assert css.headers['content-type'].startswith('text/css')

        script = client.get('/static/tool.py')  # run, never sent as source
        assert (script.status_code, script.text) == (200, 'ran')
        assert script.headers['x-served-by'].startswith('httpout-')

        private = client.get('/static/_private.css')
        assert private.status_code == 404 and 'secret' not in private.text
        assert 'x-served-by' in private.headers

        missing = client.get('/static/missing.css')  # try_files fallback
        assert missing.status_code == 404 and 'x-served-by' in missing.headers
    observe('static: site.css from nginx; tool.py, _private.css, missing.css '
            'handed to httpout (200 ran, 404, 404)')
