"""End-to-end tests in a real browser (issue 5, part 6): headless Chromium,
driven by Playwright for Python, against a real httpout serving a copy of
`example/` plus one slow streaming page.

- A streaming page shows its first line while the script is still running
  (the page load has not finished, the last line is not there yet).
- A form is filled in and submitted; the result page shows the fields.
- An upload (file input + submit) shows the file's size and SHA-256.
- The WebSocket echo page (example/ws.html + example/echo.py) echoes what
  is typed.
- The login example (example/login.py, members.py, logout.py): the session
  cookie as Chromium keeps it (HttpOnly, SameSite=Lax), the CSRF-protected
  note form, and logging out.

Chromium comes from Debian (`apt-get install -y chromium`, at
/usr/bin/chromium) and Playwright is only the Python package: its own browser
download is impossible here, so it is pointed at Debian's binary. If either
is missing the tests FAIL with a message saying what to install: CI
(.ci/run) installs both, and a browser test that silently skips proves
nothing. They are marked `system` and run by `pytest -m system`.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from e2e_util import start_server

pytestmark = pytest.mark.system

EXAMPLE = Path(__file__).resolve().parent.parent / 'example'
CHROMIUM = os.environ.get('HTTPOUT_CHROMIUM', '/usr/bin/chromium')
# flags that work on a machine with a closed network, as root, no GPU
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
]
SLEEP = 3.0  # seconds the streaming page sleeps between its two lines

STREAM_PAGE = '''\
import time

print('<!DOCTYPE html><title>Streaming</title>')
print('<p id="first">First line, before the sleep.</p>', flush=True)
time.sleep(%s)
print('<p id="last">Last line, after the sleep.</p>')
''' % SLEEP


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    """httpout over a copy of example/ with a slow streaming page added."""
    base = tmp_path_factory.mktemp('browser')
    shutil.copytree(EXAMPLE, base / 'www')
    server = start_server(base, {'stream_test.py': STREAM_PAGE})
    yield server
    server.stop()

    log = server.log_path.read_text(errors='replace')
    assert 'Traceback' not in log, log


@pytest.fixture(scope='module')
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail('Chromium not found at %s: the browser tests need it '
                    '(Debian: apt-get install -y chromium; CI installs it)'
                    % CHROMIUM, pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('Playwright for Python is not installed: pip install '
                    'playwright (the package only; "playwright install" is '
                    'not needed, Debian\'s Chromium is used)', pytrace=False)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_streaming_page_shows_first_line_before_script_ends(site, page):
    start = time.monotonic()
    # 'commit': return as soon as the response has started, not at 'load'
    page.goto(site.url + '/stream_test.py', wait_until='commit')

    page.locator('#first').wait_for(state='visible', timeout=SLEEP * 1000)
    first_seen = time.monotonic() - start
    # at this moment the script is still sleeping: the document is still
    # being received and the last line has not arrived
    ready_state = page.evaluate('document.readyState')
    last_count = page.locator('#last').count()

    page.locator('#last').wait_for(state='visible', timeout=(SLEEP + 5) * 1000)
    last_seen = time.monotonic() - start
    page.wait_for_load_state('load')

    print('\nstreaming page: first line visible after %.3f s, last line '
          'after %.3f s (script sleeps %.1f s between them); readyState '
          'when the first line showed: %r'
          % (first_seen, last_seen, SLEEP, ready_state))

    assert page.locator('#first').inner_text() == 'First line, before the sleep.'
    assert first_seen < 2.0, 'first line took %.2f s' % first_seen
    assert ready_state == 'loading'
    assert last_count == 0
    assert last_seen >= SLEEP - 0.2
    assert last_seen - first_seen >= SLEEP - 1.0


def test_example_hello_streams_in_the_browser(site, page):
    # example/hello.py: 'Hello...' at once, 'and' after 1 s, 'Bye!' after 3 s
    start = time.monotonic()
    page.goto(site.url + '/hello.py', wait_until='commit')
    pre = page.locator('pre')

    pre.get_by_text('Hello...').wait_for(timeout=3000)
    hello_seen = time.monotonic() - start
    text_then = pre.inner_text()

    page.wait_for_function(
        "document.querySelector('pre') && "
        "document.querySelector('pre').textContent.includes('Bye!')",
        timeout=8000)
    bye_seen = time.monotonic() - start
    print('\nexample/hello.py: "Hello..." after %.3f s, "Bye!" after %.3f s'
          % (hello_seen, bye_seen))

    assert hello_seen < 1.0
    assert 'Bye!' not in text_then
    assert bye_seen >= 2.8
    assert pre.inner_text().split() == ['Hello...', 'and', 'Bye!']


def test_form_submit_shows_the_fields(site, page):
    page.goto(site.url + '/form.py')
    assert page.title() == 'Form'

    page.fill('input[name=name]', 'Ann <b>&</b>')
    page.select_option('select[name=colour]', 'green')
    page.fill('textarea[name=comment]', 'two\nlines')

    with page.expect_navigation():
        page.click('button:has-text("Send")')

    items = page.locator('li').all_text_contents()
    # the textarea's line break is sent as CRLF; the HTML parser shows it as LF
    assert items == ['name: Ann <b>&</b>', 'colour: green', 'comment: two\nlines']
    # escaped by the page: the text above is text, not markup
    assert page.locator('li b').count() == 3
    assert page.url == site.url + '/form.py'


def test_upload_shows_size_and_checksum(site, page, tmp_path):
    data = os.urandom(300_000)
    upload = tmp_path / 'random.bin'
    upload.write_bytes(data)

    page.goto(site.url + '/upload.py')
    page.set_input_files('input[type=file]', str(upload))

    with page.expect_navigation():
        page.click('button:has-text("Upload")')

    cells = page.locator('table tr').nth(1).locator('td').all_inner_texts()
    assert cells == ['file', 'random.bin', str(len(data)),
                     hashlib.sha256(data).hexdigest()]


def test_websocket_echo_page(site, page):
    page.goto(site.url + '/ws.html')
    log = page.locator('#log')
    page.wait_for_function(
        "document.getElementById('log').textContent.includes('connected')")

    for message in ('hello httpout', 'second <message> & more'):
        page.fill('#message', message)
        page.click('button:has-text("Send")')
        page.wait_for_function(
            "text => document.getElementById('log').textContent"
            ".includes('< ' + text)", arg=message)

    lines = log.inner_text().splitlines()
    assert lines == ['connected',
                     '> hello httpout', '< hello httpout',
                     '> second <message> & more', '< second <message> & more']
    # the form's submit handler sent it over the socket: no navigation
    assert page.url == site.url + '/ws.html'


def test_example_login_members_and_logout(site, page):
    """example/login.py, members.py and logout.py in a real browser: the
    redirect to the login form, the session cookie as the browser stores it
    (HttpOnly: the page's own JavaScript cannot read it), a note posted
    with the CSRF token, and the log out."""
    page.goto(site.url + '/members.py')
    assert page.url == site.url + '/login.py'
    page.fill('input[name=name]', 'ann')
    page.fill('input[name=password]', 'demo')
    with page.expect_navigation():
        page.click('button:has-text("Log in")')
    assert page.url == site.url + '/members.py'
    assert page.locator('h1').inner_text() == 'Welcome, ann'

    cookie, = [c for c in page.context.cookies() if c['name'] == 'HTTPOUTSESSID']
    assert cookie['httpOnly'] and cookie['sameSite'] == 'Lax'
    assert not cookie['secure'] and cookie['path'] == '/' and cookie['expires'] == -1
    assert 'HTTPOUTSESSID' not in page.evaluate('document.cookie')

    page.fill('input[name=note]', 'typed in the browser')
    with page.expect_navigation():
        page.click('button:has-text("Add")')
    assert page.locator('li').all_inner_texts() == ['typed in the browser']

    with page.expect_navigation():
        page.click('button:has-text("Log out")')
    assert page.url == site.url + '/login.py'
    # the session is gone; the login form has started a new one
    assert [c['value'] for c in page.context.cookies()
            if c['name'] == 'HTTPOUTSESSID'] != [cookie['value']]
    page.goto(site.url + '/members.py')
    assert page.url == site.url + '/login.py'
