"""The route cache (router.Routes): a URL is routed once, and a later
request of it only stats the file. These tests change the filesystem under
a warm cache, the way an attacker with write access to a folder or a
deploy would, and check that every answer is still the one `resolve()`
gives for the tree as it is now (SPEC section 2). The last ones do the
same against a real server.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from httpout.router import Refusal, Routes, Script, StaticFile, resolve

URLS = ['/app.py', '/app.py/x/y', '/a/b.py', '/page.html', '/a/c.html', '/',
        '/a/', '/a', '/missing.py', '/a/missing.html', '/_private.html',
        '/.env', '/../x.py', '/link.html', '/a/linked.py']


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / 'www'
    (root / 'a').mkdir(parents=True)
    (root / 'app.py').write_text('print(1)\n')
    (root / 'a' / 'b.py').write_text('print(2)\n')
    (root / 'a' / 'c.html').write_text('<p>c</p>\n')
    (root / 'page.html').write_text('<p>page</p>\n')
    (root / 'index.html').write_text('<p>index</p>\n')
    (root / '_private.html').write_text('private\n')
    (root / '.env').write_text('SECRET=1\n')
    (root / 'link.html').symlink_to(root / 'page.html')
    (root / 'a' / 'linked.py').symlink_to(root / 'app.py')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'b.py').write_text('print("outside")\n')
    (outside / 'c.html').write_text('secret\n')
    (outside / 'page.html').write_text('secret\n')
    return root


def routes_for(root: Path) -> Routes:
    return Routes(os.path.realpath(root))


def same_as_resolve(routes: Routes, url: str) -> None:
    expected = resolve(routes.document_root, url, routes.directory_index)
    assert routes.resolve(url) == expected, url


def test_every_answer_cold_and_warm_is_resolves(tree: Path) -> None:
    routes = routes_for(tree)

    for _ in range(3):
        for url in URLS:
            same_as_resolve(routes, url)


def test_a_warm_route_is_the_same_object_and_stat(tree: Path) -> None:
    routes = routes_for(tree)
    first = routes.resolve('/a/b.py')
    assert isinstance(first, Script)
    assert routes.resolve('/a/b.py') is first
    # routes through a link, and index routes, are routed every time
    for url in ('/link.html', '/a/linked.py', '/'):
        route = routes.resolve(url)
        assert isinstance(route, (Script, StaticFile)), url
        assert routes.resolve(url) is not route, url


def test_an_edited_file_gets_its_new_stat(tree: Path) -> None:
    routes = routes_for(tree)
    before = routes.resolve('/app.py')
    assert isinstance(before, Script)
    time.sleep(0.01)
    (tree / 'app.py').write_text('print("edited, longer")\n')
    after = routes.resolve('/app.py')
    assert isinstance(after, Script) and after is not before
    assert after.stat is not None and after.stat.st_size == os.stat(tree / 'app.py').st_size


def test_a_removed_file_is_not_found(tree: Path) -> None:
    routes = routes_for(tree)
    assert isinstance(routes.resolve('/page.html'), StaticFile)
    (tree / 'page.html').unlink()
    assert routes.resolve('/page.html') == Refusal(404, 'Not found', 'not-found')


def test_a_file_replaced_by_a_link_to_outside_is_refused(tree: Path) -> None:
    routes = routes_for(tree)
    assert isinstance(routes.resolve('/page.html'), StaticFile)
    (tree / 'page.html').unlink()
    (tree / 'page.html').symlink_to(tree.parent / 'outside' / 'page.html')
    route = routes.resolve('/page.html')
    assert isinstance(route, Refusal) and route.rule == 'outside-root'


def test_a_folder_replaced_by_a_link_to_outside_is_refused(tree: Path) -> None:
    routes = routes_for(tree)
    assert isinstance(routes.resolve('/a/b.py'), Script)
    assert isinstance(routes.resolve('/a/c.html'), StaticFile)
    shutil.rmtree(tree / 'a')
    (tree / 'a').symlink_to(tree.parent / 'outside')

    for url in ('/a/b.py', '/a/c.html'):
        route = routes.resolve(url)
        assert isinstance(route, Refusal) and route.rule == 'outside-root', url


def test_a_new_index_entry_takes_effect_at_once(tree: Path) -> None:
    routes = routes_for(tree)
    assert isinstance(routes.resolve('/'), StaticFile)  # index.html
    (tree / 'index.py').write_text('print("index")\n')
    route = routes.resolve('/')
    assert isinstance(route, Script) and route.script_name == '/index.py'


def test_a_file_created_later_is_found(tree: Path) -> None:
    routes = routes_for(tree)
    assert isinstance(routes.resolve('/new.py'), Refusal)
    (tree / 'new.py').write_text('print("new")\n')
    assert isinstance(routes.resolve('/new.py'), Script)


def test_the_cache_is_bounded(tree: Path) -> None:
    routes = Routes(os.path.realpath(tree), size=8)

    for i in range(100):  # PATH_INFO makes every URL a new key
        assert isinstance(routes.resolve('/app.py/%d' % i), Script)

    assert len(routes._routes) <= 8


# --- against a real server ---------------------------------------------------

def test_server_follows_changes_under_a_warm_cache(serve, tmp_path: Path) -> None:
    server = serve({'a/page.py': 'print("inside")\n', 'a/style.css': 'p {}\n'})
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'page.py').write_text('print("OUTSIDE-SECRET")\n')
    (outside / 'style.css').write_text('OUTSIDE-SECRET\n')

    for _ in range(3):  # warm
        assert server.get('/a/page.py').text == 'inside\n'
        assert server.get('/a/style.css').text == 'p {}\n'

    page = server.root / 'a' / 'page.py'
    page.write_text('print("edited page")\n')
    assert server.get('/a/page.py').text == 'edited page\n'

    shutil.rmtree(server.root / 'a')
    (server.root / 'a').symlink_to(outside)

    for url in ('/a/page.py', '/a/style.css'):
        response = server.get(url)
        assert response.status_code == 403, url
        assert 'OUTSIDE-SECRET' not in response.text

    (server.root / 'a').unlink()
    assert server.get('/a/page.py').status_code == 404
