"""Command line: `python3 -m httpout [OPTIONS] DOCUMENT_ROOT` (SPEC section 1).

Rules this module owns:

- It is the only place that reads `sys.argv`. Everything it can do is also
  possible from Python: it only builds the keyword arguments of
  `tremolo.Application.run()` and calls it with an `HTTPOut` app.
- The options are a table (`OPTIONS`): name, value type, destination,
  default and help. Parsing, validation and `--help` are all driven by it;
  adding an option means adding a row.
- Only options the user gave, plus httpout's own defaults (the rows with a
  `default`), are passed on, so tremolo keeps its defaults for the rest.
- Bad input never shows a traceback: `parse_args()` raises `UsageError`,
  and `main()` prints its one-line message and exits with status 1.

Theory of operation: `parse_args(argv)` walks the arguments once. Each
`--name value` / `--name=value` is looked up in the table and its value
converted by the row's converter (which raises `ValueError` with a short
reason); the converted value is stored under the row's `dest`. Then the
stored values are assembled into `Options`: the listen addresses, and the
`run()` keyword arguments.
"""
from __future__ import annotations

import ipaddress
import math
import os
import platform
import re
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any, Callable, Optional, Sequence

from . import __version__
from .session_stores import check_url

USAGE = 'Usage: python3 -m httpout [OPTIONS] DOCUMENT_ROOT'
EXAMPLES = (
    'python3 -m httpout /var/www',
    'python3 -m httpout --port 8080 --debug ./public',
    'httpout --bind 0.0.0.0:80,[::]:80 --worker-num 4 /srv/www',
)
LOG_LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')

# A listen address: (host, port) for TCP, (socket path, None) for Unix.
Address = tuple[str, Optional[int]]


class UsageError(Exception):
    """Bad command line input; the message is the one line to show."""


# --- value converters -------------------------------------------------------
# Each takes the raw string and returns the value for `run()`, or raises
# ValueError whose message is the short reason shown after
# 'Invalid --opt value "x"'.

def integer(low: Optional[int] = 0,
            high: Optional[int] = None) -> Callable[[str], int]:
    """A whole number within [low, high]; None is no bound."""
    def convert(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError('it must be a whole number') from None

        too_low = low is not None and value < low
        too_high = high is not None and value > high

        if too_low and high is None:
            raise ValueError('it must be at least %s' % low)
        if too_high and low is None:
            raise ValueError('it must be at most %s' % high)
        if too_low or too_high:
            raise ValueError('it must be between %s and %s' % (low, high))

        return value

    return convert


def number(raw: str) -> float:
    """A non-negative finite number of seconds."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError('it must be a number') from None

    # float() accepts "nan" and "inf", which make no sense as a timeout
    if not math.isfinite(value) or value < 0:
        raise ValueError('it must be a number >= 0')

    return value


def text(raw: str) -> str:
    return raw


def nonempty(raw: str) -> str:
    if not raw:
        raise ValueError('it must not be empty')
    return raw


def names(raw: str) -> list[str]:
    """Comma-separated list: 'a, b' -> ['a', 'b']."""
    items = [item.strip() for item in raw.split(',')]

    if not all(items):
        raise ValueError('empty item in comma-separated list')

    return items


def file_names(raw: str) -> list[str]:
    """Directory index names: plain file names, looked up in each folder."""
    items = names(raw)

    for item in items:
        if '/' in item or '\\' in item or item in ('.', '..'):
            raise ValueError('"%s" is not a plain file name' % item)

    return items


def existing_file(raw: str) -> str:
    # checked here so that a typo is one line now, not a traceback in a
    # worker process later
    if not os.path.isfile(raw):
        raise ValueError('no such file')
    return os.path.abspath(raw)


def log_level(raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError('it must be one of ' + ', '.join(LOG_LEVELS))
    return raw.upper()


def loop_name(raw: str) -> str:
    """'asyncio', 'uvloop' or 'module.LoopClass'; the module must exist."""
    module = raw.rpartition('.')[0] if '.' in raw else raw

    try:
        found = bool(module) and find_spec(module) is not None
    except (ImportError, ValueError):
        found = False

    if not found:
        raise ValueError('no module named "%s"' % module)

    return raw


def log_format(raw: str) -> str:
    from .logs import LOG_FORMATS

    if raw not in LOG_FORMATS:
        raise ValueError('it must be one of ' + ', '.join(LOG_FORMATS))
    return raw


def positive_number(raw: str) -> float:
    value = number(raw)

    if value <= 0:
        raise ValueError('it must be a number > 0')
    return value


def url_path(raw: str) -> str:
    """An absolute URL path such as '/healthz', of the characters the
    router allows (SPEC section 2), matched exactly, without a query."""
    if not raw.startswith('/') or not raw.strip('/'):
        raise ValueError('it must be a path such as "/metrics"')
    if any(not (c.isascii() and (c.isalnum() or c in '_-./')) for c in raw) or '..' in raw:
        raise ValueError('only A-Z a-z 0-9 _ - . / are allowed')
    return raw


def store_url(raw: str) -> str:
    return check_url(raw)


def cookie_name(raw: str) -> str:
    # an RFC 9110 token, so that the Set-Cookie line needs no quoting
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", raw):
        raise ValueError('a cookie name is letters, digits and !#$%&\'*+-.^_`|~')
    return raw


def port_number(raw: str) -> int:
    return integer(0, 65535)(raw)


def bind(raw: str) -> list[Address]:
    """'127.0.0.1:8000,:8001,[::1]:8000,/tmp/httpout.sock' -> addresses."""
    addresses: list[Address] = []

    for item in names(raw):
        if item.startswith('['):
            host, sep, port = item[1:].partition(']:')

            if not sep:
                raise ValueError('"%s": expected [IPV6]:PORT' % item)
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError(
                    '"%s" is not an IPv6 address' % host) from None
        elif ':' in item and '/' not in item and '\\' not in item:
            host, _, port = item.rpartition(':')
            # ':8001' means the default host, like it does for tremolo
            host = host or '127.0.0.1'
        elif '/' in item or '\\' in item or item.endswith('.sock'):
            # tremolo appends '.sock' to socket paths that lack it; do it here
            # so that the address we announce is the one really bound
            if not item.endswith('.sock'):
                item += '.sock'
            addresses.append((item, None))
            continue
        else:
            raise ValueError('"%s": expected HOST:PORT, [IPV6]:PORT or a Unix '
                             'socket path (containing "/" or ending in '
                             '".sock")' % item)
        try:
            addresses.append((host, port_number(port)))
        except ValueError:
            raise ValueError('"%s": bad port "%s"' % (item, port)) from None

    return addresses


# --- the option table -------------------------------------------------------

@dataclass(frozen=True)
class Option:
    name: str
    # converter for the value; None for a flag, which takes no value
    kind: Optional[Callable[[str], Any]]
    # where the value goes: a `run()` keyword, or one of the special
    # destinations 'host', 'port', 'bind', 'ssl.cert', 'ssl.key', 'action'
    dest: str
    help: str
    # always passed to run() when not None, even if the option is not given
    default: Any = None
    # the value a flag stores
    const: Any = True
    metavar: str = ''


OPTIONS: tuple[Option, ...] = (
    Option('--host', nonempty, 'host', 'Listen host', '127.0.0.1',
           metavar='HOST'),
    Option('--port', port_number, 'port', 'Listen port', 8000, metavar='PORT'),
    Option('--bind', bind, 'bind',
           'Addresses to listen on, instead of --host and --port, separated '
           'by commas: "127.0.0.1:8000", ":8001" (127.0.0.1), "[::1]:8000" '
           'or a Unix socket path "/tmp/httpout.sock"', metavar='ADDR[,ADDR]'),
    Option('--worker-num', integer(None), 'worker_num',
           'Number of worker processes; they share one listening socket. '
           '0: run in the main process; negative: one per CPU', 1,
           metavar='N'),
    Option('--thread-pool-size', integer(1), 'thread_pool_size',
           'Script threads per worker process: how many scripts run at once',
           16, metavar='N'),
    Option('--limit-memory', integer(), 'limit_memory',
           'Restart a worker that uses more than this (Linux only). '
           'Tremolo\'s default is 0, no limit', metavar='KiB'),
    Option('--ssl-cert', existing_file, 'ssl.cert',
           'Serve HTTPS with this certificate file (e.g. fullchain.pem)',
           metavar='FILE'),
    Option('--ssl-key', existing_file, 'ssl.key',
           'Private key file for --ssl-cert (e.g. privkey.pem)',
           metavar='FILE'),
    Option('--directory-index', file_names, 'directory_index',
           'Index files for directory URLs, first existing wins',
           ['index.py', 'index.html'], metavar='NAME[,NAME]'),
    Option('--debug', None, 'debug',
           'Development mode: tracebacks are shown in the browser', False),
    Option('--log-level', log_level, 'log_level',
           'One of ' + ', '.join(LOG_LEVELS), 'INFO', metavar='LEVEL'),
    Option('--log-fmt', text, 'log_fmt',
           'Python logging format, e.g. "%(asctime)s %(message)s"',
           metavar='FORMAT'),
    Option('--log-format', log_format, 'log_format',
           '"text", or "json" for one JSON object per line in the access '
           'and error logs', 'text', metavar='FORMAT'),
    Option('--loop', loop_name, 'loop',
           'Event loop: a module ("asyncio", "uvloop") or a class '
           '("asyncio.SelectorEventLoop"). Tremolo\'s default is asyncio',
           metavar='NAME'),
    Option('--shutdown-timeout', number, 'shutdown_timeout',
           'Seconds to let in-flight requests finish after SIGTERM. '
           'Tremolo\'s default is 30', metavar='SECONDS'),
    Option('--no-ws', None, 'ws', 'Disable WebSocket upgrades', const=False),
    Option('--compress', None, 'compress',
           'Compress pages too (gzip; br, zstd if installed) for clients that '
           'ask. Off by default: see docs/security.md on BREACH'),
    Option('--no-compress', None, 'compress',
           'Send nothing compressed, not even the precompressed siblings of '
           'static files (style.css.gz), which are sent by default',
           const=False),
    Option('--client-max-body-size', integer(), 'client_max_body_size',
           'Largest request body accepted. Tremolo\'s default is 2 MiB',
           metavar='BYTES'),
    Option('--max-execution-time', number, 'max_execution_time',
           'Stop waiting for a script after this many seconds; 0 is no limit',
           0.0, metavar='SECONDS'),
    Option('--no-access-log', None, 'access_log',
           'Do not log each request', const=False),
    Option('--health-path', url_path, 'health_path',
           'Answer 200 at this URL path (503 while stopping), for load '
           'balancers; no script runs', metavar='PATH'),
    Option('--metrics-path', url_path, 'metrics_path',
           'Serve Prometheus metrics at this URL path, to loopback and '
           '--trusted-proxy addresses only', metavar='PATH'),
    Option('--slow-log', positive_number, 'slow_log',
           'Log the stack of a script still running after this many '
           'seconds', metavar='SECONDS'),
    Option('--reload', None, 'reload',
           'Development: restart the workers when __globals__.py or a '
           'module it imports changes (SIGHUP does it at any time)'),
    Option('--trusted-proxy', names, 'trusted_proxies',
           'Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto '
           'headers are believed, separated by commas', metavar='ADDR[,ADDR]'),
    Option('--session-store', store_url, 'session_store',
           'Where sessions are kept: sqlite:///ABS/PATH.db, or redis://HOST:PORT/DB '
           'for several instances (pip install "httpout[redis]"). Default: an '
           'SQLite file outside the document root, %s, HASH naming the document '
           'root' % os.path.join(tempfile.gettempdir(), 'httpout-UID',
                                 'sessions-HASH.db'), metavar='URL'),
    Option('--session-lifetime', integer(1), 'session_lifetime',
           'Seconds a session lives after its last use', 1440, metavar='SECONDS'),
    Option('--session-cookie', cookie_name, 'session_cookie',
           'Name of the session cookie', 'HTTPOUTSESSID', metavar='NAME'),
    Option('--session-lock-timeout', number, 'session_lock_timeout',
           'Seconds a request waits for its session while another request of '
           'the same visitor uses it, then 503', 30.0, metavar='SECONDS'),
    # tremolo's own options, passed through unchanged
    Option('--backlog', integer(), 'backlog',
           'Maximum number of pending connections. Tremolo\'s default is 100',
           metavar='N'),
    Option('--download-rate', integer(), 'download_rate',
           'Limit the sending speed to the client. Tremolo\'s default is '
           '1048576 (1 MiB/s)', metavar='BYTES'),
    Option('--upload-rate', integer(), 'upload_rate',
           'Limit the upload speed from the client. Tremolo\'s default is '
           '1048576 (1 MiB/s)', metavar='BYTES'),
    Option('--buffer-size', integer(1), 'buffer_size',
           'Read buffer size. Tremolo\'s default is 16384', metavar='BYTES'),
    Option('--ws-max-payload-size', integer(), 'ws_max_payload_size',
           'Largest WebSocket message. Tremolo\'s default is 2 MiB',
           metavar='BYTES'),
    Option('--client-max-header-size', integer(), 'client_max_header_size',
           'Largest request header. Tremolo\'s default is 8192',
           metavar='BYTES'),
    Option('--max-queue-size', integer(1), 'max_queue_size',
           'Maximum number of buffers in a queue. Tremolo\'s default is 128',
           metavar='N'),
    Option('--request-timeout', integer(), 'request_timeout',
           'Seconds to receive a request. Tremolo\'s default is 30',
           metavar='SECONDS'),
    Option('--keepalive-timeout', integer(), 'keepalive_timeout',
           'Seconds an idle connection is kept. Tremolo\'s default is 30',
           metavar='SECONDS'),
    Option('--keepalive-connections', integer(), 'keepalive_connections',
           'Keep-alive connections per worker. Tremolo\'s default is 512',
           metavar='N'),
    Option('--app-handler-timeout', integer(), 'app_handler_timeout',
           'Tremolo\'s limit on a request handler. httpout\'s default is '
           '86400, a day (tremolo\'s is 120)', metavar='SECONDS'),
    Option('--app-close-timeout', integer(), 'app_close_timeout',
           'Seconds a handler may run after the client is gone. '
           'httpout\'s default is 5 (tremolo\'s is 30)', metavar='SECONDS'),
    Option('--server-name', text, 'server_name',
           'The "Server" response header; empty for none', 'httpout',
           metavar='NAME'),
    Option('--root-path', text, 'root_path',
           'Tremolo\'s ASGI root_path', metavar='PATH'),
    Option('--version', None, 'action', 'Print the version and exit',
           const='version'),
    Option('--help', None, 'action', 'Show this help and exit', const='help'),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
# destinations that are not run() keywords but are assembled specially
SPECIAL_DESTS = ('host', 'port', 'bind', 'ssl.cert', 'ssl.key', 'action')


@dataclass
class Options:
    """What the command line asks for, ready for `tremolo.Application`."""

    # 'help' or 'version' when one of those was asked for; nothing else is
    # filled in then
    action: Optional[str] = None
    # absolute path
    document_root: str = ''
    # where to listen; the first one is the URL announced at start
    addresses: list[Address] = field(default_factory=list)
    # True when the addresses came from --bind (listen() each, run(host=None))
    bind: bool = False
    # keyword arguments for Application.run(), besides host and port
    run: dict[str, Any] = field(default_factory=dict)


def parse_args(argv: Sequence[str]) -> Options:
    """Turn the arguments (without the program name) into `Options`.

    Raises UsageError, whose message is a single line, for bad input."""
    given: dict[str, Any] = {}
    given_as: dict[str, str] = {}  # dest: the option that gave it
    positional: list[str] = []
    args = list(argv)
    i = 0

    while i < len(args):
        arg = args[i]
        i += 1

        if arg == '--':  # the rest are positional, e.g. a root named '-x'
            positional.extend(args[i:])
            break

        if not arg.startswith('-') or arg == '-':
            positional.append(arg)
            continue

        name, has_value, raw = arg.partition('=')
        option = BY_NAME.get(name)

        if option is None:
            raise UsageError('Unrecognized option "%s"' % name)

        if option.kind is None:
            if has_value:
                raise UsageError('Option "%s" takes no value' % name)
            value = option.const
        else:
            if not has_value:
                # a following option is not a value; '--opt=--x' still works
                if i >= len(args) or args[i].startswith('--'):
                    raise UsageError('Option "%s" needs a value' % name)
                raw = args[i]
                i += 1
            try:
                value = option.kind(raw)
            except ValueError as exc:
                raise UsageError('Invalid %s value "%s": %s'
                                 % (name, raw, exc)) from None

        if option.dest == 'action':
            # --help / --version win over anything that follows
            return Options(action=value)

        if given_as.setdefault(option.dest, name) != name:
            # opposite flags (--compress, --no-compress): one would be ignored
            raise UsageError('%s cannot be used with %s' % (name, given_as[option.dest]))

        given[option.dest] = value

    return _assemble(given, positional)


def _assemble(given: dict[str, Any], positional: list[str]) -> Options:
    """Check the combination of options and build `Options`."""
    if not positional:
        raise UsageError('Missing DOCUMENT_ROOT, the folder to serve. '
                         'Use "--help" for help')

    if len(positional) > 1:
        raise UsageError('Unexpected argument "%s": only one DOCUMENT_ROOT '
                         'is allowed' % positional[1])

    root = positional[0]

    if not os.path.exists(root):
        raise UsageError('Document root "%s" does not exist' % root)

    if not os.path.isdir(root):
        raise UsageError('Document root "%s" is not a directory' % root)

    if 'bind' in given and ('host' in given or 'port' in given):
        # one of them would be ignored silently otherwise
        raise UsageError('--bind cannot be used with --host or --port; '
                         'put the addresses in --bind')

    if 'ssl.key' in given and 'ssl.cert' not in given:
        raise UsageError('--ssl-key needs --ssl-cert')

    if 'health_path' in given and given.get('health_path') == given.get('metrics_path'):
        raise UsageError('--health-path and --metrics-path must differ')

    if given.get('reload') and given.get('worker_num') == 0:
        # the restarts are done by the main process, for its workers
        raise UsageError('--reload needs worker processes: --worker-num 1 or more')

    values = {option.dest: option.default for option in OPTIONS
              if option.default is not None}
    values.update(given)
    options = Options(document_root=os.path.abspath(root))

    if 'bind' in values:
        options.addresses = values['bind']
        options.bind = True
    else:
        options.addresses = [(values['host'], values['port'])]

    run = {dest: value for dest, value in values.items()
           if dest not in SPECIAL_DESTS}

    if 'ssl.cert' in values:
        run['ssl'] = {'cert': values['ssl.cert']}

        if 'ssl.key' in values:
            run['ssl']['key'] = values['ssl.key']

    run['document_root'] = options.document_root
    options.run = run
    return options


# --- output -----------------------------------------------------------------

def usage() -> str:
    """The --help text, generated from OPTIONS."""
    lines = [USAGE, '', 'Serve the folder DOCUMENT_ROOT: .py files run as '
             'scripts, other files', 'are sent as they are.', '', 'Examples:']
    lines += ['  ' + example for example in EXAMPLES]
    lines += ['', 'Options:']
    width = 2 + max(len(option.name) + 1 + len(option.metavar)
                    for option in OPTIONS) + 2

    for option in OPTIONS:
        left = '  ' + ' '.join(filter(None, (option.name, option.metavar)))
        help_text = option.help

        if option.default not in (None, False):
            default = option.default

            if isinstance(default, list):
                default = ','.join(default)
            help_text += ' (default: %s)' % default

        wrapped = textwrap.wrap(help_text, max(79 - width, 30)) or ['']
        lines.append(left.ljust(width) + wrapped[0])
        lines += [' ' * width + line for line in wrapped[1:]]

    return '\n'.join(lines)


def version() -> str:
    """'httpout X.Y.Z (tremolo A.B.C, cpython 3.11.7, linux)'."""
    import tremolo

    return 'httpout %s (tremolo %s, %s %s, %s)' % (
        __version__, tremolo.__version__, sys.implementation.name,
        platform.python_version(), sys.platform)


ROOT_WARNING = """\
WARNING: httpout is running as root.
WARNING: Every script in the document root runs with root privileges: a bug
WARNING: or a malicious upload can take over the whole machine.
WARNING: Run httpout as an unprivileged user, or inside a container."""


def is_root() -> bool:
    # os.geteuid does not exist on Windows
    return hasattr(os, 'geteuid') and os.geteuid() == 0


def url(address: Address, https: bool) -> str:
    """The URL to open for a listen address; a Unix socket is its path."""
    host, port = address

    if port is None:
        return 'unix:' + host

    if ':' in host:  # IPv6 literal
        host = '[%s]' % host

    return '%s://%s:%d/' % ('https' if https else 'http', host, port)


def startup_lines(options: Options) -> list[str]:
    """One line per listen address, which has its own set of workers:
    'httpout 1.0.0 serving /abs/root at http://127.0.0.1:8000/ (2 workers,
    16 threads; press Ctrl+C to stop)'."""
    workers = options.run['worker_num']

    if workers == 0:
        processes = 'single process'
    else:
        if workers < 0:  # one per CPU
            workers = os.cpu_count() or 1
        processes = '%d worker%s' % (workers, 's' if workers != 1 else '')

    threads = options.run['thread_pool_size']
    return ['httpout %s serving %s at %s (%s, %d thread%s; press Ctrl+C to stop)' % (
        __version__, options.document_root, url(address, 'ssl' in options.run),
        processes, threads, 's' if threads != 1 else '')
        for address in options.addresses]


def serve(options: Options) -> None:
    """Run the server until it is stopped."""
    import tremolo

    from .logs import divert_tremolo_console, server_logger
    from .server import HTTPOut
    from .supervisor import Supervisor

    run = options.run
    logger = server_logger(run['log_level'], run['log_format'], run.get('log_fmt'))
    divert_tremolo_console(logger)
    app = tremolo.Application()
    app.logger = logger  # tremolo keeps a logger that has a handler
    HTTPOut(app)

    if run['worker_num'] != 0:
        Supervisor(app, options.addresses, run, logger).run()
    elif options.bind:
        # like tremolo's own --bind: listen() each address, run(host=None)
        for host, port in options.addresses:
            if port is None:
                app.listen(host)  # a Unix socket path
            else:
                app.listen(port, host=host)

        # tremolo uses this port for Unix sockets in its log line only
        app.run(None, 0, **run)
    else:
        (host, port), = options.addresses
        app.run(host, port, **run)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of `httpout` and `python3 -m httpout`."""
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)

    if options.action in ('help', 'version'):
        try:
            print(usage() if options.action == 'help' else version(), flush=True)
        except BrokenPipeError:  # e.g. `httpout --help | head`
            # keep Python from complaining again when it flushes at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return

    if options.run['log_format'] == 'json':  # every line a JSON object
        from .logs import server_logger

        logger = server_logger(options.run['log_level'], 'json')

        if is_root():
            logger.warning(' '.join(ROOT_WARNING.replace('WARNING: ', '').split()))

        for line in startup_lines(options):
            logger.info(line)
    else:
        if is_root():
            print(ROOT_WARNING, file=sys.stderr, flush=True)

        # flushed: whoever watches the output (a terminal, a test, a
        # supervisor) sees the URL before the workers start
        print('\n'.join(startup_lines(options)), flush=True)

    warn_shadowing(options)
    serve(options)


def warn_shadowing(options: Options) -> None:
    """Name, once, the files a worker could never import (json.py...); the
    workers then keep quiet about them."""
    from .imports import shadowing_files
    from .server import shadowing_warning

    files = shadowing_files(os.path.realpath(options.document_root))

    if files and options.run['log_format'] == 'json':
        from .logs import server_logger

        server_logger(options.run['log_level'], 'json').warning(shadowing_warning(files))
    elif files:
        print('WARNING: ' + shadowing_warning(files), file=sys.stderr, flush=True)

    options.run['warn_shadowing'] = False
