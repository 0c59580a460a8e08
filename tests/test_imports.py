"""End-to-end tests of imports in scripts (SPEC section 3).

Virtual imports (`from httpout import ...`, `import httpout`,
`import __main__`) and local imports (`.py` files and packages in the
document root): a fresh copy per request shared by all importers of that
request, nothing of a request in `sys.modules`, no `__pycache__`, the
standard library and installed packages winning over a local file of the
same name, and their ordinary imports.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
from pathlib import Path

import httpx
import pytest

from e2e_util import start_server

FILES = {
    'virtual.py': '''
        import json
        import tremolo
        from httpout import (request, response, websocket, print, run, wait,
                             context, __server__, __globals__, app, modules)
        import subvirtual

        async def answer():
            return 7

        print(json.dumps({
            'method': request.method.decode(),
            'environ_is_server': request.environ is __server__,
            'response_has_set_status': callable(response.set_status),
            'websocket': websocket is None,
            'run_future': run(answer()).result(5),
            'wait': wait(answer()),
            'context': context is not None,
            'script_name': __server__['SCRIPT_NAME'],
            'globals_name': __globals__.__name__,
            'app': isinstance(app, tremolo.Application),
            'modules_has_main': modules.get('__main__') is __main__,
            'same_in_submodule': (subvirtual.request is request and
                                  subvirtual.response is response),
        }))
    ''',
    'subvirtual.py': '''
        from httpout import request, response
    ''',
    'bad_virtual.py': '''
        from httpout import foo
    ''',
    'bad_virtual_caught.py': '''
        try:
            from httpout import foo
        except ImportError as exc:
            print(type(exc).__name__ + ': ' + str(exc))
    ''',
    'import_httpout.py': '''
        marker = 'm2'
        import httpout
        import selfish
        print(httpout.__name__, httpout.__file__ == __file__, httpout.marker,
              selfish.me is selfish, selfish.me.__name__)
    ''',
    'selfish.py': '''
        import httpout
        me = httpout
    ''',
    'main_from_sub.py': '''
        import json
        import __main__ as main_itself
        import submain
        marker = 'route-main'
        print(json.dumps({
            'sub_main_marker': submain.get_main().marker,
            'sub_main_is_main': submain.get_main() is main_itself,
            'main_file': submain.get_main().__file__,
            'builtin_main_is_import': submain.builtin_main() is main_itself,
        }))
    ''',
    'submain.py': '''
        def get_main():
            import __main__
            return __main__

        def builtin_main():
            return __main__
    ''',
    'helper.py': '''
        counter = 0
        token = object()
    ''',
    'other.py': '''
        import helper
    ''',
    'pkg/__init__.py': '''
        PKG = 'pkg-init'
    ''',
    'pkg/mod.py': '''
        from . import sibling
        from .sub import x
        from .sub.deep import y
    ''',
    'pkg/sibling.py': '''
        NAME = 'sibling'
    ''',
    'pkg/sub/__init__.py': '''
        x = 42
    ''',
    'pkg/sub/deep.py': '''
        from ..sibling import NAME
        y = 'deep-' + NAME
    ''',
    'local.py': '''
        import json, sys
        import helper
        import other
        from pkg import mod
        import pkg.sub.deep

        helper.counter += 1
        print(json.dumps({
            'counter': helper.counter,
            'shared': other.helper is helper,
            # sys.modules holds a switch that resolves to this request's copy
            'sys_sees_own': sys.modules['helper'].__dict__ is helper.__dict__,
            'helper_in_sys': sys.modules['helper'] is helper,
            'sys_entries': sorted({type(sys.modules[n]).__name__
                                   for n in ('other', 'pkg', 'pkg.mod', 'pkg.sibling',
                                             'pkg.sub', 'pkg.sub.deep')}),
            'sibling': mod.sibling.NAME,
            'x': mod.x,
            'y': mod.y,
            'mod_is_same': pkg.mod is mod,
            'deep_y': pkg.sub.deep.y,
            'pkg_attr': pkg.PKG,
            'helper_file': helper.__file__,
        }))
    ''',
    'slow_helper_user.py': '''
        import time
        import helper
        helper.counter += 1
        mine = helper.counter
        time.sleep(0.2)
        print(mine, helper.counter)
    ''',
    'printer.py': '''
        print('from module body')

        def shout(text):
            print(text.upper())
    ''',
    'use_printer.py': '''
        print('first')
        import printer
        printer.shout('from function')
        print('last')
    ''',
    'star_user.py': '''
        from starpkg import *
        print(sorted(n for n in dir() if n.startswith('pub')), public_mod.VALUE)
    ''',
    'starpkg/__init__.py': '''
        __all__ = ['public_name', 'public_mod']
        public_name = 1
        _private = 2
    ''',
    'starpkg/public_mod.py': '''
        VALUE = 'public-mod'
    ''',
    'clash.py': '''
        import sys
        assert 'logging' in sys.modules, 'the test needs an already-imported name'
        import logging
        print('imported', logging.__file__)
    ''',
    'logging.py': '''
        LOCAL = True
    ''',
    'stdlib.py': '''
        import sys
        import fractions
        import textwrap
        from email.utils import formatdate
        import xml.dom.minidom
        import httpx
        print(fractions.Fraction(1, 3) * 3, textwrap.dedent('  ok'),
              bool(formatdate()), xml.dom.minidom.parseString('<a/>').documentElement.tagName,
              httpx.__name__, 'httpx' in sys.modules, 'fractions' in sys.modules,
              sys.modules['fractions'].__file__.endswith('fractions.py'))
    ''',
    'broken_mod.py': '''
        raise RuntimeError('broken module')
    ''',
    'catch_broken.py': '''
        import sys
        try:
            import broken_mod
        except RuntimeError as exc:
            print('caught', exc)
        try:
            import broken_mod
        except RuntimeError as exc:
            print('caught again', exc)
        try:
            import no_such_local_module_xyz
        except ModuleNotFoundError as exc:
            print('missing', exc.name)
    ''',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('imports'), FILES)
    yield srv
    srv.stop()


# --- virtual imports ---------------------------------------------------------

def test_virtual_imports(server):
    response = server.get('/virtual.py')

    assert response.status_code == 200, response.text
    data = json.loads(response.text)
    assert data == {
        'method': 'GET',
        'environ_is_server': True,
        'response_has_set_status': True,
        'websocket': True,
        'run_future': 7,
        'wait': 7,
        'context': True,
        'script_name': '/virtual.py',
        'globals_name': '__globals__',
        'app': True,
        'modules_has_main': True,
        'same_in_submodule': True,
    }


def test_unknown_virtual_name_message(server):
    assert (server.get('/bad_virtual_caught.py').text ==
            "ImportError: cannot import name 'foo' from 'httpout'\n")


def test_unknown_virtual_name_is_500_and_logged(server):
    response = server.get('/bad_virtual.py')

    assert response.status_code == 500
    assert "cannot import name 'foo' from 'httpout'" in server.log()


def test_import_httpout_gives_current_module(server):
    response = server.get('/import_httpout.py')

    assert response.status_code == 200, response.text
    assert response.text == '__main__ True m2 True selfish\n'


def test_import_main_from_submodule(server):
    root = str(Path(server.root).resolve())
    response = server.get('/main_from_sub.py')

    assert response.status_code == 200, response.text
    # `marker` is assigned after `import submain` but before get_main() runs
    assert json.loads(response.text) == {
        'sub_main_marker': 'route-main',
        'sub_main_is_main': True,
        'main_file': os.path.join(root, 'main_from_sub.py'),
        'builtin_main_is_import': True,
    }


# --- local imports ------------------------------------------------------------

def test_local_imports_fresh_per_request_and_shared(server):
    root = str(Path(server.root).resolve())

    for _ in range(3):
        response = server.get('/local.py')
        assert response.status_code == 200, response.text
        data = json.loads(response.text)
        assert data['counter'] == 1
        assert data['shared'] is True
        assert data['helper_in_sys'] is False
        assert data['sys_sees_own'] is True
        assert data['sys_entries'] == ['ModuleSwitch']
        assert data['sibling'] == 'sibling'
        assert data['x'] == 42
        assert data['y'] == 'deep-sibling'
        assert data['mod_is_same'] is True
        assert data['deep_y'] == 'deep-sibling'
        assert data['pkg_attr'] == 'pkg-init'
        assert data['helper_file'] == os.path.join(root, 'helper.py')


def test_concurrent_requests_get_separate_copies(server):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(
            lambda _: httpx.get(server.url + '/slow_helper_user.py', timeout=10).text,
            range(8)))

    assert texts == ['1 1\n'] * 8


def test_print_in_local_module_goes_to_response(server):
    response = server.get('/use_printer.py')

    assert response.status_code == 200, response.text
    assert response.text == 'first\nfrom module body\nFROM FUNCTION\nlast\n'


def test_star_import_from_local_package(server):
    response = server.get('/star_user.py')

    assert response.status_code == 200, response.text
    assert response.text == "['public_mod', 'public_name'] public-mod\n"


def test_no_pycache_written(server):
    for path in ('/local.py', '/import_httpout.py', '/main_from_sub.py', '/virtual.py'):
        server.get(path)

    found = [dirpath for dirpath, dirnames, _ in os.walk(server.root)
             if '__pycache__' in dirnames]
    assert found == []
    assert not list(Path(server.root).rglob('*.pyc'))


def test_local_module_named_like_a_standard_one_never_replaces_it(server):
    """SPEC section 3: the standard library wins; the file stays a page."""
    response = server.get('/clash.py')

    assert response.status_code == 200, response.text
    assert response.text.startswith('imported ')
    assert not response.text.split()[1].startswith(str(Path(server.root).resolve()))
    page = server.get('/logging.py')
    assert page.status_code == 200


def test_shadowing_files_are_named_once_at_start(server):
    log = server.log()
    warnings = [line for line in log.splitlines() if 'named like installed' in line]

    assert len(warnings) == 1, log
    assert 'logging.py' in warnings[0]
    assert 'helper.py' not in warnings[0]


def test_stdlib_and_installed_packages_import_normally(server):
    response = server.get('/stdlib.py')

    assert response.status_code == 200, response.text
    assert response.text == '1 ok True a httpx True True True\n'


def test_failing_local_module_is_not_kept(server):
    response = server.get('/catch_broken.py')

    assert response.status_code == 200, response.text
    assert response.text == ('caught broken module\ncaught again broken module\n'
                             'missing no_such_local_module_xyz\n')


def test_pages_named_like_stdlib_modules_do_not_shadow_them(serve):
    """A page called `json.py` or `decimal.py` is an ordinary script name;
    a standard-library or installed package that imports `json`/`decimal`
    for the first time must still get the real module, not the page."""
    server = serve({
        'decimal.py': "print('my decimal page')\n",
        'json.py': "print('{}')\n",
        'stats.py': '''
            import statistics
            print(statistics.mean([1, 2, 3]))
        ''',
        'use_httpx.py': '''
            import httpx
            print(httpx.__name__)
        ''',
    })

    stats = server.get('/stats.py')
    installed = server.get('/use_httpx.py')
    page = server.get('/json.py')

    assert (stats.status_code, stats.text) == (200, '2\n')
    assert (installed.status_code, installed.text) == (200, 'httpx\n')
    assert (page.status_code, page.text) == (200, '{}\n')
    assert 'my decimal page' not in server.log()
    assert not (server.root / '__pycache__').exists()
