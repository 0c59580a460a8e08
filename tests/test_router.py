"""Unit tests for httpout.router: one case per rule of SPEC section 2, plus
property tests that no URL reaches a file it must not.

All tests share one read-only tree: a document root holding scripts, static
files, dotfiles, private names, symlinks in and out, and a fifo, next to an
'outside' directory of secrets that must never be routed to.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httpout.router import (Redirect, Refusal, Route, Script, StaticFile,
                            media_type, resolve)

FILES = [
    'index.html', 'app.py', 'a/b.py', 'path.py', 'page.html', 'style.css',
    'logo.png', 'mod.wasm', 'font.woff2', 'LICENSE', 'X.PY',
    'docs/index.html', 'docs/guide.html', 'both/index.py', 'both/index.html',
    'empty/readme.txt', 'jquery.ui/ui.js', 'dir.py/inner.html',
    'priv/_index.html', 'priv/index.html',
    '.env', '.git/config', '.well-known/x.txt', '.well-known/.hidden.txt',
    '_private.html', '_lib/x.html', '_lib/x.py', '__init__.py',
    '__globals__.py', '__pycache__/m.cpython-311.pyc', 'index.html.bak',
    'data.sqlite', 'key.pem', 'cache.pyc', 'config.ini',
]
SYMLINKS = {
    # name in root: target (relative to the root's parent)
    'link-out.txt': 'outside/secret.txt',
    'link-out.py': 'outside/secret.py',
    'linkdir': 'outside/dir',
    'link-in.css': 'root/style.css',
    'linkdocs': 'root/docs',
    'leak.txt': 'root/.env',
    'src.txt': 'root/app.py',
    'lib.py': 'root/_lib/x.py',
}


@pytest.fixture(scope='module')
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = Path(os.path.realpath(tmp_path_factory.mktemp('router')))
    for name in ('secret.txt', 'secret.py', 'dir/file.txt', 'dir/index.html'):
        path = base / 'outside' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('SECRET')
    top = base / 'root'
    for name in FILES:
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    for name in ('empty', 'x.html'):
        (top / name).mkdir(exist_ok=True)
    os.mkfifo(top / 'fifo.txt')
    for name, target in SYMLINKS.items():
        (top / name).symlink_to(base / target)
    return str(top)


def real(root: str, name: str) -> str:
    return os.path.join(root, *name.split('/'))


NOT_FOUND = Refusal(404, 'Not found', 'not-found')


def rule(route: Route) -> str:
    assert isinstance(route, Refusal), route
    return route.rule


# Rule 1: safe characters only.

@pytest.mark.parametrize('url', [
    '/page%2ehtml', '/%2e%2e/secret.txt', '/a\\b.html', '/a b.html',
    '/a\x00.html', '/a/../b.html', '/..', '/../outside/secret.txt',
    '/a..b.html', '/a/..', '/..%2f', '/x.html?q', '/caf\u00e9.html',
    '/' + 'a' * 255, 'page.html', '', '\\page.html',
])
def test_unsafe_characters(root: str, url: str) -> None:
    assert resolve(root, url) == Refusal(
        403, 'Unsafe URL detected', 'unsafe-characters')


def test_longest_safe_path_is_routed(root: str) -> None:
    url = '/' + 'a' * 249 + '.html'
    assert len(url) == 255
    assert resolve(root, url) == NOT_FOUND


# Rule 2: no escape from the root.

@pytest.mark.parametrize('url', [
    '/link-out.txt', '/link-out.py', '/link-out.py/info', '/linkdir/file.txt',
    '/linkdir/', '/linkdir', '/linkdir/missing.txt',
])
def test_symlink_out_of_root_refused(root: str, url: str) -> None:
    assert rule(resolve(root, url)) == 'outside-root'
    assert resolve(root, url).status == 403


def test_symlinks_inside_root_allowed(root: str) -> None:
    assert resolve(root, '/link-in.css') == StaticFile(
        real(root, 'style.css'), 'text/css; charset=utf-8')
    assert resolve(root, '/linkdocs/guide.html') == StaticFile(
        real(root, 'docs/guide.html'), 'text/html; charset=utf-8')
    assert resolve(root, '/linkdocs') == Redirect('/linkdocs/')


@pytest.mark.parametrize('url, name', [
    ('/app.py', 'app.py'), ('/a/b.py/x/y', 'a/b.py'), ('/style.css', 'style.css'),
    ('/link-in.css', 'style.css'), ('/linkdocs/guide.html', 'docs/guide.html'),
    ('/docs/', 'docs/index.html'),
])
def test_route_carries_the_stat_of_its_file(root: str, url: str, name: str) -> None:
    # the runner and the static sender use it instead of a stat of their own,
    # so it must be the real file's (through a symlink, the target's)
    route = resolve(root, url)
    assert isinstance(route, (Script, StaticFile))
    assert route.stat is not None
    expected = os.stat(real(root, name))
    assert (route.stat.st_ino, route.stat.st_size, route.stat.st_mtime_ns) == (
        expected.st_ino, expected.st_size, expected.st_mtime_ns)


@pytest.mark.parametrize('url, expected', [
    ('/leak.txt', 'dotfile'),               # -> .env
    ('/src.txt', 'disallowed-extension'),   # -> app.py, source stays secret
    ('/lib.py', 'private-name'),            # -> _lib/x.py
])
def test_symlink_judged_by_real_name(root: str, url: str, expected: str
                                     ) -> None:
    assert rule(resolve(root, url)) == expected


# Rule 3: dotfiles are hidden.

@pytest.mark.parametrize('url', [
    '/.env', '/.git/config', '/.git/', '/.git', '/a/.b/c.html', '/.missing',
    '/app.py/.env', '/.well-known/.hidden.txt', '/docs/.well-known/x.txt',
])
def test_dotfiles_hidden(root: str, url: str) -> None:
    assert resolve(root, url) == Refusal(403, 'Hidden file', 'dotfile')


def test_well_known_allowed(root: str) -> None:
    assert resolve(root, '/.well-known/x.txt') == StaticFile(
        real(root, '.well-known/x.txt'), 'text/plain; charset=utf-8')
    assert resolve(root, '/.well-known') == Redirect('/.well-known/')


# Rule 4: private names.

@pytest.mark.parametrize('url', [
    '/_private.html', '/_lib/x.html', '/_lib/', '/_lib', '/_lib/x.py',
    '/__init__.py', '/__globals__.py', '/__pycache__/m.cpython-311.pyc',
    '/__pycache__/', '/_missing.py', '/app.py/_info',
])
def test_private_names(root: str, url: str) -> None:
    assert resolve(root, url) == Refusal(404, 'Not found', 'private-name')


def test_private_directory_index_entry(root: str) -> None:
    assert rule(resolve(root, '/priv/', ('_index.html', 'index.html'))) == (
        'private-name')
    assert resolve(root, '/priv/') == StaticFile(
        real(root, 'priv/index.html'), 'text/html; charset=utf-8')


# Rule 5: PATH_INFO.

@pytest.mark.parametrize('url, script_name, path_info', [
    ('/a/b.py', '/a/b.py', ''),
    ('/a/b.py/', '/a/b.py', ''),
    ('/a/b.py/x/y', '/a/b.py', '/x/y'),
    ('/a/b.py/x/y/', '/a/b.py', '/x/y'),
    ('//path.py/path//info///', '/path.py', '/path/info'),
    ('//a///b.py//x', '/a/b.py', '/x'),
    ('/path.py/more.py/z.html', '/path.py', '/more.py/z.html'),
])
def test_path_info(root: str, url: str, script_name: str, path_info: str
                   ) -> None:
    assert resolve(root, url) == Script(
        real(root, script_name.lstrip('/')), script_name, path_info)


@pytest.mark.parametrize('url', [
    '/missing.py', '/missing.py/x/y', '/a/missing.py/b.py', '/dir.py',
    '/dir.py/inner.html', '/nodir/b.py/x',
])
def test_missing_script_is_not_found(root: str, url: str) -> None:
    assert resolve(root, url) == NOT_FOUND


# Rule 6: directories.

def test_root_index(root: str) -> None:
    assert resolve(root, '/') == StaticFile(
        real(root, 'index.html'), 'text/html; charset=utf-8')
    assert resolve(root, '//') == resolve(root, '/')


def test_index_py_before_index_html(root: str) -> None:
    assert resolve(root, '/both/') == Script(
        real(root, 'both/index.py'), '/both/index.py', '')
    assert resolve(root, '//both//') == resolve(root, '/both/')


def test_custom_directory_index(root: str) -> None:
    assert resolve(root, '/both/', ('home.htm', 'index.html')) == StaticFile(
        real(root, 'both/index.html'), 'text/html; charset=utf-8')
    assert resolve(root, '/docs/', ('index.py',)) == NOT_FOUND
    assert resolve(root, '/docs/', ()) == NOT_FOUND


@pytest.mark.parametrize('url, location', [
    ('/docs', '/docs/'),
    ('//docs', '/docs/'),  # never a protocol-relative '//docs/'
    ('/a', '/a/'),
    ('/jquery.ui/', None),
])
def test_folder_redirect(root: str, url: str, location: str) -> None:
    route = resolve(root, url)
    if location is None:
        assert route == NOT_FOUND  # a folder with a dot but no index
    else:
        assert route == Redirect(location)


@pytest.mark.parametrize('url', [
    '/empty/', '/empty', '/missing/', '/missing', '/LICENSE', '/a/',
    '/page.html/', '/fifo.txt/',
])
def test_folder_not_found(root: str, url: str) -> None:
    # '/empty' has no index: it is redirected first, then 404 on '/empty/'.
    route = resolve(root, url)
    assert route == NOT_FOUND or route == Redirect(url + '/')
    if isinstance(route, Redirect):
        assert resolve(root, route.location) == NOT_FOUND


def test_dotted_folder_without_slash_is_judged_by_extension(root: str
                                                            ) -> None:
    assert rule(resolve(root, '/jquery.ui')) == 'disallowed-extension'


# Rule 7: scripts.

def test_py_is_never_static(root: str) -> None:
    route = resolve(root, '/app.py')
    assert route == Script(real(root, 'app.py'), '/app.py', '')
    assert media_type('app.py') is None


def test_py_match_is_case_sensitive(root: str) -> None:
    assert resolve(root, '/X.PY') == Refusal(
        403, 'Disallowed file extension: .PY', 'disallowed-extension')


# Rule 8: static files.

@pytest.mark.parametrize('name, type_', [
    ('page.html', 'text/html; charset=utf-8'),
    ('style.css', 'text/css; charset=utf-8'),
    ('logo.png', 'image/png'),
    ('mod.wasm', 'application/wasm'),
    ('font.woff2', 'font/woff2'),
    ('jquery.ui/ui.js', 'text/javascript; charset=utf-8'),
])
def test_allowed_static_types(root: str, name: str, type_: str) -> None:
    assert resolve(root, '/' + name) == StaticFile(real(root, name), type_)


@pytest.mark.parametrize('name, type_', [
    ('x.json', 'application/json; charset=utf-8'),
    ('x.svg', 'image/svg+xml; charset=utf-8'),
    ('x.mjs', 'text/javascript; charset=utf-8'),
    ('x.map', 'application/json; charset=utf-8'),
    ('x.webmanifest', 'application/manifest+json; charset=utf-8'),
    ('x.webp', 'image/webp'),
    ('x.avif', 'image/avif'),
    ('x.woff', 'font/woff'),
    ('x.pdf', 'application/pdf'),
    ('dir/x.mp4', 'video/mp4'),
    ('x.HTML', None),
    ('x.py', None),
    ('x.tar.gz', None),
    ('LICENSE', None),
])
def test_media_type(name: str, type_: str) -> None:
    assert media_type(name) == type_


@pytest.mark.parametrize('url, extension', [
    ('/.env.txt', None),  # a dotfile first
    ('/data.sqlite', '.sqlite'), ('/key.pem', '.pem'), ('/cache.pyc', '.pyc'),
    ('/config.ini', '.ini'), ('/index.html.bak', '.bak'),
    ('/missing.env', '.env'), ('/missing.sqlite', '.sqlite'),
])
def test_disallowed_extensions(root: str, url: str, extension: str) -> None:
    route = resolve(root, url)
    if extension is None:
        assert rule(route) == 'dotfile'
    else:
        assert route == Refusal(403, f'Disallowed file extension: {extension}',
                                'disallowed-extension')


# Rule 9: not found, and only regular files are served.

@pytest.mark.parametrize('url', [
    '/missing.html', '/x.html', '/fifo.txt', '/docs/missing.css',
    '/page.html/x.html',
])
def test_not_found(root: str, url: str) -> None:
    assert resolve(root, url) == NOT_FOUND


@pytest.mark.parametrize('url', [
    '/a%2e.html', '/.env', '/_lib/x.html', '/x.sqlite', '/.git/', '/_lib',
])
def test_refusals_do_not_touch_the_filesystem(
        root: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError('filesystem touched')

    monkeypatch.setattr(os, 'stat', forbidden)
    monkeypatch.setattr(os, 'lstat', forbidden)
    monkeypatch.setattr(os.path, 'realpath', forbidden)
    assert isinstance(resolve(root, url), Refusal)


# Properties: whatever the URL, nothing outside the public files is named.

def check(root: str, url: str) -> None:
    route = resolve(root, url)
    if isinstance(route, Refusal):
        assert route.status in (403, 404) and route.rule and route.reason
        return
    if isinstance(route, Redirect):
        assert route.location.startswith('/')
        assert not route.location.startswith('//')
        assert route.location.endswith('/')
        return
    assert isinstance(route, (Script, StaticFile))
    assert route.path == os.path.realpath(route.path)
    assert os.path.commonpath((root, route.path)) == root
    segments = os.path.relpath(route.path, root).split(os.sep)
    for i, segment in enumerate(segments):
        assert not segment.startswith('_'), route
        assert not segment.startswith('.') or (
            i == 0 and segment == '.well-known'), route
    assert os.path.isfile(route.path)
    if isinstance(route, StaticFile):
        assert not route.path.endswith('.py')
        assert route.media_type == media_type(route.path)
    else:
        assert route.script_name.endswith('.py')
        assert '//' not in route.script_name + route.path_info
        assert not route.path_info.endswith('/')


SEGMENTS = st.sampled_from([
    '..', '.', '', '_x', 'a', 'b.py', 'c.html', '%2e', '\\', '.env',
    '.well-known', 'x.txt', '.hidden.txt', '.git', 'config', 'app.py',
    'docs', 'both', 'index.py', 'index.html', 'style.css', 'LICENSE',
    'link-out.txt', 'link-out.py', 'linkdir', 'file.txt', 'linkdocs',
    'leak.txt', 'src.txt', 'lib.py', '_lib', 'x.py', '__init__.py',
    '__pycache__', 'dir.py', 'fifo.txt', 'X.PY', 'data.sqlite', 'priv',
    '_index.html', 'outside', 'secret.txt', 'secret.py',
])


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=('Cs',)),
               max_size=300))
def test_property_any_text(root: str, url: str) -> None:
    check(root, url)
    check(root, '/' + url)


@settings(max_examples=1000, deadline=None)
@given(st.lists(SEGMENTS, max_size=8), st.booleans())
def test_property_segments(root: str, segments: list, trailing: bool
                           ) -> None:
    url = '/' + '/'.join(segments) + ('/' if trailing else '')
    check(root, url)
