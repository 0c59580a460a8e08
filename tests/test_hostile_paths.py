"""Hostile request targets against a real server: a corpus of 200+ unsafe
paths (hand-written and generated) plus a hypothesis search, each sent
verbatim over a raw socket, and every response grepped for the secrets.

The fixture tree puts a file with a unique marker string next to the document
root, above it, and inside it under every name that must not be sent
(dotfiles, `.git/`, private `_names`, `__pycache__`, `.py` source, disallowed
extensions, symlinks pointing out of the root or at source). A target passes
when the answer is 400, 403 or 404 (or the server closes the connection
without an answer, counted apart), and no marker appears anywhere in the
response, head or body. A target that runs `app.py` (e.g. through PATH_INFO)
is fine as long as what comes back is exactly its output, "app ok\\n".

Raw sockets, because every HTTP client library normalises `..`, `//` and
percent-escapes before sending.
"""
from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Server, write_tree
from e2e_util import raw_exchange

# --- the fixture tree ---------------------------------------------------------

_RUN = uuid.uuid4().hex


def _marker(name: str) -> str:
    return 'SECRET-%s-%s' % (name, _RUN)


# name -> path relative to the temp dir ('www/' is the document root)
SECRET_FILES = {
    'above': 'secret.txt',
    'above-py': 'secret.py',
    'env': 'www/.env',
    'gitconfig': 'www/.git/config',
    'githead': 'www/.git/HEAD',
    'htpasswd': 'www/.htpasswd',
    'private': 'www/_private.py',
    'privlib': 'www/_lib/mod.py',
    'privhtml': 'www/_lib/page.html',
    'pycache': 'www/__pycache__/x.pyc',
    'pycache2': 'www/__pycache__/app.cpython-311.pyc',
    'globals': 'www/__globals__.py',
    'app': 'www/app.py',
    'sqlite': 'www/db.sqlite',
    'pem': 'www/key.pem',
    'ini': 'www/config.ini',
    'bak': 'www/backup.bak',
    'wellknown': 'www/.well-known/.hidden.txt',
    'sub-env': 'www/sub/.env',
    'sub-py': 'www/sub/page.py',
}
MARKERS = {name: _marker(name) for name in SECRET_FILES}
MARKER_BYTES = [m.encode() for m in MARKERS.values()]
# Also grep for the run id alone: any fragment of any secret file's marker.
RUN_ID = _RUN.encode()

APP_OUTPUT = b'app ok\n'
SUB_OUTPUT = b'sub ok\n'
# Scripts that must never run when asked for over HTTP print these.
PRIVATE_RAN = (b'private ran', b'mod ran')

SYMLINKS = {
    # link in the document root: its target
    'www/link.txt': '../secret.txt',
    'www/link.py': '../secret.py',
    'www/outside': '..',
    'www/src.txt': 'app.py',
    'www/env.txt': '.env',
    'www/git': '.git',
    'www/lib.txt': '_lib/mod.py',
    'www/pyc.txt': '__pycache__/x.pyc',
}


def _content(name: str, rel: str) -> str:
    marker = MARKERS[name]
    if name == 'app':
        return '# %s\nprint("app ok")\n' % marker
    if name == 'sub-py':
        return '# %s\nprint("sub ok")\n' % marker
    if name == 'private':
        return '# %s\nprint("private ran")\n' % marker
    if name == 'privlib':
        return '# %s\nprint("mod ran")\n' % marker
    if name == 'globals':
        return '# %s\nGREETING = "hi"\n' % marker
    if name == 'above-py':
        return '# %s\nprint("above ran")\n' % marker
    if rel.endswith('.pyc'):
        return 'PYC\x00\x00%s\x00' % marker
    if name == 'gitconfig':
        return '[core]\n\trepositoryformatversion = 0\n# %s\n' % marker
    return '%s\nuser=admin\npassword=%s\n' % (marker, marker)


def build_tree(base: Path) -> Path:
    for name, rel in SECRET_FILES.items():
        write_tree(base, {rel: _content(name, rel)})
    for link, target in SYMLINKS.items():
        (base / link).symlink_to(target)
    return base / 'www'


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory):
    base = Path(os.path.realpath(tmp_path_factory.mktemp('hostile')))
    root = build_tree(base)
    # the log goes in a folder of its own, so '/outside/...' can't reach it
    (base / 'logs').mkdir()
    srv = Server(root, ['--log-level', 'INFO'], base / 'logs' / 'server.log')
    yield srv
    srv.stop()  # the log is checked by test_corpus_summary


# --- raw HTTP -------------------------------------------------------------------

class Answer(NamedTuple):
    raw: bytes          # everything the server sent
    status: Optional[int]  # None: closed without a response
    body: bytes         # de-framed body ('' if none)
    elapsed: float


def _dechunk(data: bytes) -> bytes:
    """Undo chunked coding as far as it goes (a cut stream gives what came)."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b'\r\n', pos)
        if end == -1:
            return bytes(out)
        try:
            size = int(data[pos:end].split(b';')[0], 16)
        except ValueError:
            return bytes(out)
        pos = end + 2
        if size == 0:
            return bytes(out)
        out += data[pos:pos + size]
        pos += size + 2


def send_raw(port: int, target: bytes, timeout: float = 10,
             method: bytes = b'GET') -> Answer:
    """Send one request with `target` verbatim, read until EOF."""
    request = (method + b' ' + target + b' HTTP/1.1\r\nHost: x\r\n'
               b'Connection: close\r\n\r\n')
    started = time.monotonic()
    raw = raw_exchange(port, request, timeout)
    elapsed = time.monotonic() - started
    if elapsed > timeout:
        raise AssertionError('no EOF within %gs' % timeout)
    if not raw:
        return Answer(raw, None, b'', elapsed)
    head, _, rest = raw.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    parts = lines[0].split(b' ', 2)
    assert parts[0].startswith(b'HTTP/1.'), raw[:200]
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(b':')
        headers[key.strip().lower()] = value.strip()
    if b'chunked' in headers.get(b'transfer-encoding', b'').lower():
        body = _dechunk(rest)
    elif b'content-length' in headers:
        body = rest[:int(headers[b'content-length'])]
    else:
        body = rest
    return Answer(raw, status, body, elapsed)


# --- judging an answer ------------------------------------------------------------

REFUSED = (400, 403, 404)
STATS: Counter = Counter()
TRIED: List[bytes] = []


def leaks(answer: Answer) -> List[str]:
    """What of the secrets shows in the response (head, raw body, body)."""
    found = []
    for blob in (answer.raw, answer.body):
        for name, marker in MARKERS.items():
            if marker.encode() in blob and name not in found:
                found.append(name)
        if RUN_ID in blob and not found:
            found.append('run-id')
        for text in PRIVATE_RAN:
            if text in blob and text.decode() not in found:
                found.append(text.decode())
    return found


def check(server: Server, target: bytes, allow_redirect: bool = False) -> Answer:
    answer = send_raw(server.port, target)
    TRIED.append(target)
    assert not leaks(answer), (target, leaks(answer), answer.raw[:600])

    if answer.status is None:
        STATS['closed'] += 1
        return answer
    if answer.status in REFUSED:
        STATS[answer.status] += 1
        return answer
    if answer.status == 200 and answer.body in (APP_OUTPUT, SUB_OUTPUT):
        STATS['ran-script'] += 1
        return answer
    if allow_redirect and answer.status == 301:
        # a folder reached through the in-root symlink chain, e.g.
        # '/outside/www': the Location must stay on this site
        location = [line for line in answer.raw.split(b'\r\n\r\n')[0].split(b'\r\n')
                    if line.lower().startswith(b'location:')][0]
        loc = location.split(b':', 1)[1].strip()
        assert loc.startswith(b'/') and not loc.startswith(b'//'), (target, loc)
        assert b'\\' not in loc, (target, loc)
        STATS['301'] += 1
        return answer
    raise AssertionError('%r: got %d, body %r' % (target, answer.status,
                                                 answer.body[:300]))


# --- the corpus -----------------------------------------------------------------

# Hand-written targets, each an attack on its own.
HANDWRITTEN: List[bytes] = [
    # '..' in every spelling
    b'/../secret.txt', b'/../../secret.txt', b'/../www/.env',
    b'/%2e%2e/secret.txt', b'/%2E%2E/secret.txt', b'/%2E%2e/secret.txt',
    b'/%2e%2E/secret.txt', b'/%252e%252e/secret.txt', b'/%252e%252e/',
    b'/%25252e%25252e/secret.txt', b'/..%2fsecret.txt', b'/..%2Fsecret.txt',
    b'/..%252fsecret.txt', b'/%2e%2e%2fsecret.txt', b'/%2e%2e%2Fsecret.txt',
    b'/.%2e/secret.txt', b'/%2e./secret.txt', b'/.%2E/secret.txt',
    b'/\\..\\secret.txt', b'\\..\\secret.txt', b'/..\\secret.txt',
    b'/..%5csecret.txt', b'/..%5Csecret.txt', b'/%2e%2e%5csecret.txt',
    b'/a/../../secret.txt', b'/a/b/../../../secret.txt', b'/./../secret.txt',
    b'/....//secret.txt', b'/...//secret.txt', b'/..../secret.txt',
    b'/.../secret.txt', b'/..;/secret.txt', b'/..%00/secret.txt',
    b'/%c0%ae%c0%ae/secret.txt', b'/%c0%ae%c0%ae%c0%afsecret.txt',
    b'/%e0%80%ae%e0%80%ae/secret.txt', b'/%c0%2e%c0%2e/secret.txt',
    b'/%uff0e%uff0e/secret.txt', b'/\xef\xbc\x8e\xef\xbc\x8e/secret.txt',
    b'/\xc0\xae\xc0\xae/secret.txt', b'/..\xc0\xafsecret.txt',
    b'/%2e%2e/%2e%2e/%2e%2e/etc/passwd', b'/../../../../../../etc/passwd',
    b'/static/..%2f..%2fsecret.txt', b'/app.py/../../secret.txt',
    b'/app.py/..', b'/..', b'/.', b'/%2e', b'/%2e%2e', b'..', b'../secret.txt',
    # absolute and doubled slashes, other request-target forms
    b'//etc/passwd', b'///etc/passwd', b'///../secret.txt', b'//../secret.txt',
    b'//secret.txt', b'/etc/passwd', b'/proc/self/environ',
    b'/proc/self/cmdline', b'/proc/self/cwd/app.py', b'/dev/stdin',
    b'file:///etc/passwd', b'http://x/../secret.txt', b'http://x/.env',
    b'http://x/app.py', b'*', b'secret.txt', b'.env', b'app.py',
    b'//outside/secret.txt', b'///outside//secret.txt',
    # NUL and control characters, encoded and raw
    b'/secret.txt%00', b'/app.py%00', b'/app.py%00.txt', b'/.env%00.txt',
    b'/link.txt%00', b'/%00/../secret.txt', b'/%0a/secret.txt',
    b'/%0d/secret.txt', b'/%0d%0aX-Injected:%201', b'/%09/secret.txt',
    b'/%7f', b'/%1b[31m', b'/\x00', b'/app.py\x00.txt', b'/.env\x00',
    b'/\x01', b'/\x1b[31m', b'/\x7f', b'/a\tb', b'/\x0bsecret.txt',
    b'/\x0csecret.txt', b'/a\nb', b'/\xff', b'/\xfe\xff',
    # over-long paths
    b'/' + b'a' * 255, b'/' + b'a' * 1000, b'/' + b'a' * 8000,
    b'/' + b'a/' * 127 + b'x', b'/' + b'../' * 85 + b'secret.txt',
    b'/' + b'%2e%2e/' * 500 + b'secret.txt', b'/' + b'a' * 9000,
    b'/app.py/' + b'x' * 300,
    # dotfiles and .git/
    b'/.env', b'/.env/', b'/.env.txt', b'/.htpasswd', b'/.htpasswd.txt',
    b'/.git', b'/.git/', b'/.git/config', b'/.git/HEAD', b'/.git/HEAD.txt',
    b'/.git/config.txt', b'//.git/config', b'/./.git/config',
    b'/.GIT/config', b'/%2egit/config', b'/%2Egit/HEAD', b'/.git%2fconfig',
    b'/.git%2Fconfig', b'/.git\\config', b'/git/config', b'/git/HEAD',
    b'/.well-known/.hidden.txt', b'/.well-known/../.env',
    b'/.well-known/%2e%2e/.env', b'/sub/.env', b'/sub//.env',
    b'/.well-known/', b'/.', b'/.txt',
    # _private files and folders, __pycache__, __globals__.py
    b'/_private.py', b'/_private.py/', b'/_private.py/x', b'//_private.py',
    b'/_private', b'/_private.txt', b'/_lib/', b'/_lib', b'/_lib/mod.py',
    b'/_lib/page.html', b'/_lib//page.html', b'/%5flib/mod.py',
    b'/%5f_private.py', b'/__pycache__/', b'/__pycache__',
    b'/__pycache__/x.pyc', b'/__pycache__/app.cpython-311.pyc',
    b'/__globals__.py', b'/__globals__.py/x', b'/__globals__', b'/__init__.py',
    b'/lib.txt', b'/pyc.txt',
    # .py source in every disguise
    b'/app.py.', b'/app.py..', b'/app.PY', b'/app.Py', b'/app.pY', b'/APP.py',
    b'/app.py%20', b'/app.py%2e', b'/app.py/', b'/app.py//', b'/app.py/.',
    b'/app.py::$DATA', b'/app.py:$DATA', b'/app.py%3a%3a$DATA',
    b'/app.py%00.txt', b'/app.py%00.html', b'/app.py.txt', b'/app.py.bak',
    b'/app.py~', b'/app.py.swp', b'/app.py.orig', b'/app.pyc', b'/app.pyo',
    b'/app', b'/app.', b'/app%2epy', b'/app%2Epy', b'/ap%70.py',
    b'/app.py;.txt', b'/app.py?.txt', b'/app.py#.txt', b'/app.py%23.txt',
    b'/app.py%3f.txt', b'/app.py .txt', b'/src.txt', b'//src.txt',
    b'/src.txt/', b'/sub/page.py.', b'/sub/page.PY', b'/sub.py',
    b'/link.py', b'/link.py/x',
    # symlinks out of the root, file and folder
    b'/link.txt', b'//link.txt', b'/link.txt/', b'/outside', b'/outside/',
    b'/outside/secret.txt', b'/outside/secret.py', b'/outside//secret.txt',
    b'/outside/www/.env', b'/outside/www/.git/config', b'/outside/www/key.pem',
    b'/outside/www/_private.py', b'/outside/www/src.txt',
    b'/outside/www/link.txt', b'/outside/outside/secret.txt',
    b'/outside/logs/server.log', b'/outside/www/outside/secret.txt',
    b'/env.txt', b'/outside%2fsecret.txt',
    # disallowed extensions
    b'/db.sqlite', b'/key.pem', b'/config.ini', b'/backup.bak', b'/.env',
    b'/db.sqlite/', b'/db.SQLITE', b'/key.pem.', b'/config.ini%20',
    b'/backup.bak%00.txt', b'/db.sqlite?x=.txt', b'/key.pem#.txt',
]

# Generated: prefixes x payloads.
PREFIXES = [
    b'/', b'//', b'/static/', b'/app.py/', b'/sub/', b'/a/b/c/', b'/./',
    b'/_lib/', b'/.well-known/', b'/outside/', b'/outside/www/', b'/%2f',
    b'\\', b'/%5c',
]
PAYLOADS = [
    b'../secret.txt', b'%2e%2e/secret.txt', b'%252e%252e/secret.txt',
    b'..%2fsecret.txt', b'.%2e/secret.txt', b'%2e./secret.txt',
    b'..\\secret.txt', b'%c0%ae%c0%ae/secret.txt', b'....//secret.txt',
    b'.env', b'.git/config', b'_private.py', b'_lib/mod.py',
    b'__pycache__/x.pyc', b'__globals__.py', b'app.py.', b'app.PY',
    b'app.py%20', b'app.py::$DATA', b'app.py%00.txt', b'src.txt',
    b'link.txt', b'db.sqlite', b'key.pem', b'config.ini', b'backup.bak',
    b'secret.txt%00', b'%00', b'%0d%0a',
]
GENERATED = [prefix + payload for prefix in PREFIXES for payload in PAYLOADS]


def _unique(targets: List[bytes]) -> List[bytes]:
    seen = set()
    out = []
    for target in targets:
        if target not in seen:
            seen.add(target)
            out.append(target)
    return out


CORPUS = _unique(HANDWRITTEN + GENERATED)


def _id(target: bytes) -> str:
    text = target.decode('latin-1').encode('unicode_escape').decode('ascii')
    return text if len(text) <= 60 else '%s...(%d bytes)' % (text[:40], len(target))


def test_fixture_is_live(server: Server) -> None:
    """The tree is what the corpus assumes: the script runs, and the secret
    files are really there (so a pass is not a missing file)."""
    answer = send_raw(server.port, b'/app.py')
    assert (answer.status, answer.body) == (200, APP_OUTPUT)
    answer = send_raw(server.port, b'/sub/page.py')
    assert (answer.status, answer.body) == (200, SUB_OUTPUT)
    base = server.root.parent
    for name, rel in SECRET_FILES.items():
        assert MARKERS[name] in (base / rel).read_bytes().decode('latin-1'), name
    assert (server.root / 'link.txt').read_text() == (base / 'secret.txt').read_text()
    assert (server.root / 'outside' / 'secret.txt').is_file()
    assert len(CORPUS) >= 200


def test_leak_detector_catches_markers() -> None:
    """The grep itself works: a marker in a header, in a body, or split
    across two chunks of a chunked body is found."""
    marker = MARKERS['env'].encode()
    head = b'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n'
    split = b'%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' % (10, marker[:10],
                                                   len(marker) - 10, marker[10:])
    answer = Answer(head + split, 403, _dechunk(split), 0)
    assert 'env' in leaks(answer)
    answer = Answer(b'HTTP/1.1 404 Not Found\r\nX-A: ' + marker + b'\r\n\r\n',
                    404, b'', 0)
    assert 'env' in leaks(answer)
    assert leaks(Answer(b'HTTP/1.1 200 OK\r\n\r\nprivate ran', 200,
                        b'private ran', 0)) == ['private ran']
    assert leaks(Answer(b'HTTP/1.1 404 Not Found\r\n\r\nnope', 404, b'nope', 0)) == []


@pytest.mark.parametrize('target', CORPUS, ids=[_id(t) for t in CORPUS])
def test_hostile_target_refused(server: Server, target: bytes) -> None:
    check(server, target)


# --- hypothesis: random paths from the dangerous pieces -------------------------------

SEGMENTS = [
    b'..', b'.', b'...', b'%2e%2e', b'%2E%2e', b'.%2e', b'%2e.', b'%252e%252e',
    b'%c0%ae%c0%ae', b'..%2f', b'..%5c', b'..\\', b'\\', b'', b'.git',
    b'config', b'HEAD', b'.env', b'.htpasswd', b'_private.py', b'_lib',
    b'mod.py', b'page.html', b'__pycache__', b'x.pyc', b'__globals__.py',
    b'secret.txt', b'secret.py', b'outside', b'www', b'logs', b'server.log',
    b'link.txt', b'link.py', b'src.txt', b'env.txt', b'git', b'lib.txt',
    b'app.py', b'app.PY', b'app.py.', b'app.py%20', b'app.py::$DATA',
    b'app.py%00.txt', b'db.sqlite', b'key.pem', b'config.ini', b'backup.bak',
    b'sub', b'page.py', b'.well-known', b'.hidden.txt', b'%00', b'%0a',
    b'%0d', b'%09', b'%2f', b'%5c', b'\x00', b'\t', b'\xc0\xae', b'\xff',
    b' ', b'a', b'etc', b'passwd',
]
SEPARATORS = [b'/', b'//', b'\\', b'%2f', b'%5c', b'/./', b'/../']

def _join(lead: bytes, parts: List[bytes], seps: List[bytes], tail: bytes) -> bytes:
    path = lead + parts[0]
    for sep, part in zip(seps, parts[1:]):
        path += sep + part
    return path + tail


hostile_paths = st.builds(
    _join,
    st.sampled_from([b'/', b'//', b'\\', b'/./', b'']),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
    st.lists(st.sampled_from(SEPARATORS), min_size=5, max_size=5),
    st.sampled_from([b'', b'/', b'?x=1', b'%00', b'.', b'#f']),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(target=hostile_paths)
def test_hostile_random_paths(server: Server, target: bytes) -> None:
    # a target that is only a bare segment is not a request-target; tremolo
    # answers it like any other (404 or 400), which check() accepts
    check(server, target, allow_redirect=True)


def test_corpus_summary(server: Server, capsys) -> None:
    """Counts for the report: how many targets, and how each was refused.
    Runs last in this module; the log must hold the refusals and no
    traceback (checked again at teardown)."""
    total = sum(STATS.values())
    with capsys.disabled():
        print('\nhostile targets tried: %d (corpus %d), answers: %s'
              % (total, len(CORPUS), dict(sorted(STATS.items(), key=str))))
    assert 'Traceback' not in server.log()
