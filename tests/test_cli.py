"""Tests of the command line (SPEC section 1).

`parse_args` is tested directly; `python -m httpout` is run as a subprocess
for what only a real process shows: exit status, the one-line error, the
--help/--version output and a real start/stop.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from httpout import cli
from httpout.cli import UsageError, parse_args

from conftest import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path)


def error(argv: list) -> str:
    with pytest.raises(UsageError) as info:
        parse_args(argv)
    return str(info.value)


# --- parse_args: values -----------------------------------------------------

def test_defaults(root):
    options = parse_args([root])

    assert options.action is None
    assert options.document_root == os.path.abspath(root)
    assert options.addresses == [('127.0.0.1', 8000)]
    assert options.bind is False
    # only httpout's own defaults; tremolo keeps its defaults for the rest
    assert options.run == {
        'worker_num': 1,
        'thread_pool_size': 16,
        'directory_index': ['index.py', 'index.html'],
        'debug': False,
        'log_level': 'INFO',
        'log_format': 'text',
        'max_execution_time': 0.0,
        'server_name': 'httpout',
        'session_lifetime': 1440,
        'session_cookie': 'HTTPOUTSESSID',
        'session_lock_timeout': 30.0,
        'document_root': os.path.abspath(root),
    }


def test_relative_root_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / 'www').mkdir()
    monkeypatch.chdir(tmp_path)

    assert parse_args(['www']).document_root == str(tmp_path / 'www')


@pytest.mark.parametrize('args, key, value', [
    (['--port', '8080'], None, None),
    (['--worker-num', '4'], 'worker_num', 4),
    (['--worker-num', '-1'], 'worker_num', -1),
    (['--thread-pool-size', '3'], 'thread_pool_size', 3),
    (['--limit-memory', '1024'], 'limit_memory', 1024),
    (['--client-max-body-size', '100'], 'client_max_body_size', 100),
    (['--backlog', '7'], 'backlog', 7),
    (['--download-rate', '1'], 'download_rate', 1),
    (['--upload-rate', '2'], 'upload_rate', 2),
    (['--buffer-size', '4096'], 'buffer_size', 4096),
    (['--ws-max-payload-size', '9'], 'ws_max_payload_size', 9),
    (['--client-max-header-size', '10'], 'client_max_header_size', 10),
    (['--max-queue-size', '11'], 'max_queue_size', 11),
    (['--request-timeout', '12'], 'request_timeout', 12),
    (['--keepalive-timeout', '13'], 'keepalive_timeout', 13),
    (['--keepalive-connections', '14'], 'keepalive_connections', 14),
    (['--app-handler-timeout', '15'], 'app_handler_timeout', 15),
    (['--app-close-timeout', '16'], 'app_close_timeout', 16),
    # float
    (['--max-execution-time', '2.5'], 'max_execution_time', 2.5),
    (['--shutdown-timeout', '3'], 'shutdown_timeout', 3.0),
    # str
    (['--log-level', 'debug'], 'log_level', 'DEBUG'),
    (['--log-fmt', '%(message)s'], 'log_fmt', '%(message)s'),
    (['--loop', 'asyncio'], 'loop', 'asyncio'),
    (['--loop', 'asyncio.SelectorEventLoop'], 'loop',
     'asyncio.SelectorEventLoop'),
    (['--server-name', 'x'], 'server_name', 'x'),
    (['--server-name', ''], 'server_name', ''),
    (['--root-path', '/app'], 'root_path', '/app'),
    # lists
    (['--directory-index', 'main.py, home.html'], 'directory_index',
     ['main.py', 'home.html']),
    (['--trusted-proxy', '10.0.0.1,::1'], 'trusted_proxies',
     ['10.0.0.1', '::1']),
    # flags
    (['--debug'], 'debug', True),
    (['--no-ws'], 'ws', False),
    (['--no-access-log'], 'access_log', False),
])
def test_option_values(root, args, key, value):
    options = parse_args([*args, root])

    if key is None:  # --port is an address, not a run() keyword
        assert options.addresses == [('127.0.0.1', 8080)]
        assert 'port' not in options.run
    else:
        assert options.run[key] == value

    # the '--opt=value' form means the same
    if len(args) == 2:
        assert parse_args(['%s=%s' % tuple(args), root]) == options


def test_host_and_port(root):
    options = parse_args(['--host', '0.0.0.0', '--port=0', root])

    assert options.addresses == [('0.0.0.0', 0)]
    assert 'host' not in options.run


def test_option_after_root_and_equals_in_value(root):
    options = parse_args([root, '--log-fmt=a=b', '--debug'])

    assert options.run['log_fmt'] == 'a=b'
    assert options.run['debug'] is True


def test_value_starting_with_dashes_needs_equals_form(root):
    assert parse_args(['--log-fmt=--%(message)s', root]).run['log_fmt'] == \
        '--%(message)s'


def test_double_dash_ends_options(tmp_path, monkeypatch):
    (tmp_path / '--odd').mkdir()
    monkeypatch.chdir(tmp_path)

    assert parse_args(['--', '--odd']).document_root == str(tmp_path / '--odd')


def test_ssl(root, tmp_path):
    cert = tmp_path / 'cert.pem'
    key = tmp_path / 'key.pem'
    cert.write_text('x')
    key.write_text('x')

    options = parse_args(
        ['--ssl-cert', str(cert), '--ssl-key', str(key), root])
    assert options.run['ssl'] == {'cert': str(cert), 'key': str(key)}
    assert 'ssl.cert' not in options.run
    assert cli.url(options.addresses[0], True) == 'https://127.0.0.1:8000/'

    # a certificate file may hold the key too
    assert parse_args(['--ssl-cert', str(cert), root]).run['ssl'] == \
        {'cert': str(cert)}


@pytest.mark.parametrize('value, addresses', [
    ('127.0.0.1:8000', [('127.0.0.1', 8000)]),
    (':8001', [('127.0.0.1', 8001)]),
    ('[::1]:8000', [('::1', 8000)]),
    ('localhost:80', [('localhost', 80)]),
    ('/tmp/httpout.sock', [('/tmp/httpout.sock', None)]),
    # tremolo appends '.sock'; we announce the path it really binds
    ('/tmp/httpout', [('/tmp/httpout.sock', None)]),
    ('app.sock', [('app.sock', None)]),
    ('127.0.0.1:8000, :8001,[::]:8002,/run/h.sock',
     [('127.0.0.1', 8000), ('127.0.0.1', 8001), ('::', 8002),
      ('/run/h.sock', None)]),
])
def test_bind(root, value, addresses):
    options = parse_args(['--bind', value, root])

    assert options.bind is True
    assert options.addresses == addresses
    assert 'bind' not in options.run
    assert parse_args(['--bind=' + value, root]) == options


def test_help_and_version_need_no_root():
    assert parse_args(['--help']).action == 'help'
    assert parse_args(['--version']).action == 'version'
    assert parse_args(['--debug', '--version', '--bogus']).action == 'version'


def test_last_value_wins(root):
    assert parse_args(['--port', '1', '--port', '2', root]).addresses == \
        [('127.0.0.1', 2)]


# --- parse_args: bad input ---------------------------------------------------

@pytest.mark.parametrize('args, message', [
    (['--x'], 'Unrecognized option "--x"'),
    (['--x=1'], 'Unrecognized option "--x"'),
    (['-h'], 'Unrecognized option "-h"'),
    (['--port', 'x'], 'Invalid --port value "x": it must be a whole number'),
    (['--port=x'], 'Invalid --port value "x": it must be a whole number'),
    (['--port='], 'Invalid --port value "": it must be a whole number'),
    (['--port', '70000'],
     'Invalid --port value "70000": it must be between 0 and 65535'),
    (['--thread-pool-size', '0'],
     'Invalid --thread-pool-size value "0": it must be at least 1'),
    (['--backlog', '1.5'],
     'Invalid --backlog value "1.5": it must be a whole number'),
    (['--max-execution-time', 'soon'],
     'Invalid --max-execution-time value "soon": it must be a number'),
    (['--max-execution-time', '-1'],
     'Invalid --max-execution-time value "-1": it must be a number >= 0'),
    (['--shutdown-timeout', 'nan'],
     'Invalid --shutdown-timeout value "nan": it must be a number >= 0'),
    (['--log-level', 'loud'], 'Invalid --log-level value "loud": it must be '
     'one of DEBUG, INFO, WARNING, ERROR, CRITICAL'),
    (['--loop', 'no_such_loop_module'], 'Invalid --loop value '
     '"no_such_loop_module": no module named "no_such_loop_module"'),
    (['--host', ''], 'Invalid --host value "": it must not be empty'),
    (['--directory-index', 'a,,b'], 'Invalid --directory-index value "a,,b": '
     'empty item in comma-separated list'),
    (['--directory-index', 'sub/index.py'], 'Invalid --directory-index value '
     '"sub/index.py": "sub/index.py" is not a plain file name'),
    (['--ssl-cert', '/no/such.pem'],
     'Invalid --ssl-cert value "/no/such.pem": no such file'),
    (['--bind', 'localhost'], 'Invalid --bind value "localhost": "localhost": '
     'expected HOST:PORT, [IPV6]:PORT or a Unix socket path (containing "/" '
     'or ending in ".sock")'),
    (['--bind', '127.0.0.1:http'], 'Invalid --bind value "127.0.0.1:http": '
     '"127.0.0.1:http": bad port "http"'),
    (['--bind', '[::1]'],
     'Invalid --bind value "[::1]": "[::1]": expected [IPV6]:PORT'),
    (['--bind', '[nope]:80'],
     'Invalid --bind value "[nope]:80": "nope" is not an IPv6 address'),
    (['--bind', ':1,'],
     'Invalid --bind value ":1,": empty item in comma-separated list'),
    (['--session-store', 'mysql://x'], 'Invalid --session-store value "mysql://x": '
     'expected sqlite:///PATH.db or redis://HOST:PORT/DB'),
    (['--session-store', 'sqlite://sessions.db'], 'Invalid --session-store value '
     '"sqlite://sessions.db": expected sqlite:///ABSOLUTE/PATH.db'),
    (['--session-store', 'sqlite:///var/lib/'], 'Invalid --session-store value '
     '"sqlite:///var/lib/": expected sqlite:///ABSOLUTE/PATH.db'),
    (['--session-lifetime', '0'],
     'Invalid --session-lifetime value "0": it must be at least 1'),
    (['--session-cookie', 'a b'], 'Invalid --session-cookie value "a b": a cookie '
     "name is letters, digits and !#$%&'*+-.^_`|~"),
    (['--session-cookie', 'sid;x=1'], 'Invalid --session-cookie value "sid;x=1": a '
     "cookie name is letters, digits and !#$%&'*+-.^_`|~"),
    (['--session-lock-timeout', 'never'],
     'Invalid --session-lock-timeout value "never": it must be a number'),
    (['--debug=yes'], 'Option "--debug" takes no value'),
    (['--help=1'], 'Option "--help" takes no value'),
    (['--port', '--debug'], 'Option "--port" needs a value'),
])
def test_bad_option(root, args, message):
    assert error([*args, root]) == message


def test_missing_value_at_end(root):
    assert error([root, '--port']) == 'Option "--port" needs a value'


def test_missing_root():
    assert error([]) == \
        'Missing DOCUMENT_ROOT, the folder to serve. Use "--help" for help'
    assert error(['--debug']).startswith('Missing DOCUMENT_ROOT')


def test_root_does_not_exist(tmp_path):
    path = str(tmp_path / 'nope')
    assert error([path]) == 'Document root "%s" does not exist' % path


def test_root_is_a_file(tmp_path):
    path = tmp_path / 'file.txt'
    path.write_text('x')
    assert error([str(path)]) == \
        'Document root "%s" is not a directory' % path


def test_two_roots(root):
    assert error([root, 'other']) == \
        'Unexpected argument "other": only one DOCUMENT_ROOT is allowed'


@pytest.mark.parametrize('args', [['--host', 'a'], ['--port', '1']])
def test_bind_excludes_host_and_port(root, args):
    assert error(['--bind', ':1', *args, root]) == \
        '--bind cannot be used with --host or --port; put the addresses in ' \
        '--bind'


def test_ssl_key_without_cert(root, tmp_path):
    key = tmp_path / 'key.pem'
    key.write_text('x')
    assert error(['--ssl-key', str(key), root]) == '--ssl-key needs --ssl-cert'


# --- output helpers ---------------------------------------------------------

def test_startup_lines(root):
    lines = cli.startup_lines(parse_args([root]))
    assert lines == ['httpout %s serving %s at http://127.0.0.1:8000/ '
                     '(1 worker, 16 threads; press Ctrl+C to stop)'
                     % (cli.__version__, os.path.abspath(root))]

    # one line per address, each with its own set of workers
    lines = cli.startup_lines(parse_args(
        ['--bind', '[::1]:9000,:9001', '--worker-num', '3',
         '--thread-pool-size', '1', root]))
    assert len(lines) == 2
    assert ' at http://[::1]:9000/ (3 workers, 1 thread; press Ctrl+C to stop)' in lines[0]
    assert ' at http://127.0.0.1:9001/ (3 workers, 1 thread;' in lines[1]

    lines = cli.startup_lines(parse_args(
        ['--bind', '/tmp/h.sock', '--worker-num', '0', root]))
    assert ' at unix:/tmp/h.sock (single process, 16 threads;' in lines[0]


# --- the operator's options (docs/operations.md) ---------------------------

def test_operations_options(root):
    run = parse_args(['--health-path', '/healthz', '--metrics-path', '/-/metrics',
                      '--slow-log', '0.5', '--reload', '--log-format', 'json',
                      root]).run
    assert (run['health_path'], run['metrics_path'], run['slow_log'], run['reload'],
            run['log_format']) == ('/healthz', '/-/metrics', 0.5, True, 'json')
    # off unless asked for
    assert not {'health_path', 'metrics_path', 'slow_log', 'reload'} & set(
        parse_args([root]).run)


@pytest.mark.parametrize('argv,message', [
    (['--health-path', 'healthz'], 'Invalid --health-path value "healthz": '
     'it must be a path such as "/metrics"'),
    (['--metrics-path', '/'], 'Invalid --metrics-path value "/": '
     'it must be a path such as "/metrics"'),
    (['--metrics-path', '/a b'], 'Invalid --metrics-path value "/a b": '
     'only A-Z a-z 0-9 _ - . / are allowed'),
    (['--health-path', '/../x'], 'Invalid --health-path value "/../x": '
     'only A-Z a-z 0-9 _ - . / are allowed'),
    (['--slow-log', '0'], 'Invalid --slow-log value "0": it must be a number > 0'),
    (['--slow-log', 'x'], 'Invalid --slow-log value "x": it must be a number'),
    (['--log-format', 'xml'], 'Invalid --log-format value "xml": '
     'it must be one of text, json'),
    (['--health-path', '/x', '--metrics-path', '/x'],
     '--health-path and --metrics-path must differ'),
    (['--reload', '--worker-num', '0'],
     '--reload needs worker processes: --worker-num 1 or more'),
])
def test_operations_options_refused(root, argv, message):
    assert error(argv + [root]) == message


def test_every_option_has_help():
    for option in cli.OPTIONS:
        assert option.name.startswith('--') and option.help
        # a value's name is shown in --help; a flag has none
        assert bool(option.metavar) == (option.kind is not None)


def test_root_warning(root, monkeypatch, capsys):
    monkeypatch.setattr(cli, 'is_root', lambda: True)
    monkeypatch.setattr(cli, 'serve', lambda options: None)

    cli.main([root])
    out, err = capsys.readouterr()

    assert err.count('WARNING') >= 3 and 'root' in err
    assert 'container' in err
    assert out.startswith('httpout ')


def test_main_passes_run_options(root, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(cli, 'is_root', lambda: False)
    monkeypatch.setattr(cli, 'serve', seen.append)

    cli.main(['--debug', root])

    assert seen[0].run['debug'] is True
    assert capsys.readouterr().err == ''


# --- the real command -------------------------------------------------------

def httpout(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-m', 'httpout', *args], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout)


def test_version_command():
    result = httpout('--version')

    assert result.returncode == 0
    assert re.fullmatch(
        r'httpout \d+\.\d+\.\d+\S* \(tremolo \d+\.\d+\.\d+\S*, '
        r'[a-z]+ \d+\.\d+\.\d+\S*, [a-z0-9]+\)\n',
        result.stdout), result.stdout


def test_help_command():
    result = httpout('--help')

    assert result.returncode == 0
    assert result.stdout.startswith('Usage: ')
    assert 'DOCUMENT_ROOT' in result.stdout.splitlines()[0]

    for option in cli.OPTIONS:
        assert re.search(r'^  %s\b' % re.escape(option.name), result.stdout,
                         re.M), option.name


@pytest.mark.parametrize('args', [
    ['--x', '{root}'],
    ['--port', 'x', '{root}'],
    ['--port', '{root}'],
    ['--port'],
    [],
    ['{root}/nope'],
    ['{root}/file.txt'],
    ['{root}', '{root}'],
    ['--bind', 'nohost', '{root}'],
])
def test_bad_input_command(tmp_path, args):
    (tmp_path / 'file.txt').write_text('x')
    args = [arg.format(root=tmp_path) for arg in args]
    expected = error(args)  # the same message as parse_args

    result = httpout(*args)

    assert result.returncode == 1
    assert 'Traceback' not in result.stdout
    assert result.stdout == expected + '\n'


def test_serve_and_stop(tmp_path):
    (tmp_path / 'hello.txt').write_text('Hello, world!\n')
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'httpout', '--port', str(port), str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED='1'))

    try:
        line = proc.stdout.readline().decode()

        while line.startswith('WARNING'):  # the tests may run as root
            line = proc.stdout.readline().decode()

        assert line.startswith('httpout '), line
        assert 'http://127.0.0.1:%d/' % port in line
        assert str(tmp_path) in line

        deadline = time.monotonic() + 15

        while True:  # the URL is announced before the workers are up
            try:
                response = httpx.get('http://127.0.0.1:%d/hello.txt' % port)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)

        assert response.status_code == 200
        assert response.text == 'Hello, world!\n'

        proc.send_signal(signal.SIGTERM)
        # communicate(), not wait(): keep draining the log so it cannot block
        log = proc.communicate(timeout=15)[0].decode(errors='replace')
        assert proc.returncode == 0, log
        assert 'Traceback' not in log, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
