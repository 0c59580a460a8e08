"""The --debug page and the server's own log (issue 5, parts 1 and 2).

With --debug an uncaught exception gives a readable HTML page: the
exception, every frame of the traceback with the source lines around it,
and the request (method, path, query, headers) with Cookie and
Authorization masked, everything HTML-escaped. Without --debug the page
gives nothing of it away.

The log: a startup line naming the version, document root, address, workers
and threads and the URL to open; one access-log line per request in the
combined log format, on by default and off with --no-access-log; errors
logged with the request that caused them.
"""
from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from typing import List

import httpx

import httpout
from e2e_util import raw_get

BOOM = '''\
import os


def check(order):
    line_two_before = 'context before the failing line'
    total = len(order)
    raise ValueError('bad <script>alert(1)</script> order & more')


check({'n': 1})
print('never printed')
'''

FILES = {
    'boom.py': BOOM,
    'ok.py': 'print("fine")\n',
    'static/a.txt': 'static text\n',
    # a SyntaxError on line 4: lines 2-3 are the context a reader needs
    'syntax.py': 'import time\ncontext_line_a = 1\ncontext_line_b = 2\nif True print(3)\nlast_line = 4\n',
    'late.py': '''\
        print('<p>started</p>', flush=True)
        import time; time.sleep(0.2)
        raise KeyError('late <err>')
        ''',
}

SECRET_HEADERS = {
    'Cookie': 'session=SECRETVALUE; theme=dark',
    'Authorization': 'Bearer AUTHSECRET',
    'Proxy-Authorization': 'Basic PROXYSECRET',
    'X-Evil': '<img src=x onerror=alert(1)>',
    'User-Agent': 'test-agent/1.0 "quoted"',
}


class TextAndTags(HTMLParser):
    """The visible text of a page, and the tags it really contains."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[str] = []
        self.chunks: List[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ('style', 'title'):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ('style', 'title'):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)

    @classmethod
    def of(cls, page: str) -> 'TextAndTags':
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        return ''.join(self.chunks)


def wait_for_log(server, pattern: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout

    while True:
        log = server.log()
        if re.search(pattern, log):
            return log
        if time.monotonic() > deadline:
            raise AssertionError('%r not in the log:\n%s' % (pattern, log))
        time.sleep(0.05)


# --- the debug page ------------------------------------------------------------

def test_debug_page_shows_exception_traceback_source_and_request(serve):
    server = serve(FILES, '--debug')
    # sent verbatim (an HTTP client would percent-encode the "<" and ">")
    response = raw_get(server.port, '/boom.py/extra/info?q=<1>&x=y',
                       headers=SECRET_HEADERS)

    assert response.status == 500
    assert response.header('content-type') == 'text/html; charset=utf-8'
    page = response.body.decode('utf-8')
    parsed = TextAndTags.of(page)
    text = parsed.text

    # the exception, as text: its markup is escaped, never a tag
    assert "ValueError: bad <script>alert(1)</script> order & more" in text
    assert 'bad &lt;script&gt;alert(1)&lt;/script&gt; order &amp; more' in page
    assert 'script' not in parsed.tags
    assert 'img' not in parsed.tags

    # the traceback: both frames, each with its file, line and function
    assert 'Traceback' in text
    root = str(server.root)
    assert re.search(re.escape(root + '/boom.py') + r', line 10, in\s*<module>', text)
    assert re.search(re.escape(root + '/boom.py') + r', line 7, in\s*check', text)
    # ...and the source around each failing line, not only the line itself
    assert "line_two_before = 'context before the failing line'" in text
    assert 'total = len(order)' in text
    assert "raise ValueError('bad <script>" in text
    assert "check({'n': 1})" in text
    assert "print('never printed')" in text   # a line after the failing one

    # the request: method, path with PATH_INFO, query
    assert 'GET /boom.py/extra/info?q=<1>&x=y' in text
    assert 'GET /boom.py/extra/info?q=&lt;1&gt;&amp;x=y' in page

    # headers, with credentials masked and everything else escaped
    assert 'test-agent/1.0 "quoted"' in text
    assert '<img src=x onerror=alert(1)>' in text
    for secret in ('SECRETVALUE', 'AUTHSECRET', 'PROXYSECRET'):
        assert secret not in page, secret
    assert 'masked' in text
    rows = re.findall(r'<tr><td>([^<]*)</td><td>([^<]*)</td></tr>', page)
    masked = {name for name, value in rows if 'masked' in value}
    assert {'cookie', 'authorization', 'proxy-authorization'} <= masked

    # credentials are not written to the log either
    log = wait_for_log(server, r'GET /boom\.py/extra/info\?q=<1>&x=y: script error')
    for secret in ('SECRETVALUE', 'AUTHSECRET', 'PROXYSECRET'):
        assert secret not in log, secret


def test_debug_page_for_an_exception_in_a_local_module(serve):
    server = serve({
        '_lib/__init__.py': '',
        '_lib/calc.py': 'def ratio(a, b):\n    before = "lib context"\n    return a / b\n',
        'use.py': 'from _lib import calc\n\nprint(calc.ratio(1, 0))\n',
    }, '--debug')
    response = server.get('/use.py')

    assert response.status_code == 500
    text = TextAndTags.of(response.text).text
    assert 'ZeroDivisionError: division by zero' in text
    assert str(server.root / '_lib' / 'calc.py') in text
    assert 'before = "lib context"' in text
    assert 'return a / b' in text
    assert 'print(calc.ratio(1, 0))' in text


def test_debug_page_for_a_syntax_error_shows_the_pages_source(serve):
    # A SyntaxError has no frame in the page: the reader needs the page's
    # lines around the error, not httpout's own compile() call.
    server = serve(FILES, '--debug')
    response = server.get('/syntax.py')

    assert response.status_code == 500
    text = TextAndTags.of(response.text).text
    assert 'SyntaxError' in text
    assert str(server.root / 'syntax.py') in text
    assert 'if True print(3)' in text
    assert 'context_line_b = 2' in text, (
        'the debug page of a SyntaxError does not show the lines around '
        'the error:\n' + text)


def test_debug_traceback_after_output_is_appended_escaped(serve):
    server = serve(FILES, '--debug')
    response = server.get('/late.py')

    assert response.status_code == 200  # the output had started
    page = response.text
    assert page.startswith('<p>started</p>')
    assert 'KeyError' in page
    assert "&#x27;late &lt;err&gt;&#x27;" in page
    assert '<err>' not in page


def test_without_debug_nothing_leaks(serve):
    server = serve(FILES)
    response = server.get('/boom.py/extra/info?q=zzz', headers=SECRET_HEADERS)

    assert response.status_code == 500
    page = response.text
    assert '500' in page
    for leak in ('ValueError', 'alert', 'order &', 'Traceback', 'boom',
                 'extra/info', 'zzz', 'line_two_before', 'check(', 'len(order)',
                 str(server.root), 'SECRETVALUE', 'AUTHSECRET', 'test-agent',
                 'onerror', 'GET '):
        assert leak not in page, leak

    # the syntax error page and the late error say nothing either
    syntax = server.get('/syntax.py')
    assert syntax.status_code == 500
    for leak in ('SyntaxError', 'syntax.py', 'context_line', 'print(3)'):
        assert leak not in syntax.text, leak

    late = server.get('/late.py')
    assert late.text == '<p>started</p>\n'

    # but the log has it all, with the request
    log = wait_for_log(server, r'KeyError')
    assert "ValueError: bad <script>alert(1)</script> order & more" in log
    assert 'GET /boom.py/extra/info?q=zzz: script error' in log


# --- the log -------------------------------------------------------------------

COMBINED = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(?P<request>(?P<method>[A-Z]+) (?P<target>\S+) HTTP/1\.[01])" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referer>(?:[^"\\]|\\.)*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)"$', re.M)


def test_startup_log_names_version_root_address_workers_threads_url(serve):
    server = serve(FILES, '--worker-num', '2', '--thread-pool-size', '3')
    log = wait_for_log(server, r'serving')
    first = [line for line in log.splitlines() if 'serving' in line][0]

    assert first == ('httpout %s serving %s at http://127.0.0.1:%d/ '
                     '(2 workers, 3 threads; press Ctrl+C to stop)') % (
        httpout.__version__, server.root, server.port)
    assert server.get('/ok.py').text == 'fine\n'


def test_startup_log_with_defaults(serve):
    server = serve(FILES)
    log = wait_for_log(server, r'serving')

    assert re.search(r'^httpout \d+\.\d+\.\S* serving %s at %s/ \(1 worker, 16 threads; press Ctrl\+C to stop\)$'
                     % (re.escape(str(server.root)), re.escape(server.url)), log, re.M)


def test_access_log_line_per_request_in_combined_format(serve):
    server = serve(FILES)
    requests = [
        ('/ok.py?a=1', {'Referer': 'http://example.org/from', 'User-Agent': 'agent/1'}, 200),
        ('/static/a.txt', {}, 200),
        ('/missing.py', {}, 404),
        ('/.env', {}, 403),
        ('/boom.py', {'User-Agent': 'evil" agent\n'.strip()}, 500),
    ]

    for path, headers, status in requests:
        assert server.get(path, headers=headers).status_code == status

    head = server.client.head('/static/a.txt')
    assert head.status_code == 200
    post = server.post('/ok.py', content=b'x')
    assert post.status_code == 200

    deadline = time.monotonic() + 5
    while True:
        lines = COMBINED.findall(server.log())
        if len(lines) >= len(requests) + 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    entries = [m.groupdict() for m in COMBINED.finditer(server.log())]
    assert len(entries) == len(requests) + 2, server.log()

    got = [(e['method'], e['target'], int(e['status'])) for e in entries]
    assert got == [('GET', p, s) for p, _, s in requests] + [
        ('HEAD', '/static/a.txt', 200), ('POST', '/ok.py', 200)]

    assert all(e['addr'] == '127.0.0.1' for e in entries)
    first = entries[0]
    assert first['referer'] == 'http://example.org/from'
    assert first['agent'] == 'agent/1'
    assert first['size'] == str(len('fine\n'))
    assert entries[1]['size'] == str(len('static text\n'))
    assert entries[1]['referer'] == '-'
    assert entries[4]['agent'] == 'evil\\" agent'  # quotes escaped


def test_no_access_log_turns_it_off(serve):
    server = serve(FILES, '--no-access-log')

    for path in ('/ok.py', '/static/a.txt', '/missing.py', '/boom.py'):
        server.get(path)

    # the error is still logged, the requests are not
    log = wait_for_log(server, r'script error')
    time.sleep(0.3)
    log = server.log()
    assert 'serving' in log
    assert COMBINED.search(log) is None, log
    assert '"GET /ok.py HTTP/1.1"' not in log


def test_errors_are_logged_with_the_request_line(serve):
    server = serve(FILES)
    # one connection each: after late.py's failure the server closes its
    # connection, which a pooled client could otherwise try to reuse
    httpx.get(server.url + '/boom.py/x?token=abc', headers={'Cookie': 'session=SECRETVALUE'})
    httpx.get(server.url + '/late.py')
    httpx.post(server.url + '/syntax.py?p=1', content=b'data')

    log = wait_for_log(server, r'syntax\.py')
    log = wait_for_log(server, r'late <err>')
    # each error names the client and the request, then the traceback
    assert re.search(r'127\.0\.0\.1 GET /boom\.py/x\?token=abc: script error\n'
                     r'Traceback \(most recent call last\):\n(?:  .*\n)+'
                     r'ValueError: bad <script>', log), log
    assert re.search(r'127\.0\.0\.1 GET /late\.py\b.*\nTraceback(?:.*\n)+?KeyError', log), log
    assert re.search(r'127\.0\.0\.1 POST /syntax\.py\?p=1\b.*\n(?:.*\n)*?SyntaxError', log), log
    assert 'SECRETVALUE' not in log
