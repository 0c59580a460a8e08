"""Editor support (issue 5, part 3): the type stubs and `py.typed` make
`from httpout import request, response, run, wait, __server__, __globals__`
type-check with mypy and pyright, `example/` passes mypy and pyright, a
deliberate type error IS reported, and the linter settings of
docs/editor-support.md do what that page says.

mypy cannot see an editable install (`pip install -e .` goes through an
import hook), so the checks point MYPYPATH at the repository and use
`--follow-imports=silent`; one test installs the package for real
(`pip install --target`) and checks the installed copy instead.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

from mdsnippets import REPO, named_files

EXAMPLE = REPO / 'example'
EDITOR_DOC = REPO / 'docs' / 'editor-support.md'

TYPED_SCRIPT = '''\
import asyncio
import concurrent.futures
from typing import Any, Dict, List

import __main__
from httpout import __globals__, __server__, request, response, run, session, wait


async def double(n: int) -> int:
    await asyncio.sleep(0)
    return n * 2


method: bytes = request.method
query: Dict[str, List[str]] = request.query
cookies: Dict[str, List[str]] = request.cookies
headers: Dict[bytes, List[bytes]] = request.headers
body: bytes = wait(request.body())
form: Dict[str, List[str]] = wait(request.form(), timeout=5)
result: int = wait(double(2))
future: 'concurrent.futures.Future[int]' = run(double(3))
path_info: str = __server__['PATH_INFO']
counter: Any = __globals__.counter
response.set_status(404)
response.set_header('X-A', 'b')
response.set_cookie('sid', 'x', expires=60, httponly=True, samesite='Lax')
sent: bool = response.headers_sent()
session['n'] = session.get('n', 0) + 1
token: str = session.csrf_token()
valid: bool = session.check_csrf(token)
sid: str = session.id
session.regenerate()
print(method.decode(), result, future.result(), path_info, __main__.__file__)
'''

# (line, what mypy must say about it)
BROKEN_SCRIPT = '''\
from httpout import __server__, request, response, run, wait


async def text() -> str:
    return 'x'


x: int = request.method
n: int = wait(text())
wait(42)
response.set_status('404')
port: int = __server__['SERVER_PORT']
from httpout import no_such_name
'''
BROKEN_LINES = {
    8: 'Incompatible types in assignment (expression has type "bytes", variable has type "int")',
    9: 'Incompatible types in assignment (expression has type "str", variable has type "int")',
    10: 'Argument 1 to "wait" has incompatible type "int"',
    11: 'Argument 1 to "set_status" of "Response" has incompatible type "str"',
    12: 'Incompatible types in assignment (expression has type "str", variable has type "int")',
    13: 'Module "httpout" has no attribute "no_such_name"',
}

BARE_SCRIPT = '''\
async def one() -> int:
    return 1


x: int = wait(one())
f = run(one())
p: str = __server__['PATH_INFO']
g = __globals__.thing
m = __main__.__file__
oops = undefined_name_here
'''


def mypy(paths: List[str], *options: str, cwd: Path, mypypath: Optional[Path] = REPO,
         cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop('MYPYPATH', None)
    if mypypath is not None:
        env['MYPYPATH'] = str(mypypath)
    return subprocess.run(
        [sys.executable, '-m', 'mypy', '--cache-dir', str(cache), '--no-color-output',
         '--show-error-codes', *options, *paths],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope='module')
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('mypy-cache')


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- mypy --------------------------------------------------------------------------

def test_example_passes_mypy(cache):
    # with --check-untyped-defs a bare built-in anywhere in example/ would
    # be an error: the pages import what they use, as the docs recommend
    pages = sorted(str(p.relative_to(EXAMPLE)) for p in EXAMPLE.rglob('*.py'))
    done = mypy(['.'], '--explicit-package-bases', '--follow-imports=silent',
                '--check-untyped-defs', cwd=EXAMPLE, cache=cache)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == 'Success: no issues found in %d source files' % len(pages), (
        done.stdout, pages)


def test_typed_script_passes_mypy_strict(tmp_path, cache):
    write(tmp_path, 'page.py', TYPED_SCRIPT)
    done = mypy(['page.py'], '--strict', '--follow-imports=silent', cwd=tmp_path, cache=cache)

    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Success: no issues found in 1 source file' in done.stdout


def test_type_errors_are_reported_by_mypy(tmp_path, cache):
    write(tmp_path, 'broken.py', BROKEN_SCRIPT)
    done = mypy(['broken.py'], '--follow-imports=silent', cwd=tmp_path, cache=cache)

    assert done.returncode == 1, done.stdout + done.stderr
    for line, message in BROKEN_LINES.items():
        assert re.search(r'^broken\.py:%d: error: %s' % (line, re.escape(message)),
                         done.stdout, re.M), (line, message, done.stdout)
    assert 'Found %d errors in 1 file' % len(BROKEN_LINES) in done.stdout, done.stdout


def test_bare_builtins_are_undefined_for_mypy(tmp_path, cache):
    # why the docs recommend the imports: mypy has no setting for them
    write(tmp_path, 'bare.py', BARE_SCRIPT)
    done = mypy(['bare.py'], '--follow-imports=silent', cwd=tmp_path, cache=cache)

    undefined = re.findall(r'Name "(\w+)" is not defined', done.stdout)
    assert sorted(undefined) == sorted(['wait', 'run', '__server__', '__globals__',
                                        '__main__', 'undefined_name_here']), done.stdout


def test_installed_package_ships_stubs_and_marker(tmp_path, cache):
    # what `pip install .` really installs: copy the sources that go into the
    # distribution, install them into a folder, and type-check against it
    source = tmp_path / 'src'
    source.mkdir()
    for name in ('pyproject.toml', 'README.md', 'LICENSE'):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / 'httpout', source / 'httpout',
                    ignore=shutil.ignore_patterns('__pycache__'))
    target = tmp_path / 'site'
    done = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
         '--disable-pip-version-check', '--target', str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    assert (target / 'httpout' / 'py.typed').is_file()
    assert (target / 'httpout' / '__init__.pyi').is_file()

    work = tmp_path / 'work'
    write(work, 'page.py', TYPED_SCRIPT)
    write(work, 'broken.py', BROKEN_SCRIPT)
    good = mypy(['page.py'], '--strict', '--follow-imports=silent', cwd=work,
                mypypath=target, cache=cache)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = mypy(['broken.py'], '--follow-imports=silent', cwd=work, mypypath=target,
               cache=cache)
    assert 'broken.py:8: error: Incompatible types in assignment' in bad.stdout, bad.stdout


# --- the snippets and settings of docs/editor-support.md ----------------------------

@pytest.fixture(scope='module')
def doc_files():
    return named_files(EDITOR_DOC)


def test_doc_typed_pages_pass_mypy(tmp_path, cache, doc_files):
    pages = [name for name in doc_files if name.endswith('.py')]
    assert {'typed.py', 'ws_typed.py'} <= set(pages)
    for name in pages:
        write(tmp_path, name, doc_files[name].text)

    done = mypy(pages, '--check-untyped-defs', '--follow-imports=silent',
                cwd=tmp_path, cache=cache)
    assert done.returncode == 0, done.stdout + done.stderr


def test_doc_mypy_message_is_what_mypy_says(tmp_path, cache, doc_files):
    # the page shows mypy's answer to `name: str = request.method`
    shown = re.search(r'```text\n(typed\.py:\d+: error: .*)\n```',
                      EDITOR_DOC.read_text()).group(1)
    text = doc_files['typed.py'].text
    changed = re.sub(r'^name: str = .*$', 'name: str = request.method', text, flags=re.M)
    assert changed != text
    write(tmp_path, 'typed.py', changed)

    done = mypy(['typed.py'], '--follow-imports=silent', cwd=tmp_path, cache=cache)
    assert shown in done.stdout.splitlines(), (shown, done.stdout)


def pyright_command() -> List[str]:
    try:
        import pyright  # noqa: F401
    except ImportError:
        pytest.fail('pyright is not installed: pip install pyright (it is in '
                    'the "test" extra)', pytrace=False)
    return [sys.executable, '-m', 'pyright']


def pyright(directory: Path, files: List[str], extra_paths=(str(REPO),)) -> dict:
    config = {'extraPaths': list(extra_paths), 'include': files,
              'pythonVersion': '%d.%d' % sys.version_info[:2]}
    (directory / 'pyrightconfig.json').write_text(json.dumps(config))
    done = subprocess.run(
        pyright_command() + ['--outputjson', '-p', str(directory / 'pyrightconfig.json')],
        cwd=directory, capture_output=True, text=True, timeout=300)
    try:
        return json.loads(done.stdout)
    except ValueError:
        pytest.fail('pyright did not run:\n' + done.stdout + done.stderr, pytrace=False)


def errors(report: dict) -> List[str]:
    return ['%s:%d: %s' % (Path(d['file']).name, d['range']['start']['line'] + 1, d['message'])
            for d in report['generalDiagnostics'] if d['severity'] == 'error']


def test_example_and_typed_scripts_pass_pyright(tmp_path):
    copy = tmp_path / 'example'
    shutil.copytree(EXAMPLE, copy)
    write(copy, 'zz_typed_page.py', TYPED_SCRIPT)
    report = pyright(copy, ['.'])

    assert errors(report) == []
    assert report['summary']['filesAnalyzed'] == len(list(copy.rglob('*.py')))


def test_type_errors_are_reported_by_pyright(tmp_path):
    write(tmp_path, 'broken.py', BROKEN_SCRIPT)
    found = errors(pyright(tmp_path, ['broken.py']))

    for line in BROKEN_LINES:
        assert any(error.startswith('broken.py:%d: ' % line) for error in found), (line, found)


def test_doc_builtins_pyi_makes_bare_names_known_to_pyright(tmp_path, doc_files):
    write(tmp_path, 'bare.py', BARE_SCRIPT)
    write(tmp_path, 'sub/deeper.py', 'y: int = wait(run)\n')  # wrong on purpose

    before = errors(pyright(tmp_path, ['.']))
    assert any('"wait" is not defined' in e for e in before), before

    write(tmp_path, '__builtins__.pyi', doc_files['__builtins__.pyi'].text)
    after = errors(pyright(tmp_path, ['.']))
    # the five names are known, with their types; a real typo still is not
    assert [e for e in after if e.startswith('bare.py')] == [
        'bare.py:10: "undefined_name_here" is not defined'], after
    assert any(e.startswith('deeper.py:1: ') and 'wait' in e for e in after), after


def test_doc_ruff_setting(tmp_path, doc_files):
    ruff = shutil.which('ruff') or (Path(sys.executable).parent / 'ruff')
    assert Path(ruff).exists(), 'ruff is not installed: pip install ".[test]"'
    write(tmp_path, 'bare.py', BARE_SCRIPT)
    write(tmp_path, 'pyproject.toml', doc_files['pyproject.toml'].text)

    done = subprocess.run([str(ruff), 'check', '--no-cache', '--output-format', 'concise',
                           'bare.py'], cwd=tmp_path, capture_output=True, text=True)
    assert re.findall(r'F821 Undefined name `(\w+)`', done.stdout) == ['undefined_name_here'], (
        done.stdout + done.stderr)


def test_doc_flake8_setting(tmp_path, doc_files):
    assert shutil.which('flake8') or (Path(sys.executable).parent / 'flake8').exists(), (
        'flake8 is not installed: pip install ".[test]"')
    write(tmp_path, 'bare.py', BARE_SCRIPT)
    write(tmp_path, '.flake8', doc_files['.flake8'].text)

    done = subprocess.run([sys.executable, '-m', 'flake8', '--select', 'F821', 'bare.py'],
                          cwd=tmp_path, capture_output=True, text=True)
    assert re.findall(r"F821 undefined name '(\w+)'", done.stdout) == ['undefined_name_here'], (
        done.stdout + done.stderr)
