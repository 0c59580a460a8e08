"""Sessions on the embedded SQLite store (issue 10; docs/sessions.md),
against real servers: the cookie, strict ids, hostile cookies, locking
(20 concurrent increments with one worker and with two), expiry, the API
(regenerate, clear, destroy, close, CSRF), the headers-already-sent rule,
middleware use, and a store that is down (503, then recovery).

The Redis store, nginx in front of two instances, and Redis going away
are in test_sessions_redis.py (they need Debian's redis-server and nginx).
"""
from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Dict, List, Optional

import httpx
import pytest

from conftest import Server
from e2e_util import RawResponse, raw_exchange, raw_get, start_server
from httpout import session_stores
from httpout.cli import usage

COOKIE = 'HTTPOUTSESSID'
ID = re.compile(r'[A-Za-z0-9_-]{43}')

PAGES = {
    'count.py': '''
        from httpout import session
        session['n'] = session.get('n', 0) + 1
        print(session['n'], end='')
        ''',
    'slow_count.py': '''
        import time
        from httpout import session
        n = session.get('n', 0)
        time.sleep(0.02)  # a lost update would show here
        session['n'] = n + 1
        print(session['n'], end='')
        ''',
    'slow_count_pid.py': '''
        import os
        import time
        from httpout import session
        n = session.get('n', 0)
        time.sleep(0.02)
        session['n'] = n + 1
        print(session['n'], os.getpid(), end='')
        ''',
    'read.py': '''
        from httpout import session
        print(session.get('n', 'none'), end='')
        ''',
    'plain.py': '''
        print('plain', end='')
        ''',
    'whoami.py': '''
        from httpout import session
        print(session.id, end='')
        ''',
    'login.py': '''
        from httpout import session
        old = session.id
        session['user'] = 'ann'
        session.regenerate()
        print(old, session.id, end='')
        ''',
    'logout.py': '''
        from httpout import session
        session.destroy()
        print(len(session), end='')
        ''',
    'clear.py': '''
        from httpout import session
        old = session.id
        session.clear()
        print(old == session.id, len(session), end='')
        ''',
    'api.py': '''
        import json
        from httpout import session
        session['a'] = {'b': [1, 2.5, None, True, 'x']}
        session.setdefault('visits', 0)
        session['visits'] += 1
        del session['a']
        session.update(z='last')
        print(json.dumps({'keys': sorted(session), 'len': len(session),
                          'in': 'z' in session, 'get': session.get('missing', 7),
                          'pop': session.pop('z')}), end='')
        ''',
    'bad_value.py': '''
        from httpout import session
        refusals = []
        for key, value in (('x', {1, 2}), (1, 'x'), ('y', object())):
            try:
                session[key] = value
            except TypeError as exc:
                refusals.append('refused: %s' % exc)
        print('; '.join(refusals), len(session), end='')
        ''',
    'csrf.py': '''
        from httpout import request, session
        if request.method == b'POST':
            form = wait(request.form())
            print('ok' if session.check_csrf(form.get('csrf', [''])[0]) else 'refused', end='')
        else:
            print(session.csrf_token(), end='')
        ''',
    'late.py': '''
        from httpout import session
        print('output first')
        session['n'] = 1
        ''',
    'late_regenerate.py': '''
        from httpout import session
        session['n'] = 1
        print('output first')
        session.regenerate()
        ''',
    'raises.py': '''
        from httpout import session
        session['n'] = session.get('n', 0) + 100
        raise ValueError('after the session was changed')
        ''',
    'close.py': '''
        import time
        from httpout import session
        session['closing'] = True
        session.close()
        print(session['closing'])
        try:
            session['more'] = 1
        except RuntimeError as exc:
            print('refused:', exc)
        time.sleep(1.5)
        ''',
    'hold.py': '''
        import time
        from httpout import session
        session['held'] = True
        time.sleep(1.5)
        ''',
    'coroutine.py': '''
        from httpout import session

        async def bump():
            session['n'] = session.get('n', 0) + 1  # opened by the script

        session.get('n')
        wait(bump())
        print(session['n'], end='')
        ''',
    'coroutine_first.py': '''
        from httpout import session

        async def first_use():
            return session.get('n')

        try:
            wait(first_use())
        except RuntimeError as exc:
            print(exc, end='')
        ''',
    'run_later.py': '''
        import asyncio
        from httpout import session

        async def later():
            await asyncio.sleep(0.2)
            session['late'] = 'saved'  # the session is saved after run() ends

        session['n'] = 1
        run(later())
        ''',
    'show.py': '''
        import json
        from httpout import session
        print(json.dumps(dict(session)), end='')
        ''',
    '__globals__.py': '''
        from httpout import app, sessions

        @app.on_request
        async def login_required(request, response, **server):
            if not request.path.startswith(b'/members/'):
                return None

            async with sessions.open(request, response) as session:
                user = session.get('user')
                session['member_visits'] = session.get('member_visits', 0) + 1

            if user is None:
                response.set_status(302, b'Found')
                response.set_header(b'Location', b'/login.py')
                return b''

        @app.on_request
        async def session_actions(request, response, **server):
            if request.path == b'/mw_regenerate':
                async with sessions.open(request, response) as session:
                    session.regenerate()
                    return session.id.encode()
            if request.path == b'/mw_destroy':
                async with sessions.open(request, response) as session:
                    session.destroy()
                return b'destroyed'
        ''',
    'members/index.py': '''
        from httpout import session
        print('welcome', session['user'], session['member_visits'], end='')
        ''',
}


def set_cookies(response: httpx.Response) -> List[str]:
    return response.headers.get_list('set-cookie')


def session_cookie(response: httpx.Response) -> Optional[str]:
    """The id the response sets, or None if it sets no session cookie."""
    for line in set_cookies(response):
        name, _, rest = line.partition('=')
        if name == COOKIE:
            return rest.split(';', 1)[0]
    return None


def rows(db: Path, table: str = 'sessions') -> Dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute('SELECT id, %s FROM %s' % (
            'data' if table == 'sessions' else 'token', table)))


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp('sessions')
    server = start_server(base, PAGES, '--session-store',
                          'sqlite://%s' % (base / 'sessions.db'))
    server.db = base / 'sessions.db'
    yield server
    server.stop()


def visitor(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def test_first_use_sets_a_strict_cookie(site):
    with visitor(site) as client:
        first = client.get('/count.py')
        assert first.status_code == 200 and first.text == '1'
        line, = [c for c in set_cookies(first) if c.startswith(COOKIE + '=')]
        sid = session_cookie(first)
        assert ID.fullmatch(sid), sid  # 256 bits from secrets, URL-safe
        attributes = [part.strip() for part in line.split(';')[1:]]
        assert sorted(attributes) == ['HttpOnly', 'Path=/', 'SameSite=Lax']

        second = client.get('/count.py')
        assert second.text == '2'
        assert session_cookie(second) is None  # the id is known: no new cookie
        assert '"n": 2' in rows(site.db)[sid]
        assert (site.db.stat().st_mode & 0o777) == 0o600  # the visitors' data


def test_page_that_never_touches_session_sets_nothing(site):
    with visitor(site) as client:
        response = client.get('/plain.py')
        assert response.text == 'plain' and set_cookies(response) == []


def test_new_session_that_stays_empty_is_neither_stored_nor_sent(site):
    before = rows(site.db)
    with visitor(site) as client:
        response = client.get('/read.py')
        assert response.text == 'none'
        assert session_cookie(response) is None
        assert session_cookie(client.get('/whoami.py')) is None
    assert rows(site.db).keys() == before.keys()


def test_secure_only_over_https_from_a_trusted_proxy(serve, tmp_path):
    server = serve(PAGES, '--trusted-proxy', '127.0.0.1',
                   '--session-store', 'sqlite://%s/s.db' % tmp_path)
    https = server.get('/count.py', headers={'X-Forwarded-Proto': 'https'})
    assert 'Secure' in [p.strip() for p in set_cookies(https)[0].split(';')]
    plain = server.get('/count.py')
    assert 'Secure' not in set_cookies(plain)[0]


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(site):
    response = httpx.get(site.url + '/count.py', headers={'X-Forwarded-Proto': 'https'})
    assert 'Secure' not in set_cookies(response)[0]


def test_cookie_name_option(serve, tmp_path):
    server = serve(PAGES, '--session-cookie', 'site_sid',
                   '--session-store', 'sqlite://%s/s.db' % tmp_path)
    first = server.get('/count.py')
    assert set_cookies(first)[0].startswith('site_sid=')
    sid = set_cookies(first)[0].split(';')[0].split('=')[1]
    again = httpx.get(server.url + '/count.py', cookies={'site_sid': sid})
    assert again.text == '2'
    # the default name means nothing to this server
    other = httpx.get(server.url + '/count.py', cookies={COOKIE: sid})
    assert other.text == '1'


def new_id_for(site: Server, cookie_header: str) -> str:
    """Send a raw Cookie header to count.py; the page must work as for a
    new visitor and set a fresh id."""
    response = raw_get(site.port, '/count.py', headers={'Cookie': cookie_header})
    assert response.status == 200, response.raw[:300]
    assert response.body == b'1', response.body
    new, = [v for v in response.headers_all('set-cookie') if v.startswith(COOKIE + '=')]
    sid = new.split(';')[0].split('=', 1)[1]
    assert ID.fullmatch(sid)
    return sid


HOSTILE = [
    ('unknown id of the right shape', 'A' * 43),
    ('one character short', 'B' * 42),
    ('one character long', 'C' * 44),
    ('oversized', 'D' * 4000),
    ('path characters', '../../../etc/passwd'),
    ('quotes', '"%s"' % ('E' * 43)),
    ('percent-encoded', '%41' * 43),
    ('empty', ''),
    ('JSON', '{"user":"admin"}'),
    ('SQL', "x' OR '1'='1"),
    ('space inside', 'F' * 20 + ' ' + 'F' * 22),
]


@pytest.mark.parametrize('label,value', HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_cookie_is_no_session(site, label, value):
    sid = new_id_for(site, '%s=%s' % (COOKIE, value))
    assert sid != value
    stored = rows(site.db)
    assert value not in stored  # never adopted
    if value:
        assert value not in ''.join(stored.values())


def test_non_ascii_cookie_bytes_are_no_session(site):
    # raw bytes, UTF-8 and invalid UTF-8, in the header itself
    for raw in (b'\xc3\xa9' * 22, b'\xff\xfe' * 30, 'Ă'.encode() + b'G' * 41):
        request = (b'GET /count.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
                   b'Cookie: ' + COOKIE.encode() + b'=' + raw + b'\r\n\r\n')
        response = RawResponse(raw_exchange(site.port, request))
        assert response.status == 200 and response.body == b'1'
        assert ID.fullmatch(response.header('set-cookie').split(';')[0].split('=')[1])


def test_several_session_cookies_and_garbage_around_them(site):
    with visitor(site) as client:
        client.get('/count.py')
        sid = client.cookies[COOKIE]
    response = raw_get(site.port, '/count.py', headers={
        'Cookie': '%s=junk; ;;=; a=b; %s=%s; c' % (COOKIE, COOKIE, sid)})
    assert response.status == 200 and response.body == b'2'  # the valid one counts


def test_expired_and_deleted_ids_are_not_adopted(serve, tmp_path):
    db = tmp_path / 's.db'
    server = serve(PAGES, '--session-lifetime', '1', '--session-store', 'sqlite://%s' % db)
    with httpx.Client(base_url=server.url) as client:
        client.get('/count.py')
        sid = client.cookies[COOKIE]
        for n in ('2', '3', '4'):  # each use refreshes the idle lifetime
            time.sleep(0.6)
            assert client.get('/count.py').text == n
        time.sleep(1.3)  # idle past --session-lifetime 1
        expired = client.get('/count.py')
        assert expired.text == '1'
        assert session_cookie(expired) not in (None, sid)


def test_ids_come_from_the_cookie_only(site):
    with visitor(site) as client:
        client.get('/count.py')
        sid = client.cookies[COOKIE]
    for path in ('/count.py?%s=%s' % (COOKIE, sid), '/count.py/%s' % sid):
        response = httpx.get(site.url + path)
        assert response.text == '1' and session_cookie(response) != sid
    form = httpx.post(site.url + '/count.py', data={COOKIE: sid})
    assert form.text == '1'


def test_regenerate_keeps_data_and_kills_the_old_id(site):
    with visitor(site) as client:
        client.get('/count.py')
        old = client.cookies[COOKIE]
        response = client.get('/login.py')
        before, after = response.text.split()
        assert before == old and after != old and ID.fullmatch(after)
        assert session_cookie(response) == after
        assert client.get('/count.py').text == '2'  # same data, new id
        assert old not in rows(site.db)
    # the old id, replayed by an attacker who knew it, is a new session
    replay = httpx.get(site.url + '/read.py', cookies={COOKIE: old})
    assert replay.text == 'none'


def test_regenerate_on_a_new_session_stores_it(site):
    with visitor(site) as client:
        response = client.get('/login.py')
        before, after = response.text.split()
        assert before == after == session_cookie(response)
        assert '"user": "ann"' in rows(site.db)[after]


def test_destroy_deletes_and_expires_the_cookie(site):
    with visitor(site) as client:
        client.get('/count.py')
        sid = client.cookies[COOKIE]
        response = client.get('/logout.py')
        assert response.text == '0'
        line, = set_cookies(response)
        assert line.startswith(COOKIE + '=;') and 'Max-Age=0' in line
        assert sid not in rows(site.db)
        assert sid not in rows(site.db, 'session_locks')
    assert httpx.get(site.url + '/read.py', cookies={COOKIE: sid}).text == 'none'


def test_clear_empties_but_keeps_the_id(site):
    with visitor(site) as client:
        client.get('/count.py')
        assert client.get('/clear.py').text == 'True 0'
        assert client.get('/read.py').text == 'none'


def test_mapping_api_and_json_values(site):
    with visitor(site) as client:
        response = client.get('/api.py')
        assert response.json() == {'keys': ['visits', 'z'], 'len': 2, 'in': True,
                                   'get': 7, 'pop': 'last'}
        assert client.get('/show.py').json() == {'visits': 1}


def test_values_must_be_json(site):
    text = httpx.get(site.url + '/bad_value.py').text
    assert text.count('refused:') == 3 and text.endswith(' 0')
    assert 'JSON values' in text and 'keys are strings' in text


def test_csrf_token(site):
    with visitor(site) as client:
        token = client.get('/csrf.py').text
        assert len(token) >= 43
        assert client.get('/csrf.py').text == token  # per session, stable
        assert client.post('/csrf.py', data={'csrf': token}).text == 'ok'
        for wrong in ('', token[:-1], token + 'x', 'é' * 43):
            assert client.post('/csrf.py', data={'csrf': wrong}).text == 'refused'
        assert client.post('/csrf.py').text == 'refused'
    # another visitor's token is worth nothing here
    with visitor(site) as other:
        other.get('/count.py')
        assert other.post('/csrf.py', data={'csrf': token}).text == 'refused'


def test_first_use_after_output_raises_headers_already_sent(site):
    response = httpx.get(site.url + '/late.py')
    assert response.text.startswith('output first')
    assert set_cookies(response) == []
    log = site.log()
    assert 'HeadersAlreadySent: headers already sent: the session was first used' in log


def test_regenerate_after_output_raises(site):
    response = httpx.get(site.url + '/late_regenerate.py')
    assert 'HeadersAlreadySent' in site.log().split('late_regenerate.py: script error')[1]
    assert response.text.startswith('output first')  # the output so far stands
    # the first value's cookie went out with the head; no second one
    assert len([c for c in set_cookies(response) if c.startswith(COOKIE + '=')]) == 1


def test_saved_when_the_script_raised(site):
    with visitor(site) as client:
        client.get('/count.py')
        failed = client.get('/raises.py')
        assert failed.status_code == 500
        assert set_cookies(failed) == []  # an error page carries no cookie
        assert client.get('/count.py').text == '102'


def beside(slow, request):
    """Call `request()` 0.4 s into `slow()`, both requests; returns the
    response of `request`, how long it took, and the response of `slow`."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow_response = pool.submit(slow)
        time.sleep(0.4)
        start = time.monotonic()
        response = request()
        return response, time.monotonic() - start, slow_response.result()


def test_close_saves_early_and_lets_other_requests_in(site):
    with visitor(site) as client:
        client.get('/count.py')
        count, took, closed = beside(lambda: client.get('/close.py'),
                                     lambda: client.get('/count.py'))
        assert count.text == '2' and took < 1.0  # not held up by close.py
        assert closed.text.startswith('True\nrefused: the session is closed')
        assert client.get('/show.py').json() == {'n': 2, 'closing': True}


def test_a_held_session_makes_its_other_requests_wait(site):
    with visitor(site) as client:
        client.get('/count.py')
        count, took, _ = beside(lambda: client.get('/hold.py'),
                                lambda: client.get('/count.py'))
        assert count.text == '2' and took > 0.8  # until hold.py ended
        # other visitors never wait for it
        other, took, _ = beside(lambda: client.get('/hold.py'),
                                lambda: httpx.get(site.url + '/count.py'))
        assert other.text == '1' and took < 0.9  # hold.py has 1.1 s to go


def test_lock_timeout_is_a_503(serve, tmp_path):
    server = serve(PAGES, '--session-lock-timeout', '0.3',
                   '--session-store', 'sqlite://%s/s.db' % tmp_path)
    with httpx.Client(base_url=server.url) as client:
        client.get('/count.py')
        refused, _, _ = beside(lambda: client.get('/hold.py'),
                               lambda: client.get('/count.py'))
        assert refused.status_code == 503
        assert set_cookies(refused) == []
        assert 'still in use by another request after --session-lock-timeout 0.3s' \
            in server.log()
        assert client.get('/count.py').text == '2'  # the refused one changed nothing


def increments(server: Server, sid: str, n: int = 20) -> List[List[str]]:
    def one(_):
        return httpx.get(server.url + '/slow_count_pid.py',
                         headers={'Cookie': '%s=%s' % (COOKIE, sid)}, timeout=60).text.split()

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize('workers', [1, 2])
def test_twenty_concurrent_increments_lose_nothing(serve, tmp_path, workers):
    db = tmp_path / 's.db'
    server = serve(PAGES, '--worker-num', str(workers), '--session-store', 'sqlite://%s' % db)
    sid = session_cookie(server.get('/count.py'))
    pids: set = set()
    for round_start in (2, 22, 42):  # until both workers have taken part
        results = increments(server, sid)
        assert sorted(int(n) for n, _ in results) == list(range(round_start, round_start + 20))
        pids |= {pid for _, pid in results}
        if len(pids) == workers:
            break
    assert len(pids) == workers  # with 2, the lock held across processes
    read = httpx.get(server.url + '/read.py', headers={'Cookie': '%s=%s' % (COOKIE, sid)})
    assert read.text == str(round_start + 19)


def test_coroutines_use_the_scripts_session(site):
    with visitor(site) as client:
        assert client.get('/coroutine.py').text == '1'
        assert client.get('/coroutine.py').text == '2'
        text = client.get('/coroutine_first.py').text
        assert 'first used in a coroutine on the event loop' in text


def test_saved_after_run_coroutines_end(site):
    with visitor(site) as client:
        client.get('/run_later.py')
        assert client.get('/show.py').json() == {'n': 1, 'late': 'saved'}


def test_middleware_login_check_redirects(site):
    with visitor(site) as client:
        refused = client.get('/members/')
        assert refused.status_code == 302 and refused.headers['location'] == '/login.py'
        client.get('/login.py')
        welcome = client.get('/members/')
        assert welcome.status_code == 200
        assert welcome.text == 'welcome ann 2'  # the middleware saved its change


def test_middleware_regenerate_and_destroy(site):
    with visitor(site) as client:
        client.get('/count.py')
        old = client.cookies[COOKIE]
        regenerated = client.get('/mw_regenerate')
        new = regenerated.text
        assert ID.fullmatch(new) and new != old and session_cookie(regenerated) == new
        assert old not in rows(site.db) and new in rows(site.db)
        assert client.get('/count.py').text == '2'
        destroyed = client.get('/mw_destroy')
        assert destroyed.text == 'destroyed' and 'Max-Age=0' in set_cookies(destroyed)[0]
        assert new not in rows(site.db) and new not in rows(site.db, 'session_locks')


def test_store_down_is_503_for_session_pages_only_and_recovers(serve, tmp_path):
    folder = tmp_path / 'not-yet'
    server = serve(PAGES, '--session-store', 'sqlite://%s/s.db' % folder)
    down = server.get('/count.py')
    assert down.status_code == 503 and set_cookies(down) == []
    assert 'Service Unavailable' in down.text
    cookie = {'Cookie': '%s=%s' % (COOKIE, 'P' * 43)}
    # a page that never touches the session never asks the store
    assert server.get('/plain.py', headers=cookie).text == 'plain'
    assert server.get('/read.py').text == 'none'  # a new visitor who only reads
    members = server.get('/members/', headers={'Cookie': '%s=%s' % (COOKIE, 'M' * 43)})
    assert members.status_code == 503 and set_cookies(members) == []
    log = server.log()
    assert re.search(r'ERROR: 127\.0\.0\.1 GET /count\.py: session store sqlite://\S+/'
                     r'not-yet/s\.db: unable to open database file', log), log
    assert 'Traceback' not in log

    folder.mkdir()  # the store is back: no restart needed
    with httpx.Client(base_url=server.url) as client:
        assert client.get('/count.py').text == '1'
        assert client.get('/count.py').text == '2'


def test_default_store_is_a_private_file_outside_the_root(serve, tmp_path):
    server = serve(PAGES)
    sid = session_cookie(server.get('/count.py'))
    db = Path(session_stores.default_url(os.path.realpath(server.root))[len('sqlite://'):])
    assert db.is_file() and sid in rows(db)
    assert not str(db).startswith(str(server.root))
    assert (db.parent.stat().st_mode & 0o777) == 0o700
    assert (db.stat().st_mode & 0o777) == 0o600
    assert (Path(str(db) + '-wal').stat().st_mode & 0o777) == 0o600
    # --help says where it is
    assert 'httpout-UID' in usage() and 'sessions-HASH.db' in usage()


def test_expired_rows_are_swept_in_small_batches(tmp_path):
    store = session_stores.SQLiteStore(str(tmp_path / 's.db'), lifetime=60)
    store.load('x' * 43)  # creates the file
    with sqlite3.connect(tmp_path / 's.db') as conn:
        conn.executemany('INSERT INTO sessions VALUES (?, ?, ?)',
                         [('old%d' % i, '{}', 1.0) for i in range(350)])
    assert store.load('old1') is None  # expired: unreadable at once

    def save_many(count):
        for i in range(count):
            sid = 'live%d' % i
            assert store.try_lock(sid, 't', 10)
            assert store.release(sid, 't', '{"data": {}}')

    save_many(session_stores.SWEEP_EVERY - 1)
    assert len(rows(tmp_path / 's.db')) == 350 + session_stores.SWEEP_EVERY - 1
    save_many(1)  # the SWEEP_EVERY-th save removes one batch, not all
    left = [sid for sid in rows(tmp_path / 's.db') if sid.startswith('old')]
    assert len(left) == 350 - session_stores.SWEEP_BATCH


def test_a_shared_folder_is_refused(tmp_path):
    folder = tmp_path / 'open'
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    store = session_stores.SQLiteStore(str(folder / 's.db'), 60, make_folder=True)
    with pytest.raises(session_stores.StoreUnavailable, match='mode 0700'):
        store.load('x' * 43)


def test_example_login_members_csrf_logout(tmp_path):
    root = tmp_path / 'www'
    shutil.copytree(Path(__file__).resolve().parent.parent / 'example', root,
                    ignore=shutil.ignore_patterns('__pycache__'))
    server = Server(root, ['--session-store', 'sqlite://%s/s.db' % tmp_path],
                           tmp_path / 'example.log')
    try:
        with httpx.Client(base_url=server.url) as client:
            assert 'login.py' in client.get('/').text
            away = client.get('/members.py')
            assert away.status_code == 303 and away.headers['location'] == 'login.py'
            assert COOKIE not in client.cookies  # a glance at a page keeps no session

            form = client.get('/login.py').text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            planted = client.cookies[COOKIE]
            # no token, then a wrong password: refused
            assert client.post('/login.py', data={'name': 'ann', 'password': 'demo'}
                               ).status_code == 403
            assert client.post('/login.py', data={'csrf': token, 'name': 'ann',
                                                  'password': 'nope'}).status_code == 401
            assert client.post('/login.py', data={'csrf': token, 'name': 'eve',
                                                  'password': 'demo'}).status_code == 401
            done = client.post('/login.py', data={'csrf': token, 'name': 'ann',
                                                  'password': 'demo'})
            assert done.status_code == 303 and done.headers['location'] == 'members.py'
            assert client.cookies[COOKIE] != planted  # regenerated on login

            page = client.get('/members.py').text
            assert 'Welcome, ann' in page
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            forged = client.post('/members.py', data={'note': 'forged'})
            assert forged.status_code == 403 and 'forged' not in forged.text
            added = client.post('/members.py', data={'csrf': token, 'note': '<b>hi</b>'})
            assert '<li>&lt;b&gt;hi&lt;/b&gt;</li>' in added.text

            # a logout without the token is ignored; with it, the session is gone
            client.post('/logout.py')
            assert 'Welcome, ann' in client.get('/members.py').text
            out = client.post('/logout.py', data={'csrf': token})
            assert out.status_code == 303
            assert client.get('/members.py').status_code == 303
        assert 'Traceback' not in server.log()
    finally:
        server.stop()


def test_store_lock_rules(tmp_path):
    """The lock rules of the SQLite store, as the Redis one has them too
    (test_sessions_redis.py): one owner at a time; a lock that is not
    renewed expires (its worker died) and can be taken over; renewal keeps
    it; a save by an owner who lost the lock is refused."""
    store = session_stores.SQLiteStore(str(tmp_path / 's.db'), lifetime=60)
    check_lock_rules(store)
    assert store.load('s' * 43) == '{"data": {"by": "b"}}'


def check_lock_rules(store) -> None:
    sid = 's' * 43
    assert store.try_lock(sid, 'a', 0.3)
    assert not store.try_lock(sid, 'b', 10)  # held
    store.renew([(sid, 'a')], 0.6)
    time.sleep(0.4)
    assert not store.try_lock(sid, 'b', 10)  # renewed past its first expiry
    time.sleep(0.4)
    assert store.try_lock(sid, 'b', 10)  # expired: taken over
    assert not store.release(sid, 'a', '{"data": {"by": "a"}}')  # a lost it
    store.renew([(sid, 'a')], 10)  # a's renewal does not touch b's lock
    assert not store.try_lock(sid, 'c', 10)
    assert store.release(sid, 'b', '{"data": {"by": "b"}}')
    assert store.try_lock(sid, 'c', 10)  # released
    store.unlock(sid, 'c')


def test_a_redis_password_stays_out_of_the_log():
    # nothing is connected before first use, so no server is needed here
    store = session_stores.RedisStore('redis://ann:hunter2@127.0.0.1:1/0', 60)
    assert store.url == 'redis://ann:***@127.0.0.1:1/0'
    with pytest.raises(session_stores.StoreUnavailable) as refused:
        store.load('s' * 43)
    assert 'hunter2' not in str(refused.value) and '***' in str(refused.value)
