"""Every code snippet of README.md and docs/*.md is run (issue 5, part 7).

The documents follow one convention (docs/README.md, "About the examples",
and tests/mdsnippets.py): a Python snippet is a whole file named by its
first line, `# hello.py`, a path in the document root; the snippets of one
Markdown file form one document root. For each Markdown file this test
builds that root, starts a real httpout on it and:

- requests every page (a `.py` snippet whose path has no private segment)
  and checks the status the document promises (200 unless the table below
  says otherwise), plus, where the text promises something, what the page
  shows; more URLs (queries, PATH_INFO, POSTs) come from the tables below;
- speaks WebSocket to the WebSocket pages;
- runs the programs (`# serve.py: a program of its own, ...`) with the port
  changed to a free one: `serve.py` must serve the document root as `site/`,
  the WebSocket `client.py` must get its echo;
- runs each `curl` command line against the server (port changed), and
  checks the status and text the document shows;
- checks that the server logged a script error for exactly the pages the
  document says fail, and no other traceback.

Shell snippets: every `python3 -m httpout ...` / `httpout ...` command line
(and the arguments a `docker run` line adds to the image's command) must be
accepted by `httpout.cli.parse_args`; `--help` and `--version` are run.
Commands that install packages, start Docker, or run the test suite
themselves are listed as not run here, with the reason; any other command
fails this test until someone decides how to check it. Configuration
snippets (toml, ini) are used by tests/test_typing.py.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import httpx
import pytest
from websockets.sync.client import connect

from conftest import free_port
from e2e_util import start_server
from httpout import cli
from mdsnippets import DOCS, REPO, Snippet, named_files, snippets


@dataclass
class Check:
    url: str
    status: int = 200
    contains: Tuple[str, ...] = ()
    method: str = 'GET'
    data: Optional[dict] = None
    content: Optional[bytes] = None  # a raw body, instead of a form
    error: bool = False  # the document says this request fails (logged)
    headers: Dict[str, str] = field(default_factory=dict)  # expected, substring


def ok(url: str, *contains: str, **kwargs) -> Check:
    return Check(url, 200, contains, **kwargs)


# What the documents promise, beyond "200 for every page".
CHECKS: Dict[str, List[Check]] = {
    'README.md': [
        ok('/hello.py', 'Hello...', 'and', 'Bye!</pre>'),
        ok('/together.py', '[10, 20, 30]', '40\n'),
        ok('/api.py', '{"hello": "world"}'),
        ok('/api.py/hello?name=Ann', '{"hello": "Ann"}'),
        Check('/api.py/other', 404, ('{"error": "not found"}',)),
        ok('/form.py', '<form method="post">'),
        ok('/form.py', '<p>Hello, Ann &amp; Bob!</p>', method='POST',
           data={'name': 'Ann & Bob'}),
        ok('/upper.py', 'HELLO, WORLD\nBYE\n', method='POST', content=b'hello, world\nbye\n'),
        ok('/visits.py', 'Visit number 1.', headers={'set-cookie': 'visits=1'}),
        ok('/greet.py', 'Hello, world!'),
        ok('/hits.py', 'to this page in this worker.',
           headers={'x-powered-by': 'httpout'}),
        ok('/echo.py', 'Connect to this page with a WebSocket client.'),
        Check('/broken.py', 500, error=True),
    ],
    'getting-started.md': [
        ok('/hello.py', 'Hello...', 'Bye!</pre>'),
        ok('/greet.py?name=Ann', '<h1>Hello, Ann!</h1>', 'You came from 127.0.0.1.'),
    ],
    'builtins.md': [
        ok('/countdown.py', '<pre>\n5\n4\n3\n2\n1\nLift-off!</pre>'),
        ok('/jobs.py', '[0, 1, 4, 9, 16]', '\n49\n', 'gave up after 0.1 s'),
        ok('/exit.py', 'Add <code>?name=...</code>'),
        ok('/exit.py?name=x', '<p>Name given.</p>'),
        ok('/titled.py', '<h1>A titled page</h1>'),
        ok('/server.py', 'SCRIPT_NAME = /server.py<br>'),
        ok('/agent.py', 'Your browser: python-httpx'),
        ok('/price.py', '$10 is about €9.2.'),
    ],
    'request-response.md': [
        ok('/whoami.py', 'GET /whoami.py', headers={'content-type': 'text/plain'}),
        ok('/subscribe.py', '<button>Subscribe</button>'),
        ok('/subscribe.py', 'Subscribed ann@example.org.', method='POST',
           data={'email': 'ann@example.org'}),
        ok('/echo_json.py', '{"you_sent": null}'),
        ok('/upload.py', 'enctype="multipart/form-data"'),
        Check('/old.py', 302, headers={'location': '/new.py'}),
        ok('/export.py', 'name,score\r\nann,3\r\nbob,5\r\n',
           headers={'content-type': 'text/csv', 'content-disposition': 'scores.csv'}),
        ok('/theme.py?theme=dark', 'Theme: dark.', headers={'set-cookie': 'theme=dark'}),
        ok('/late.py', 'headers_sent() is True', 'headers already sent'),
    ],
    'routing.md': [
        ok('/report.py', 'report.py/2024/05'),
        ok('/report.py/2024/05', '<h1>Report for 2024-05</h1>'),
        ok('//report.py//2024///05/', '<h1>Report for 2024-05</h1>'),
        Check('/nope.py/2024', 404),
    ],
    'websocket.md': [
        ok('/echo.py', 'This is a WebSocket endpoint'),
        ok('/shout.py', 'WebSocket only.'),
        ok('/chat.py', 'WebSocket only.'),
        ok('/echo.html', "new WebSocket(", headers={'content-type': 'text/html'}),
    ],
    'globals.md': [
        ok('/views.py', '<h1>My site</h1>', '1 views of this page',
           headers={'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin'}),
        Check('/admin.py', 403, ('Not here.',)),
        ok('/scores.py', '<p>ann: 3</p>', '<p>bob: 5</p>'),
    ],
    'errors.md': [
        Check('/broken.py', 500, error=True),
        ok('/broken.py?count=3', '<p>3 items</p>'),
        ok('/half.py', '<p>First part, sent at once.</p>', error=True),
        ok('/safe.py', '<p>1 items</p>'),
        Check('/safe.py?count=x', 400, ('count must be a number',)),
        Check('/forbidden.py', 403, ('Members only.',)),
        Check('/friendly.py', 500, ('<h1>Sorry</h1>',)),
    ],
    'deployment.md': [
        ok('/visits.py', 'This site has been visited 1 times.'),
        ok('/live.py', '<p>tick 0</p>', '<p>tick 4</p>', headers={'x-accel-buffering': 'no'}),
    ],
    'editor-support.md': [
        ok('/typed.py', '<p>user 1, then user 2, in '),
        ok('/ws_typed.py', 'WebSocket only.'),
    ],
    'sessions.md': [
        ok('/counter.py', '<p>You have been here 1 times.</p>',
           headers={'set-cookie': 'HttpOnly; SameSite=Lax'}),
        ok('/late.py', 'HeadersAlreadySent: headers already sent.'),
        ok('/login.py', 'name="csrf" value="'),
        Check('/login.py', 403, ('The form has expired',), method='POST',
              data={'name': 'ann', 'password': 'demo'}),
        Check('/account.py', 303, headers={'location': 'login.py'}),
        Check('/logout.py', 303, headers={'location': 'login.py'}),
        Check('/members/index.py', 302, headers={'location': '/login.py'}),
    ],
    'migration.md': [
        ok('/session.py', 'Session started.', headers={'set-cookie': 'sid='}),
        ok('/session.py?logout=1', 'Logged out.', headers={'set-cookie': 'Max-Age=0'}),
        ok('/logged.py', 'This visit is in the server log.'),
    ],
    'writing-pages.md': [
        ok('/sales.py', 'month,total\r\n2024-01,310\r\n2024-02,295\r\n',
           headers={'content-type': 'text/csv'}),
        ok('/status.py', '{"healthy": true, "queue": 3}',
           headers={'content-type': 'application/json'}),
        ok('/dot.py', 'PNG', headers={'content-type': 'image/png'}),
        ok('/contact.py', '<form method="post">'),
        ok('/contact.py', '<p>Thanks, Ann &amp; Bob.</p>', method='POST',
           data={'name': 'Ann & Bob'}),
        ok('/average.py', 'POST some numbers, one a line.'),
        ok('/average.py', '3 numbers, average 5.83', method='POST', content=b'3\n4.5\n\n10\n'),
        ok('/stock.py', '<p>tea: 12</p>\n<p>jam: 0</p>\n'),
        ok('/json.py', '{"page": "json.py", "module": "json"}',
           headers={'content-type': 'application/json'}),
        ok('/cart.py', "True\nCart(owner='ann', lines={'tea': 2})\n"),
        ok('/child.py', '<p>Python 3.'),
        ok('/no_signals.py', '<p>As expected: signal only works in main thread'),
        ok('/greet.py', 'Hello, world!'),
        ok('/greet.py?name=Ann&name=Bob', 'Hello, Ann!\nHello, Bob!\n'),
    ],
}

# Tracebacks a document's pages log on purpose, besides script errors.
EXTRA_TRACEBACKS = {'errors.md': ['friendly.py failed']}
# Text the document says reaches the server log.
LOG_SAYS = {
    'builtins.md': ['countdown served'],
    'globals.md': ['pool ready'],
    'migration.md': ['127.0.0.1 asked for /logged.py'],
    'writing-pages.md': ['jam is sold out', 'stock.py checked 2 products'],
}
# The page a `# serve.py` program is checked with.
PROGRAM_PAGE = {'getting-started.md': ok('/greet.py?name=Ann', 'Hello, Ann!'),
                'migration.md': ok('/session.py', 'Session started.')}
# What `curl` lines of a document print.
CURL_EXPECT = {
    '/report.py/2024/05': (200, 'Report for 2024-05'),
    '/.env': (403, ''),
    '/_lib/helpers.py': (404, ''),
    '/data.sqlite': (403, 'Disallowed file extension: .sqlite'),
    '/static/../report.py': (403, 'Unsafe URL detected'),
    '/admin.py': (403, 'Not here.'),
    '/views.py': (200, 'x-content-type-options: nosniff'),
    '/echo_json.py': (None, '{"you_sent": {"a": 1}}'),
    '/upload.py': (None, 'README.md: %d bytes, sha256' % (REPO / 'README.md').stat().st_size),
}
# Shell commands that are not run here, and why.
NOT_RUN = (
    (re.compile(r'^python3 -m pip install\b'), 'installs packages'),
    (re.compile(r'^python3 -m pytest\b'), 'runs this test suite'),
    (re.compile(r'^docker (build|compose)\b'), 'needs a Docker engine (test_deploy checks the files)'),
    (re.compile(r'^cd example/$'), 'part of the mypy line below'),
    (re.compile(r'^python3 -m mypy\b'), 'run by tests/test_typing.py'),
)

# A stand-in for redis-py, for deployment.md's shared counter (no Redis here).
FAKE_REDIS = '''\
import threading

_lock = threading.Lock()
_data = {}


class Redis:
    @classmethod
    def from_url(cls, url):
        assert url.startswith('redis://'), url
        return cls()

    def incr(self, key):
        with _lock:
            _data[key] = _data.get(key, 0) + 1
            return _data[key]
'''


def use_redis(tmp_path: Path, monkeypatch, request) -> None:
    """A real redis-server on a free port when Debian's is installed (with
    redis-py), else the stand-in above on PYTHONPATH."""
    server_binary = shutil.which('redis-server')

    try:
        import redis  # noqa: F401
    except ImportError:
        server_binary = None

    if server_binary is None:
        fakes = tmp_path / 'fakes'
        fakes.mkdir()
        (fakes / 'redis.py').write_text(FAKE_REDIS)
        monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
            filter(None, [str(fakes), os.environ.get('PYTHONPATH')])))
        return

    port = free_port()
    process = subprocess.Popen([server_binary, '--port', str(port), '--bind', '127.0.0.1',
                                '--save', '', '--appendonly', 'no'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    request.addfinalizer(lambda: (process.kill(), process.wait()))
    deadline = time.monotonic() + 10

    while True:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, 'redis-server did not start'
            time.sleep(0.05)

    monkeypatch.setenv('REDIS_URL', 'redis://127.0.0.1:%d/0' % port)


def doc_id(doc: Path) -> str:
    return str(doc.relative_to(REPO))


def pages_of(files: Dict[str, Snippet]) -> List[str]:
    return sorted(name for name in files if name.endswith('.py')
                  and not any(part.startswith('_') for part in name.split('/')))


def checks_for(doc: Path, files: Dict[str, Snippet]) -> List[Check]:
    listed = CHECKS.get(doc.name, [])
    covered = {c.url.split('?')[0] for c in listed}
    checks = [Check('/' + page) for page in pages_of(files) if '/' + page not in covered]
    checks += listed
    # the file each URL names (the part up to .py or .html, see routing.md)
    named = {c.url: re.match(r'/*([^?]*?\.(?:py|html))', c.url) for c in listed}
    missing = [url for url, m in named.items()
               if m is None or (m.group(1) not in files and url != '/nope.py/2024')]
    assert not missing, 'the table names pages that %s no longer has: %s' % (doc.name, missing)
    return checks


def run_check(base_url: str, check: Check) -> Tuple[Check, Optional[str]]:
    """Make the request; return the check and what was wrong, or None."""
    try:
        response = httpx.request(check.method, base_url + check.url, data=check.data,
                                 content=check.content, timeout=30, follow_redirects=False)
    except httpx.HTTPError as exc:
        return check, 'request failed: %r' % exc

    problems = []
    if response.status_code != check.status:
        problems.append('status %d, not %d' % (response.status_code, check.status))
    for text in check.contains:
        if text not in response.text:
            problems.append('%r not in the page' % text)
    for name, text in check.headers.items():
        values = response.headers.get_list(name)
        if not any(text in value for value in values):
            problems.append('header %s: %r not in %r' % (name, text, values))
    if problems:
        return check, '; '.join(problems) + '\n' + response.text[:2000]
    return check, None


def websocket_checks(doc: Path, url: str) -> None:
    names = named_files(doc)
    if 'echo.py' in names and doc.name in ('README.md', 'websocket.md'):
        with connect(url + '/echo.py', open_timeout=10) as ws:
            for message in ('hello', 'ünïcode ✓', b'\x00\x01binary'):
                ws.send(message)
                assert ws.recv(timeout=10) == message
    if 'shout.py' in names:
        with connect(url + '/shout.py', open_timeout=10) as ws:
            assert ws.recv(timeout=10) == 'Say something; "bye" to leave.'
            ws.send('hello')
            assert ws.recv(timeout=10) == 'HELLO'
            ws.send('bye')
            with pytest.raises(Exception):
                ws.recv(timeout=10)
    if 'chat.py' in names:
        with connect(url + '/chat.py', open_timeout=10) as one, \
                connect(url + '/chat.py', open_timeout=10) as two:
            # the second client is registered once its first message is seen
            two.send('two is here')
            assert two.recv(timeout=10) == 'two is here'
            assert one.recv(timeout=10) == 'two is here'
            one.send('hi all')
            assert one.recv(timeout=10) == 'hi all'
            assert two.recv(timeout=10) == 'hi all'
    if 'ws_typed.py' in names:
        with connect(url + '/ws_typed.py', open_timeout=10) as ws:
            ws.send('typed')
            assert ws.recv(timeout=10) == 'typed'


def with_port(text: str, port: int) -> str:
    return re.sub(r'\b8000\b', str(port), text)


def run_program(snippet: Snippet, doc: Path, root: Path, server_url: str,
                tmp_path: Path) -> None:
    work = tmp_path / ('program-' + snippet.name.replace('/', '_'))
    work.mkdir()

    if snippet.name == 'serve.py':
        port = free_port()
        assert "document_root='site/'" in snippet.text
        shutil.copytree(root, work / 'site')
        (work / 'serve.py').write_text(with_port(snippet.text, port))
        log = work / 'serve.log'
        with open(log, 'wb') as out:
            proc = subprocess.Popen([sys.executable, 'serve.py'], cwd=work, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, 'serve.py exited:\n' + log.read_text()
                try:
                    socket.create_connection(('127.0.0.1', port), 0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, 'serve.py did not listen:\n' + log.read_text()
                    time.sleep(0.05)
            check = PROGRAM_PAGE.get(doc.name) or Check('/' + pages_of(named_files(doc))[0])
            _, problem = run_check('http://127.0.0.1:%d' % port, check)
            assert problem is None, 'serve.py, %s: %s' % (check.url, problem)
        finally:
            proc.send_signal(signal.SIGTERM)  # to the program, which stops its worker
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert 'Traceback' not in log.read_text(), log.read_text()

    elif snippet.name == 'client.py':
        port = int(server_url.rsplit(':', 1)[1])
        (work / 'client.py').write_text(with_port(snippet.text, port))
        done = subprocess.run([sys.executable, 'client.py'], cwd=work, capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout == 'hello\n', done.stdout

    else:
        pytest.fail('%s: no way to run the program %s is known to this test'
                    % (snippet.where, snippet.name))


def commands(snippet: Snippet) -> List[str]:
    """The commands of a shell snippet: continuation lines joined, `&&`
    chains split, comments dropped; each one quoted for shlex.split()."""
    found = []
    for line in snippet.text.replace('\\\n', ' ').splitlines():
        tokens = shlex.split(line, comments=True)  # drops '# ...'
        while tokens:
            end = tokens.index('&&') if '&&' in tokens else len(tokens)
            found.append(shlex.join(tokens[:end]))
            tokens = tokens[end + 1:]
    return found


def run_curl(command: str, url: str, doc: Path) -> None:
    port = int(url.rsplit(':', 1)[1])
    args = shlex.split(with_port(command, port))
    done = subprocess.run(args + ['--silent', '--show-error', '--max-time', '20'],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)

    target = next(a for a in args if a.startswith('http://'))
    path = target.split(str(port), 1)[1]
    status, text = CURL_EXPECT.get(path, (None, ''))
    head = done.stdout.split('\r\n', 1)[0]
    if status is not None:
        assert head.startswith('HTTP/1.1 %d' % status), (command, done.stdout[:500])
    assert text.lower() in done.stdout.lower(), (command, text, done.stdout[:2000])
    assert not head.startswith('HTTP/1.1 5'), (command, done.stdout[:500])


# --- the tests -----------------------------------------------------------------------

def test_every_snippet_is_accounted_for():
    """A snippet none of these tests would run is an error: it must be a
    named file, a program, shell commands, or plain text."""
    problems = []
    for doc in DOCS:
        for snippet in snippets(doc):
            if snippet.lang == 'text':
                continue
            if snippet.lang == 'sh':
                continue
            if snippet.lang in ('python', 'html') and snippet.name is None:
                problems.append('%s: a %s snippet without its file name on the first line'
                                % (snippet.where, snippet.lang))
            elif snippet.lang in ('toml', 'ini'):
                if doc.name != 'editor-support.md' or snippet.name is None:
                    problems.append('%s: no test uses this %s snippet' % (snippet.where, snippet.lang))
            elif snippet.lang not in ('python', 'html'):
                problems.append('%s: code block of unknown language %r: mark it text, '
                                'or teach tests/test_docs.py to run it'
                                % (snippet.where, snippet.lang))
        try:
            named_files(doc)
        except ValueError as exc:
            problems.append(str(exc))
    assert not problems, '\n'.join(problems)


def test_relative_links_resolve():
    problems = []
    for doc in DOCS:
        text = doc.read_text()
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if re.match(r'[a-z]+:', target):
                continue
            path, _, anchor = target.partition('#')
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                problems.append('%s: link to %s, which does not exist' % (doc_id(doc), target))
                continue
            if anchor and file.suffix == '.md':
                slugs = {slug(h) for h in re.findall(r'^#+ (.*)$', file.read_text(), re.M)}
                if anchor not in slugs:
                    problems.append('%s: link to %s: no such heading' % (doc_id(doc), target))
    assert not problems, '\n'.join(problems)


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = heading.strip().lower().replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def sh_commands(doc: Path) -> List[Tuple[Snippet, str]]:
    """Every shell command of a document, with its snippet."""
    return [(snippet, command) for snippet in snippets(doc) if snippet.lang == 'sh'
            for command in commands(snippet)]


def has_code(doc: Path) -> bool:
    return bool(named_files(doc, langs=('python', 'html')) or
                any(s.lang == 'python' and s.is_program for s in snippets(doc)))


# only the documents with something to run, so that no test is a no-op
DOCS_WITH_COMMANDS = [doc for doc in DOCS if sh_commands(doc)]
DOCS_WITH_CODE = [doc for doc in DOCS if has_code(doc)]


@pytest.mark.parametrize('doc', DOCS_WITH_COMMANDS, ids=doc_id)
def test_httpout_command_lines_parse(doc, tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    cert = tmp_path / 'cert.pem'
    cert.write_text('not read by parse_args\n')

    for snippet, command in sh_commands(doc):
        args = shlex.split(command)
        if args[:3] == ['python3', '-m', 'httpout']:
            argv = args[3:]
        elif args[0] == 'httpout':
            argv = args[1:]
        elif args[:2] == ['docker', 'run']:
            # arguments after the image name go after the image's command
            image = max(i for i, a in enumerate(args) if a == 'httpout')
            argv = ['--host', '0.0.0.0', '--port', '8000', '/srv/www'] + args[image + 1:]
        else:
            why = [reason for pattern, reason in NOT_RUN if pattern.search(command)]
            if not why and not args[0] == 'curl':
                pytest.fail('%s: no test runs %r' % (snippet.where, command))
            continue

        argv = [substitute(arg, root, cert) for arg in argv]
        try:
            options = cli.parse_args(argv)
        except cli.UsageError as exc:
            pytest.fail('%s: %r: %s' % (snippet.where, command, exc))

        if options.action is not None:
            done = subprocess.run([sys.executable, '-m', 'httpout', *argv],
                                  capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
            expected = 'Usage: ' if options.action == 'help' else 'httpout '
            assert done.stdout.startswith(expected), done.stdout


def substitute(arg: str, root: Path, cert: Path) -> str:
    """Paths that only exist on the reader's machine: a document root
    becomes a temporary folder, a certificate file a temporary file."""
    if arg.endswith('.pem') and not os.path.exists(arg):
        return str(cert)
    if '://' in arg:  # a URL, such as --session-store's
        return arg
    if not arg.startswith('-') and ('/' in arg) and not (REPO / arg).is_dir() \
            and not re.match(r'^[\d.:\[\]]+$', arg):
        return str(root)
    if not arg.startswith('-') and (REPO / arg).is_dir():
        return str(REPO / arg)
    return arg


@pytest.mark.parametrize('doc', DOCS_WITH_CODE, ids=doc_id)
def test_doc_snippets_run(doc, tmp_path, monkeypatch, request):
    files = named_files(doc, langs=('python', 'html'))
    programs = [s for s in snippets(doc) if s.lang == 'python' and s.is_program]
    curls = [c for s in snippets(doc) if s.lang == 'sh' for c in commands(s)
             if c.startswith('curl ')]
    assert files or programs

    if any('import redis' in s.text for s in files.values()):
        use_redis(tmp_path, monkeypatch, request)

    server = start_server(tmp_path, {name: s.text for name, s in files.items()},
                          '--thread-pool-size', '32')
    try:
        checks = checks_for(doc, files)
        # pages run at once: several of them sleep on purpose
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda c: run_check(server.url, c), checks))
        failures = ['%s %s: %s' % (c.method, c.url, problem)
                    for c, problem in results if problem]
        assert not failures, '\n\n'.join(failures) + '\n\nlog:\n' + server.log()

        websocket_checks(doc, server.url.replace('http://', 'ws://'))
        for program in programs:
            run_program(program, doc, server.root, server.url, tmp_path)
        for command in curls:
            run_curl(command, server.url, doc)
    finally:
        server.stop()

    log = server.log_path.read_text(errors='replace')
    failed = set(re.findall(r' \S+ (\w+) (\S+): script error$', log, re.M))
    expected = {(c.method, c.url) for c in checks if c.error}
    assert failed == expected, 'script errors logged %s, expected %s:\n%s' % (
        sorted(failed), sorted(expected), log)

    tracebacks = log.count('Traceback (most recent call last)')
    extras = sum(log.count(marker) for marker in EXTRA_TRACEBACKS.get(doc.name, []))
    assert tracebacks == len(failed) + extras, log

    for text in LOG_SAYS.get(doc.name, []):
        assert text in log, (text, log)
