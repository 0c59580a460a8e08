"""End-to-end tests of SPEC section 2 over HTTP: every refusal gets its
status, and no byte of a protected file ever leaks, whatever the path.

Paths are sent verbatim over raw sockets (httpx would normalise `..`).
Each protected file holds a unique marker; every response body (and head)
is searched for every marker.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_util import raw_get, start_server

MARKERS = {
    'outside_txt': 'MARKER-OUTSIDE-TXT-5d1f0a',
    'outside_dir': 'MARKER-OUTSIDE-DIR-8c2e4b',
    'outside_py': 'MARKER-OUTSIDE-PY-0b7a6c',
    'env': 'MARKER-DOTENV-3e9d21',
    'git': 'MARKER-GITCONFIG-77a0f3',
    'private': 'MARKER-PRIVATE-PY-a4c8e2',
    'globals': 'MARKER-GLOBALS-PY-f01b9d',
    'script': 'MARKER-SCRIPT-SOURCE-6b3c5e',
    'pem': 'MARKER-PEM-KEY-92d7aa',
    'sqlite': 'MARKER-SQLITE-1c0e8f',
    'private_html': 'MARKER-PRIVATE-HTML-e5b2d4',
    'lib': 'MARKER-LIB-MODULE-c7d9e1',
    'hidden_wk': 'MARKER-WELLKNOWN-HIDDEN-4a4a4a',
}

FILES = {
    'index.html': '<p>ROOT INDEX HTML</p>\n',
    'page.html': '<p>PAGE</p>\n',
    '.env': 'SECRET_KEY=%s\n' % MARKERS['env'],
    '.git/config': '[core]\n# %s\n' % MARKERS['git'],
    '_private.py': '# %s\nprint("PRIVATE SCRIPT RAN")\n' % MARKERS['private'],
    '_private.html': '<p>%s</p>\n' % MARKERS['private_html'],
    '_lib/helper.py': '# %s\nVALUE = "helper value"\n' % MARKERS['lib'],
    '__globals__.py': '# %s\nGREETING = "globals loaded"\n' % MARKERS['globals'],
    'script.py': '# %s\nprint("script ran")\n' % MARKERS['script'],
    'x.py': '# %s\nprint("x ran")\n' % MARKERS['script'],
    'uses_lib.py': '''
        import sys
        sys.path.insert(0, __server__['DOCUMENT_ROOT'] + '/_lib')
        import helper
        print('lib says', helper.VALUE, 'and', __globals__.GREETING)
    ''',
    'secret.pem': '-----BEGIN PRIVATE KEY-----\n%s\n' % MARKERS['pem'],
    'data.sqlite': 'SQLite format 3 %s\n' % MARKERS['sqlite'],
    '.well-known/x.txt': 'WELL KNOWN FILE\n',
    '.well-known/.hidden.txt': MARKERS['hidden_wk'] + '\n',
    'docs/index.html': '<p>DOCS INDEX</p>\n',
    'both/index.py': 'print("INDEX PY RAN")\n',
    'both/index.html': '<p>INDEX HTML</p>\n',
    'noindex/readme.txt': 'no index here\n',
    'path.py': '''
        print('PATH_INFO=' + __server__['PATH_INFO'])
        print('SCRIPT_NAME=' + __server__['SCRIPT_NAME'])
    ''',
    'a/b.py': '''
        print('PATH_INFO=' + __server__['PATH_INFO'])
    ''',
}

OUTSIDE = {
    'secret.txt': MARKERS['outside_txt'] + '\n',
    'secret.py': '# %s\nprint("OUTSIDE SCRIPT RAN")\n' % MARKERS['outside_py'],
    'outdir/secret.txt': MARKERS['outside_dir'] + '\n',
    'outdir/index.html': MARKERS['outside_dir'] + '\n',
}

RAN_TEXTS = ['PRIVATE SCRIPT RAN', 'OUTSIDE SCRIPT RAN']


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp('routing')
    for name, text in OUTSIDE.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    srv = start_server(base, FILES)
    root = srv.root
    (root / 'link_out.txt').symlink_to(base / 'secret.txt')
    (root / 'link_out.py').symlink_to(base / 'secret.py')
    (root / 'dir_link').symlink_to(base / 'outdir')
    (root / 'leak.txt').symlink_to(root / '.env')
    (root / 'src.txt').symlink_to(root / 'script.py')
    (root / 'priv.html').symlink_to(root / '_private.html')
    yield srv
    srv.stop()


def assert_no_leak(response, path):
    everything = response.raw.decode('latin-1')
    for name, marker in MARKERS.items():
        assert marker not in everything, '%s leaked through %r' % (name, path)
    for text in RAN_TEXTS:
        assert text not in everything, '%r ran a script it must not: %s' % (path, text)


LONG = '/' + 'a' * 290 + '.html'  # 296 characters

REFUSALS = [
    # (raw path, expected statuses)
    ('/../secret.txt', {403}),
    ('/..', {403}),
    ('//../secret.txt', {403}),
    ('/docs/../../secret.txt', {403}),
    ('/%2e%2e/secret.txt', {403}),
    ('/%2E%2E/secret.txt', {403}),
    ('/..%2fsecret.txt', {403}),
    ('/%2e%2e%2fsecret.txt', {403}),
    ('/x.py.', {403, 404}),
    ('/script.py.', {403, 404}),
    ('/script.py%00', {403}),
    ('/script%2epy', {403}),
    ('/.env', {403}),
    ('/.env/', {403}),
    ('//.env', {403}),
    ('/docs/../.env', {403}),
    ('/.git/config', {403}),
    ('/.git/', {403}),
    ('/.well-known/.hidden.txt', {403}),
    ('/_private.py', {404}),
    ('/_private.html', {404}),
    ('/_lib/helper.py', {404}),
    ('/_lib/', {404}),
    ('/__globals__.py', {404}),
    ('/link_out.txt', {403}),
    ('/link_out.py', {403}),
    ('/dir_link/secret.txt', {403}),
    ('/dir_link/', {403}),
    ('/dir_link', {403}),
    ('/leak.txt', {403}),
    ('/src.txt', {403}),
    ('/priv.html', {403, 404}),
    ('/secret.pem', {403}),
    ('/data.sqlite', {403}),
    ('/a\\b', {403}),
    ('/a\\..\\secret.txt', {403}),
    ('/script py', {403}),
    ('/page.html;x', {403}),
    (LONG, {403}),
    ('/nothing-here.html', {404}),
    ('/noindex/', {404}),
    ('/missing.py', {404}),
    ('/missing.py/extra/info', {404}),
]


@pytest.mark.parametrize('path,statuses', REFUSALS, ids=[p for p, _ in REFUSALS])
def test_refusal_status_and_no_leak(server, path, statuses):
    response = raw_get(server.port, path)
    assert response.status in statuses, (path, response.status, response.body[:200])
    assert_no_leak(response, path)
    # a short body that says what happened
    assert 0 < len(response.body) < 4096, response.body


@pytest.mark.parametrize('path,statuses', REFUSALS[:12], ids=[p for p, _ in REFUSALS[:12]])
def test_refusal_with_head_and_post(server, path, statuses):
    for method in ('HEAD', 'POST'):
        response = raw_get(server.port, path, method=method, body=b'a=1' if method == 'POST' else b'')
        assert response.status in statuses | {405}, (method, path, response.status)
        assert response.status != 200
        assert_no_leak(response, path)


def test_long_path_is_really_long():
    assert len(LONG) > 255


def test_script_source_is_never_sent(server):
    for path in ('/script.py', '/x.py', '//script.py', '/script.py/', '/script.py/a.txt'):
        response = raw_get(server.port, path)
        assert response.status == 200, path
        assert_no_leak(response, path)
        assert b'ran' in response.body


def test_private_modules_still_importable(server):
    response = raw_get(server.port, '/uses_lib.py')
    assert response.status == 200, response.body
    assert response.body == b'lib says helper value and globals loaded\n'
    assert_no_leak(response, '/uses_lib.py')


def test_directory_without_slash_redirects_keeping_query(server):
    response = raw_get(server.port, '/docs?x=1&y=2')
    assert response.status == 301
    location = response.header('location')
    assert location in ('/docs/?x=1&y=2', 'http://127.0.0.1:%d/docs/?x=1&y=2' % server.port)
    plain = raw_get(server.port, '/docs')
    assert plain.status == 301
    assert plain.header('location').endswith('/docs/')
    nested = raw_get(server.port, '/both')
    assert nested.status == 301
    assert nested.header('location').endswith('/both/')


def test_redirect_followed_by_a_client(server):
    response = server.get('/docs', follow_redirects=True)
    assert response.status_code == 200
    assert response.text == '<p>DOCS INDEX</p>\n'


def test_directory_with_slash_serves_index(server):
    response = raw_get(server.port, '/docs/')
    assert response.status == 200
    assert response.body == b'<p>DOCS INDEX</p>\n'


def test_index_py_before_index_html(server):
    response = raw_get(server.port, '/both/')
    assert response.status == 200
    assert response.body == b'INDEX PY RAN\n'


def test_root_serves_the_root_index(server):
    for path in ('/', '/?a=1', '//'):
        response = raw_get(server.port, path)
        assert response.status == 200, path
        assert response.body == b'<p>ROOT INDEX HTML</p>\n', path


def test_well_known_is_served(server):
    response = raw_get(server.port, '/.well-known/x.txt')
    assert response.status == 200
    assert response.body == b'WELL KNOWN FILE\n'
    assert response.header('content-type').startswith('text/plain')


def test_path_info_over_http(server):
    response = raw_get(server.port, '//path.py/path//info///')
    assert response.status == 200
    assert response.body == b'PATH_INFO=/path/info\nSCRIPT_NAME=/path.py\n'
    response = raw_get(server.port, '/a/b.py/x//y/')
    assert response.status == 200
    assert response.body == b'PATH_INFO=/x/y\n'
    response = raw_get(server.port, '/path.py?q=/x')
    assert response.body.startswith(b'PATH_INFO=\n')


def test_refusals_are_logged_without_tracebacks(server):
    raw_get(server.port, '/.env')
    raw_get(server.port, '/../secret.txt')
    log = server.log()
    assert 'Traceback' not in log
    assert 'ERROR' not in log
    for marker in MARKERS.values():
        assert marker not in log


def test_outside_files_untouched(server):
    base = server.root.parent
    for name, text in OUTSIDE.items():
        assert (base / name).read_text() == text
    assert os.path.islink(server.root / 'dir_link')


SEGMENTS = ['..', '.', '', '.env', '.git', 'config', '%2e%2e', '%2f', 'docs', 'dir_link',
            'link_out.txt', 'link_out.py', 'leak.txt', 'src.txt', 'secret.txt', 'secret.py',
            'secret.pem', 'data.sqlite', '_private.py', '_private.html', '__globals__.py',
            '_lib', 'helper.py', 'script.py', 'x.py.', 'outdir', '.well-known',
            '.hidden.txt', 'priv.html', 'index.html']


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
       st.sampled_from(['/', '//', '\\', '/./']))
def test_fuzzed_paths_never_leak(server, segments, separator):
    path = '/' + separator.join(segments)
    response = raw_get(server.port, path)
    assert response.status in (200, 301, 400, 403, 404), (path, response.status)
    assert_no_leak(response, path)
