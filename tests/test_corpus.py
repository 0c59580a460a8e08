"""A corpus of real-world pages, each with its expected body (issue 9, item 5).

`tests/corpus/` is a document root of its own: pages written the way people
write Python scripts and CGI programs (standard streams, pprint, csv, json,
Pillow, Jinja2 templates in a private `_templates/`, sqlite3, dataclasses,
pickle, pydantic, logging, threads, asyncio.run(), subprocess, file
downloads, Server-Sent Events),
pages named like standard-library modules (`json.py`, `email.py`,
`calendar.py`, `test.py`), and a `__globals__.py` with request and response
middleware. Each page's response is checked whole: status, content type,
the middleware's headers and the body (exact bytes, or decoded pixels for
images).

The corpus runs on three servers, one after the other (a module-scoped,
parametrized fixture): plain, `--debug`, and `--worker-num 2`. Pages that
do not need the request also run as `python3 page.py`, and must print
exactly what the browser gets.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple, Union

import httpx
import pytest
from PIL import Image

from conftest import Server
from e2e_util import wait_for

CORPUS = Path(__file__).parent / 'corpus'
HTML = 'text/html; charset=utf-8'
MODES = {
    'plain': (),
    'debug': ('--debug',),
    'workers': ('--worker-num', '2'),
}


@dataclass
class Page:
    """A request of a corpus page, and what must come back."""
    url: str
    # the exact body, or a function that checks it (the body, the mode)
    body: Union[bytes, Callable[[bytes, str], None]]
    status: int = 200
    content_type: str = HTML
    method: str = 'GET'
    content: bytes = b''
    request_headers: Dict[str, str] = field(default_factory=dict)
    headers: Dict[str, str] = field(default_factory=dict)  # response headers, exact

    @property
    def id(self) -> str:
        sent = [name for name in self.request_headers if name != 'Content-Type']
        if self.content:
            sent.append('%d bytes' % len(self.content))
        return ' '.join([self.method, self.url, *sent])


def lines_in_any_order(*lines: str, last: str) -> Callable[[bytes, str], None]:
    """Threads print in the order they finish: every line once, whole."""
    def check(body: bytes, mode: str) -> None:
        got = body.decode().split('\n')
        assert got[-1] == '' and got[-2] == last, body
        assert sorted(got[:-2]) == sorted(lines), body
    return check


def png(size: Tuple[int, int], mode: str, pixels: Dict[Tuple[int, int], object]
        ) -> Callable[[bytes, str], None]:
    def check(body: bytes, _: str) -> None:
        image = Image.open(io.BytesIO(body))
        assert image.format == 'PNG'
        assert (image.size, image.mode) == (size, mode)
        for xy, value in pixels.items():
            assert image.getpixel(xy) == value, xy
    return check


def error_after_output(printed: bytes, error: str) -> Callable[[bytes, str], None]:
    """The output printed before the error stands; --debug appends the
    traceback, and only --debug shows the error's text."""
    def check(body: bytes, mode: str) -> None:
        assert body.startswith(printed), body
        if mode == 'debug':
            assert b'httpout-error' in body[len(printed):] and error.encode() in body, body
        else:
            assert body == printed, body
    return check


def error_page(error: str) -> Callable[[bytes, str], None]:
    def check(body: bytes, mode: str) -> None:
        if mode == 'debug':
            assert error.encode() in body, body
        else:
            assert b'500 Internal Server Error' in body and b'server log' in body, body
            assert error.encode() not in body and b'Traceback' not in body, body
    return check


def unittest_report(body: bytes, _: str) -> None:
    text = body.decode()
    assert text.startswith('<pre>\ntest_arithmetic ('), text
    assert ') ... ok\ntest_json (' in text, text
    assert re.search(r'\nRan 2 tests in \d+\.\d+s\n\nOK\n</pre>\n<p>all good</p>\n$', text), text


def solid_png(size: Tuple[int, int]) -> bytes:
    """A test image: left half black, right half white."""
    image = Image.new('RGB', size, (0, 0, 0))
    image.paste((255, 255, 255), (size[0] // 2, 0, size[0], size[1]))
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
UPLOAD = bytes(range(256)) * 40

PAGES: List[Page] = [
    # --- CGI-style ports: sys.stdout, sys.stdin, parse_qs, headers ---------
    Page('/cgi_query.py?city=paris&days=2',
         b'<h1>Forecast for Paris</h1>\n<ul>\n<li>Day 1: sunny</li>\n'
         b'<li>Day 2: sunny</li>\n</ul>\n'),
    Page('/cgi_form.py',
         b'<form method="post">\n'
         b'<input name="name"> <input type="checkbox" name="topic" value="python">\n'
         b'<button>Send</button></form>\n'),
    Page('/cgi_form.py',
         b'<p>Thanks, Ann &amp; Bob.</p>\n<p>You like: python, tea</p>\n',
         method='POST', content=b'name=Ann+%26+Bob&topic=python&topic=tea',
         request_headers=FORM),
    Page('/cgi_headers.py', b'Status report\nAll systems go.\n',
         content_type='text/plain; charset=utf-8', headers={'cache-control': 'no-store'}),
    Page('/stdin_lines.py', b'4 lines, 6 words, 28 characters\n',
         content_type='text/plain; charset=utf-8', method='POST',
         content=b'one two\nthree\n\nfour five six'),
    Page('/stdin_lines.py', b'0 lines, 0 words, 0 characters\n',
         content_type='text/plain; charset=utf-8'),
    Page('/stdin_buffer.py',
         b'10240 bytes\nsha256 %s\nmore: b\'\'\n' % hashlib.sha256(UPLOAD).hexdigest().encode(),
         content_type='text/plain', method='POST', content=UPLOAD),
    Page('/input_page.py', b'3 numbers, average 5.83\n',
         content_type='text/plain; charset=utf-8', method='POST', content=b'3\n4.5\n\n10\n'),
    Page('/input_page.py', b'no numbers\n', content_type='text/plain; charset=utf-8'),
    Page('/csv_upload.py', b'food         19.75\ntravel       30.00\n',
         content_type='text/plain; charset=utf-8', method='POST',
         content=b'date,category,amount\n2024-03-01,food,12.50\n'
                 b'2024-03-02,travel,30\n2024-03-03,food,7.25\n'),
    Page('/json_api.py', b'{"customer": "ann", "total": 6.25}',
         content_type='application/json', method='POST',
         content=b'{"customer": "ann", "items": [{"price": 2.5, "qty": 2}, '
                 b'{"price": 1.25, "qty": 1}]}'),
    Page('/json_api.py', b'{"error": "invalid JSON: Expecting value"}', status=400,
         content_type='application/json', method='POST', content=b'nope'),
    Page('/signup.py',
         b'{"name":"Ann","age":34,"address":{"city":"Oslo","country":"NO"},'
         b'"referrals":[{"name":"Bob","age":7,"address":null,"referrals":[]}]}\n',
         content_type='application/json', method='POST',
         content=b'{"name": "Ann", "age": "34", "address": {"city": "Oslo"}, '
                 b'"referrals": [{"name": "Bob", "age": 7}]}'),
    Page('/signup.py', b'{"errors": 3}\n', status=422, content_type='application/json',
         method='POST', content=b'{"name": "Ann", "age": "old", "referrals": [{}]}'),

    # --- output: pprint, csv, json.dump, writelines, bytes -----------------
    Page('/pprint_page.py',
         b"<pre>\n"
         b"{'allowed_hosts': ('example.org', 'www.example.org'),\n"
         b" 'database': {'host': 'db.internal',\n"
         b"              'pool': {'max': 10, 'min': 2},\n"
         b"              'port': 5432},\n"
         b" 'debug': False,\n"
         b" 'features': ['search',\n"
         b"              'comments',\n"
         b"              'uploads',\n"
         b"              'newsletter',\n"
         b"              'dark-mode']}\n"
         b"</pre>\n"),
    Page('/csv_export.py',
         b'date,product,quantity,unit price\r\n2024-03-01,Widget,3,9.99\r\n'
         b'2024-03-02,"Gadget, large",1,24.5\r\n2024-03-04,"Widget ""Pro""",2,19.99\r\n',
         content_type='text/csv; charset=utf-8',
         headers={'content-disposition': 'attachment; filename="sales-2024-03.csv"'}),
    Page('/json_dump.py',
         b'{\n  "healthy": true,\n  "queues": {\n    "emails": 3,\n    "invoices": 0\n'
         b'  },\n  "service": "billing"\n}\n',
         content_type='application/json'),
    Page('/download.py',
         b'Minutes of the meeting\n1. Budget: approved\n2. Picnic: Saturday\n',
         content_type='text/plain; charset=utf-8',
         headers={'content-disposition': 'attachment; filename="minutes.txt"',
                  'content-length': '63'}),
    Page('/writelines.py', b'apples    12\npears      7\nplums     31\ntotal     50\n'),
    Page('/weather.py', 'Zürich: 12 °C\n東京: 18 °C\nReykjavík: -3 °C\n'.encode()),
    Page('/mixed_output.py',
         b'1 print\n2 sys.stdout.write\n3 sys.stdout.buffer.write\n4 print, flushed\n'
         b'5 bytes: caf\xc3\xa9\n6 text: caf\xc3\xa9\n7-print-with-sep\n'),
    Page('/badge.py', png((90, 20), 'RGB', {(10, 10): (85, 85, 85), (60, 10): (46, 160, 67)}),
         content_type='image/png', headers={'cache-control': 'max-age=60'}),
    Page('/badge.py?status=failing', png((90, 20), 'RGB', {(60, 10): (207, 34, 46)}),
         content_type='image/png'),
    Page('/thumbnail.py', png((32, 32), 'L', {(2, 16): 0, (29, 16): 255}),
         content_type='image/png', method='POST', content=solid_png((64, 48))),

    # --- templates ---------------------------------------------------------
    Page('/products.py?q=%3Cscript%3E',
         b'<!doctype html>\n<title>Products - Corpus</title>\n<main>\n\n'
         b'<p>Results for: &lt;script&gt;</p>\n<ul>\n'
         b'  <li>Tea &lt;green&gt;: 4.50</li>\n  <li>Coffee &amp; beans: 7.25</li>\n'
         b'</ul>\n\n</main>'),
    Page('/letter.py',
         b'Dear Ann,\n\nyour order #42 ships on Monday.\nCost: $9.50\nHi Bob, $missing\n'),
    Page('/motd.py',
         b'<pre>\n* The office is closed on Monday for\n  maintenance of the heating system.\n'
         b'  Please take your plants home; the\n  cleaners will not water them.\n'
         b'The office is closed on [...]\n</pre>\n'),
    Page('/search.py?q=%3Cscript%3Ealert(%22x%22)%3C/script%3E',
         b'<form><input name="q" value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;">'
         b'</form>\n<p>No results for <b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
         b'</b>.</p>\n'),

    # --- classes of pages and local modules --------------------------------
    Page('/inventory.py',
         b"<pre>\nItem(sku='A-1', name='Anchor', stock=0, tags=[])\n"
         b"Item(sku='B-2', name='Bolt', stock=120, tags=['metal'])\n"
         b"Item(sku='C-3', name='Clamp', stock=8, tags=[])\n"
         b'[{"sku": "A-1", "name": "Anchor", "stock": 0, "tags": []}, '
         b'{"sku": "B-2", "name": "Bolt", "stock": 120, "tags": ["metal"]}, '
         b'{"sku": "C-3", "name": "Clamp", "stock": 8, "tags": []}]\n'
         b'True 0\n</pre>\n'),
    Page('/orders.py',
         b"Order(number=7, lines=[Line(product='tea', qty=2), Line(product='cake', qty=1)],"
         b" note=None)\nquantity: 3\nfields: ['number', 'lines', 'note']\n"
         b"hints: {'number': \"<class 'int'>\", 'lines': 'list[__main__.Line]', "
         b"'note': 'typing.Optional[str]'}\nreturns: {'return': <class 'int'>}\n"),
    Page('/enums.py',
         b"Status.PUBLISHED draft\n[<Priority.LOW: 1>, <Priority.HIGH: 2>] True\n"
         b"True True\nTrue\n['DRAFT', 'PUBLISHED']\n"),
    Page('/cart.py',
         b"restored: Cart('ann', {'tea': 2, 'cake': 1}) True\n"
         b"original: Cart('ann', {'tea': 2, 'cake': 1})\n"
         b"what if: Cart('ann', {'tea': 12, 'cake': 1})\n"
         b"shallow copy shares lines: True\n"),
    Page('/users.py',
         b"True Hello, Ann! Role.CUSTOMER\nTrue\n_shop.models {'name': <class 'str'>, "
         b"'email': <class 'str'>, 'role': <enum 'Role'>}\n"
         b"    def greeting(self) -> str:\n        return f'Hello, {self.name}!'\n"),
    Page('/shapes.py',
         b"Circle(r=1): 3.142\nRect(w=2, h=3): 6.000\nunknown shape: 'square'\n"),
    Page('/source.py',
         b"<pre>\ndef shout(text):\n    return text.upper() + &#x27;!&#x27;\n"
         b"class Greeter:\n    &quot;&quot;&quot;Says hello.&quot;&quot;&quot;\n\n"
         b"    def hello(self, name):\n        return &#x27;Hello, &#x27; + name\n"
         b"Says hello.\n(self, name)\n</pre>\n"),
    Page('/typed.py',
         b"point at 3,0 ('x', 'y')\n{'point': <class '__main__.Point'>, "
         b"'label': typing.Optional[str], 'return': <class 'str'>}\n"
         b"{'title': <class 'str'>, 'year': <class 'int'>} False\nTrue False\n"),

    # --- stderr, logging, tracebacks (their log lines: test_log_lines) -----
    Page('/debug_prints.py', b'<p>3 items</p>\n'),
    Page('/legacy_api.py', b'<p>1 USD = 0.92 EUR</p>\n'),
    Page('/stock.py', b'<p>tea: 12</p>\n<p>cake: 1</p>\n<p>jam: 0</p>\n'),
    Page('/import_report.py',
         b'<p>Row 3 skipped: ValueError: invalid literal for int() with base 10: '
         b'&#x27;thirty&#x27;</p>\n<p>Total: 70</p>\n'),

    # --- threads, executors, asyncio.run(), subprocess ----------------------
    Page('/workers.py', lines_in_any_order(
        'job 1: 499500', 'job 2: 1999000', 'job 3: 4498500', 'job 4: 7998000',
        'job 5: 12497500', last='all jobs done')),
    Page('/fetch_all.py', lines_in_any_order(
        *('checked https://example.org/%d' % n for n in range(8)), last='total length 168')),
    Page('/async_main.py', b'a after 0.02s\nb after 0.01s\nc after 0s\n'),
    Page('/uptime.py', b'<pre>child says hi\nFROM THE PAGE\n</pre>\n<p>exit status 3</p>\n'),

    # --- pages named like standard-library modules, and their neighbours ---
    Page('/json.py', b'{"page": "json.py", "module": "json", "stdlib": true}',
         content_type='application/json'),
    Page('/email.py?to=bob@example.org',
         b'<pre>From: Shop &lt;shop@example.org&gt;\nTo: bob@example.org\n'
         b'Subject: Your order\nContent-Type: text/plain; charset=&quot;utf-8&quot;\n'
         b'Content-Transfer-Encoding: 7bit\nMIME-Version: 1.0\n\n'
         b'Thank you for your order.\n</pre>\n'),
    Page('/calendar.py?year=2023&month=2',
         b'<pre>\n   February 2023\nMo Tu We Th Fr Sa Su\n       1  2  3  4  5\n'
         b' 6  7  8  9 10 11 12\n13 14 15 16 17 18 19\n20 21 22 23 24 25 26\n27 28\n'
         b'</pre>\n<p>2023 is not a leap year</p>\n'),
    Page('/test.py', unittest_report),
    Page('/about.py',
         b'{"leap": true, "date": "Fri, 01 Mar 2024 12:00:00 +0000", '
         b'"modules": ["json", "email", "calendar"]}\n'),

    # --- the request, the environment, the shape of a program --------------
    Page('/preferences.py', b'<p>Theme: dark</p>\n<p>Visit number 5</p>\n',
         request_headers={'Cookie': 'theme=dark; visits=4'},
         headers={'set-cookie': 'visits=5; HttpOnly; Path=/'}),
    Page('/preferences.py', b'<p>Theme: light</p>\n<p>Visit number 1</p>\n',
         headers={'set-cookie': 'visits=1; HttpOnly; Path=/'}),
    Page('/site_name.py', b'<title>Corpus Site</title>\n<p>Running in production mode.</p>\n'),
    Page('/report.py',
         b'<pre>\nnorth    120\nsouth     80\neast      95\ntotal    295\n</pre>\n'),
    Page('/greet_cli.py?name=Ann&name=Bob', b'Hello, Ann!\nHello, Bob!\n'),
    Page('/greet_cli.py', b'usage: greet_cli.py NAME...\n'),
    Page('/multiplication.py',
         b'<table>\n' + b''.join(
             b'<tr>%s</tr>\n' % b''.join(b'<td>%d</td>' % (r * c) for c in range(1, 6))
             for r in range(1, 6)) + b'</table>\n'),

    # --- errors -------------------------------------------------------------
    Page('/half_report.py',
         error_after_output(b'<h1>Ratios</h1>\n<p>north: 25</p>\n', 'ZeroDivisionError'),
         headers={'connection': 'close'}),
    Page('/broken_config.py', error_page('JSONDecodeError'), status=500),
]

# Pages that print what the browser gets when run as `python3 page.py`, and
# the arguments (the web's query string is the command line's argv).
PROGRAMS = {
    'report.py': [], 'multiplication.py': [], 'pprint_page.py': [], 'motd.py': [],
    'letter.py': [], 'writelines.py': [], 'async_main.py': [], 'inventory.py': [],
    'enums.py': [], 'cart.py': [], 'shapes.py': [], 'typed.py': [], 'orders.py': [],
    'weather.py': [],
    'greet_cli.py': ['Ann', 'Bob'],
}


@pytest.fixture(scope='module', params=list(MODES))
def site(request, tmp_path_factory) -> Iterator[Server]:
    """A server over a copy of the corpus, with its guestbook database
    outside the document root."""
    base = tmp_path_factory.mktemp(request.param)
    root = base / 'www'
    shutil.copytree(CORPUS, root, ignore=shutil.ignore_patterns('__pycache__'))

    with pytest.MonkeyPatch.context() as env:
        env.setenv('GUESTBOOK_DB', str(base / 'guestbook.sqlite3'))
        env.setenv('CORPUS_SITE_NAME', 'Corpus Site')
        server = Server(root, list(MODES[request.param]), base / 'server.log')

    server.mode = request.param  # type: ignore[attr-defined]
    yield server
    server.stop()


def fetch(site: Server, page: Page) -> httpx.Response:
    # not site.client: its cookie jar would send the cookies pages set
    return httpx.request(page.method, site.url + page.url, content=page.content or None,
                         headers=page.request_headers, timeout=30)


def test_corpus_has_forty_pages():
    pages = {page.url.split('?')[0] for page in PAGES}
    on_disk = {'/' + p.name for p in CORPUS.glob('*.py') if not p.name.startswith('_')}
    # every page on disk is in the table, or has a test of its own below
    assert on_disk - pages == {'/guestbook.py', '/events.py', '/stream_id.py'}
    assert len(on_disk) >= 40


@pytest.mark.parametrize('page', PAGES, ids=lambda page: page.id)
def test_page(site, page):
    response = fetch(site, page)
    assert response.status_code == page.status, response.text[:2000]
    assert response.headers['content-type'] == page.content_type
    for name, value in page.headers.items():
        assert response.headers.get(name) == value, name
    # __globals__.py's middleware ran for the response, error pages included
    assert re.fullmatch(r'\d+-\d+', response.headers.get('x-request-id', '')), response.headers
    assert response.headers.get('x-content-type-options') == 'nosniff'

    if callable(page.body):
        page.body(response.content, site.mode)
    else:
        assert response.content == page.body


def test_guestbook_post_redirect_get(site):
    entry = 'Hi from %s <3' % site.mode
    posted = site.post('/guestbook.py', data={'name': 'Ann', 'message': entry},
                       follow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers['location'] == 'guestbook.py'
    assert posted.content == b''

    shown = site.get('/' + posted.headers['location'])
    assert shown.status_code == 200
    assert ('<p><b>Ann</b>: Hi from %s &lt;3</p>\n<p>1 entries</p>\n' % site.mode) in shown.text
    # the database is outside the document root: nothing of it is served
    assert (site.root.parent / 'guestbook.sqlite3').is_file()
    assert not list(site.root.glob('*.sqlite3'))


def test_private_folders_are_not_served(site):
    for path in ('/_templates/base.html', '/_templates/products.html',
                 '/_shop/models.py', '/_files/minutes.txt', '/__globals__.py'):
        assert site.get(path).status_code == 404, path


def test_server_sent_events_arrive_as_flushed(site):
    """Each event is on the wire when the script flushes it, long before the
    script ends: the first one arrives about 0.9 s before the last (a
    margin for a loaded machine: held back to the end, they would arrive
    together)."""
    arrivals = []
    received = b''
    start = time.monotonic()
    with site.client.stream('GET', '/events.py') as response:
        assert response.headers['content-type'] == 'text/event-stream'
        assert response.headers['cache-control'] == 'no-cache'
        for chunk in response.iter_raw():
            received += chunk
            while received.count(b'\n\n') > len(arrivals):
                arrivals.append(time.monotonic() - start)
    assert received == (b'id: 0\ndata: tick 0\n\nid: 1\ndata: tick 1\n\n'
                        b'id: 2\ndata: tick 2\n\nevent: done\ndata: bye\n\n')
    assert len(arrivals) == 4
    assert arrivals[3] - arrivals[0] > 0.45, arrivals


def test_concurrent_pages_never_mix_output(site):
    def body(tag: int) -> Tuple[int, bytes]:
        response = httpx.get(site.url + '/stream_id.py?id=%d' % tag, timeout=30)
        return response.status_code, response.content

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(body, range(16)))
    for tag, (status, content) in enumerate(results):
        assert status == 200
        assert content == b''.join(b'%d:%03d\n' % (tag, n) for n in range(300)), tag


def log_line_with(site: Server, text: str) -> str:
    """The server's log line that holds `text` (waited for: the log is
    written by the worker process)."""
    found = wait_for(lambda: [line for line in site.log().splitlines() if text in line], 5)
    assert found, '%r not in the log:\n%s' % (text, site.log())
    return found[0]


def test_log_lines(site):
    """What scripts write to standard error, log with `logging`, and print
    with traceback.print_exc(), and their errors, go to the server log,
    each line with its request line."""
    for path in ('/debug_prints.py', '/stock.py', '/import_report.py', '/half_report.py',
                 '/legacy_api.py'):
        site.get(path)

    for text in ('debug_prints: got 3 items', 'debug_prints: written with sys.stderr.write'):
        assert 'GET /debug_prints.py' in log_line_with(site, text)
    for text in ('stock: jam is sold out', 'stock: cake is running low (1 left)'):
        assert 'GET /stock.py' in log_line_with(site, text)
    # (the lines of this traceback that no other traceback in the log has)
    for text in ('total += int(row)', "ValueError: invalid literal for int() with base 10: 'thirty'"):
        assert 'GET /import_report.py' in log_line_with(site, text)
    assert 'GET /legacy_api.py' in log_line_with(
        site, 'DeprecationWarning: fetch_rates() is deprecated, use rates()')
    log_line_with(site, 'GET /half_report.py: script error')
    log_line_with(site, 'ZeroDivisionError: division by zero')
    # none of it reached the pages (test_page checks their whole bodies)


def test_shadowing_pages_listed_at_start(site):
    """json.py, email.py, calendar.py and test.py cannot be imported as local
    modules (the standard library wins): the start-up warning says so."""
    line = log_line_with(site, 'json.py')
    assert 'WARNING' in line.upper(), line
    for name in ('calendar.py', 'email.py', 'json.py', 'test.py'):
        assert name in line, line
    for name in ('about.py', 'report.py', 'cart.py'):
        assert name not in line, line


@pytest.mark.parametrize('name', sorted(PROGRAMS))
def test_page_runs_as_a_program(site, name, tmp_path):
    """`python3 page.py` prints what the browser gets. It runs from a folder
    of its own: plain Python puts the script's folder first on sys.path, so
    beside json.py and email.py the standard library would be shadowed."""
    shutil.copy(CORPUS / name, tmp_path / name)
    done = subprocess.run([sys.executable, name, *PROGRAMS[name]], cwd=tmp_path,
                          capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONPATH=''))
    assert done.returncode == 0, done.stderr
    query = '&'.join('name=' + arg for arg in PROGRAMS[name])
    web = site.get('/' + name + ('?' + query if query else ''))
    assert web.status_code == 200
    assert done.stdout == web.content


def test_cgi_script_runs_as_a_cgi_program(site, tmp_path):
    """cgi_headers.py prints CGI headers when it is not under httpout, and
    sets them on the response when it is."""
    shutil.copy(CORPUS / 'cgi_headers.py', tmp_path)
    done = subprocess.run([sys.executable, 'cgi_headers.py'], cwd=tmp_path,
                          capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    web = site.get('/cgi_headers.py')
    head, _, body = done.stdout.partition(b'\n\n')
    assert head == b'Content-Type: text/plain; charset=utf-8\nCache-Control: no-store'
    assert body == web.content == b'Status report\nAll systems go.\n'
    assert web.headers['content-type'] == 'text/plain; charset=utf-8'
    assert web.headers['cache-control'] == 'no-store'

