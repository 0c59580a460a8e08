"""Sessions: `from httpout import session`, PHP's `$_SESSION` made safe.

Rules owned here:
- Lazy: a page that never touches `session` costs no store call and sets
  no cookie. A new visitor's session that stays empty is neither stored nor
  given a cookie either.
- Ids: 256 bits from `secrets`, as 43 URL-safe characters, taken from the
  cookie only. A cookie value that is not exactly such an id (malformed,
  oversized, non-ASCII) is no session. Strict mode: an id the store does
  not know, or whose session has expired, is never adopted: the visitor
  gets a new id.
- The cookie: `Path=/; HttpOnly; SameSite=Lax`, and `Secure` when the
  request came over HTTPS (`REQUEST_SCHEME`, which believes
  X-Forwarded-Proto from a --trusted-proxy only). It lasts as long as the
  browser session. It is sent when the session gets its first value, when
  its id is regenerated, and (expired) when it is destroyed.
- Headers: the first use of the session, `regenerate()`, `destroy()` and a
  new session's first value must come before output starts, because they
  may set the cookie; after it they raise `HeadersAlreadySent`.
- No lost updates: from its first use until the script ends (or calls
  `close()`), the session's id is locked in the store, and other requests
  of the session wait for it, at most --session-lock-timeout seconds (then
  `SessionLockTimeout`, a 503). The keeper thread renews the locks its
  worker holds every LOCK_TTL / 4; the lock of a worker that died expires
  after LOCK_TTL.
- Data: a dict with string keys and JSON values, checked as they are set,
  saved as JSON when the script ends (also when it raised), which refreshes
  the idle expiry (--session-lifetime).
- Store I/O never blocks the event loop: it runs on the script's thread
  (which also saves the session as the script ends, when no coroutine of
  it is left), or on the worker's session threads (`Sessions.executor`) for
  the end of a request whose coroutines ran on, and for middleware
  (`async with sessions.open(...)`). Store work asked for on the loop (by
  a coroutine of the page, or inside `sessions.open()`) waits for the end
  of the request or block; first use from a coroutine raises, as it would
  have to wait for the store.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import weakref
from collections.abc import MutableMapping
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Tuple

from tremolo.exceptions import ServiceUnavailable

from .requests import TrustedProxies, request_scheme
from .responses import HeadersAlreadySent
from .session_stores import Store

__all__ = ('Session', 'SessionLockTimeout', 'Sessions')

# A held lock expires this long after its last renewal.
LOCK_TTL = 20.0
# The pauses between two attempts to take a busy lock: doubling from the
# first to the longest. Waiters of the same worker are woken at once by a
# release; the pauses are for releases in other processes.
LOCK_PAUSES = (0.002, 0.05)
# Store calls of the ends of requests and of middleware, per worker.
SESSION_THREADS = 4
DEFAULT_COOKIE = 'HTTPOUTSESSID'
DEFAULT_LIFETIME = 1440  # seconds, PHP's session.gc_maxlifetime
DEFAULT_LOCK_TIMEOUT = 30.0

_ID = re.compile(r'[A-Za-z0-9_-]{43}')
_EXPIRED = 'Thu, 01 Jan 1970 00:00:00 GMT'
_IDLE, _OPEN, _CLOSED = 'idle', 'open', 'closed'

Lock = Tuple[str, str]  # (session id, owner token)


class SessionLockTimeout(ServiceUnavailable):
    """Another request held the session longer than --session-lock-timeout."""


def new_id() -> str:
    return secrets.token_urlsafe(32)


def short(sid: str) -> str:
    """A session id for the log: enough to tell sessions apart, too little
    to use one."""
    return sid[:6] + '...'


def lock_pauses(timeout: float) -> Iterator[float]:
    """0, then the pauses between attempts to take a lock, until `timeout`
    seconds from now have passed."""
    deadline = time.monotonic() + timeout
    pause = 0.0

    while True:
        yield pause
        left = deadline - time.monotonic()

        if left <= 0:
            return

        pause = min(max(pause * 2, LOCK_PAUSES[0]), LOCK_PAUSES[1], left)


def _check_json(key: Any, value: Any) -> None:
    if not isinstance(key, str):
        raise TypeError('session keys are strings (as in JSON), not %r' % (key,))
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError('session values must be JSON values (str, int, float, '
                        'bool, None, and lists and dicts of them): %s' % exc) from None


def _decode(text: str) -> Optional[Tuple[Dict[str, Any], Optional[str]]]:
    """(data, CSRF token) of a stored session; None if it is not ours."""
    try:
        stored = json.loads(text)
    except ValueError:
        return None

    if not isinstance(stored, dict) or not isinstance(stored.get('data'), dict):
        return None

    csrf = stored.get('csrf')
    return stored['data'], csrf if isinstance(csrf, str) else None


class Session(MutableMapping[str, Any]):
    """The current visitor's session: `from httpout import session`.

    A dict of JSON values (`session['user'] = 'ann'`), plus `id`,
    `regenerate()`, `destroy()`, `close()`, `csrf_token()` and
    `check_csrf()`. See docs/sessions.md."""

    def __init__(self, sessions: Sessions, request: Any, secure: bool,
                 append_header: Callable[[bytes, bytes], Any],
                 headers_sent: Callable[[], bool], on_loop: bool = False) -> None:
        self._sessions = sessions
        self._request = request  # tremolo's: its cookies
        self._secure = secure
        self._append_header = append_header
        self._headers_sent = headers_sent
        self._on_loop = on_loop  # opened by middleware: no blocking store calls
        self._state = _IDLE
        self._id = ''
        self._token: Optional[str] = None  # while the id is locked by us
        self._new = False  # the id was made in this request: nobody else knows it
        self._data: Dict[str, Any] = {}
        self._csrf: Optional[str] = None
        self._deferred: List[Tuple[Callable[..., Any], Tuple[Any, ...]]] = []

    # --- the mapping -----------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self._use()
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        _check_json(key, value)
        self._change()
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        self._use()

        if key not in self._data:
            raise KeyError(key)

        self._change()
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        self._use()
        return iter(list(self._data))

    def __len__(self) -> int:
        self._use()
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        self._use()
        return key in self._data

    def __repr__(self) -> str:
        if self._state is _IDLE:
            return '<Session (not used yet)>'

        return '<Session %s %s %r>' % (short(self._id), self._state, self._data)

    def clear(self) -> None:
        """Empty the session; it stays, with its id (unlike `destroy()`)."""
        self._use()

        if self._data:
            self._change()
            self._data.clear()

    # --- the rest of the API -----------------------------------------------------

    @property
    def id(self) -> str:
        """The session id (read-only). A new session's id is only kept if
        the session gets a value."""
        self._use()
        return self._id

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data; the old id is
        deleted. Call it on login: it defeats session fixation."""
        self._change()
        self._check_head('regenerated')  # whether or not a cookie is due

        if self._new:  # made by this request: it has never left the server
            return

        old_id, old_token = self._id, self._token
        self._id, self._token = new_id(), secrets.token_hex(16)
        self._set_cookie(self._id)
        self._store_work(self._move, old_id, old_token, self._id, self._token)

    def destroy(self) -> None:
        """Empty the session, delete it from the store and expire its
        cookie (logout). The session is closed then."""
        self._use()
        self._set_cookie('', expire=True)

        if self._token is not None:
            self._store_work(self._sessions.drop_session, self._id, self._token)

        self._data, self._csrf, self._token = {}, None, None
        self._state = _CLOSED

    def close(self) -> None:
        """Save the session now and let other requests of it go on (PHP's
        session_write_close()). It stays readable; changes raise."""
        if self._state is not _OPEN:
            return

        if self._on_loop or threading.get_ident() == self._sessions.loop_thread:
            self._state = _CLOSED  # saved at the end of the block or request
        else:
            self.end()

    def csrf_token(self) -> str:
        """This session's token for forms (check it with `check_csrf`)."""
        self._use()

        if self._csrf is None:
            self._change()
            self._csrf = secrets.token_urlsafe(32)

        return self._csrf

    def check_csrf(self, value: Any) -> bool:
        """Is `value` (from a form field) this session's CSRF token?
        Compared in constant time; anything but the token is False."""
        self._use()

        if self._csrf is None or not isinstance(value, str):
            return False

        return hmac.compare_digest(value.encode(), self._csrf.encode())

    # --- life cycle ----------------------------------------------------------------

    @property
    def held(self) -> bool:
        """Does the session still have store work to do: a lock to release,
        data to save, deferred work?"""
        return self._token is not None or bool(self._deferred)

    def held_lock(self) -> Optional[Lock]:
        token = self._token
        return None if token is None else (self._id, token)

    def _use(self) -> None:
        """Open the session on first use: lock and read it (blocking)."""
        if self._state is not _IDLE:
            return

        self._check_head('first used')

        if threading.get_ident() == self._sessions.loop_thread:
            raise RuntimeError(
                'the session is first used in a coroutine on the event loop, which '
                'would wait for the store there: use it in the script first, or in '
                'middleware through "async with sessions.open(request, response)"')

        sid = self._cookie_id()
        self._adopt(sid, self._sessions.lock(sid) if sid else None)

    async def open_async(self) -> None:
        """`_use()` for the event loop: the waits and store calls are
        awaited, the calls on the session threads."""
        if self._state is not _IDLE:
            return

        self._check_head('first used')
        sid = self._cookie_id()
        token = await self._sessions.lock_async(sid) if sid else None
        await self._sessions.call(self._adopt, sid, token)

    def _cookie_id(self) -> Optional[str]:
        # tremolo gives cookie names in lower case
        for value in self._request.cookies.get(self._sessions.cookie_name.lower(), ()):
            if _ID.fullmatch(value):
                return value

        return None

    def _adopt(self, sid: Optional[str], token: Optional[str]) -> None:
        """Take the stored session `sid`, locked with `token`; without one,
        or if the store does not know it, start a new session."""
        stored = None

        if sid is not None and token is not None:
            try:
                text = self._sessions.store.load(sid)
            except BaseException:
                self._sessions.unlock(sid, token)
                raise

            stored = None if text is None else _decode(text)

            if stored is None:  # strict mode: an unknown id is not adopted
                self._sessions.unlock(sid, token)

        if stored is None:
            self._id, self._new = new_id(), True
        else:
            self._id, self._token = sid or '', token
            self._data, self._csrf = stored
            self._sessions.hold(self)

        self._state = _OPEN

    def _change(self) -> None:
        """Before a change: a closed session refuses it; a new one gets its
        cookie and its lock now."""
        self._use()

        if self._state is _CLOSED:
            raise RuntimeError('the session is closed (by close() or destroy()): '
                               'changes would not be saved')

        if self._new and self._token is None:
            self._set_cookie(self._id)
            self._token = secrets.token_hex(16)
            self._sessions.hold(self)
            self._store_work(self._sessions.claim, self._id, self._token)

    def _check_head(self, what: str) -> None:
        if self._headers_sent():
            raise HeadersAlreadySent(
                'headers already sent: the session was %s after output had started; '
                'use it before the first output, as it may need to set its cookie'
                % what)

    def _set_cookie(self, value: str, expire: bool = False) -> None:
        self._check_head('changed' if value else 'destroyed')
        parts = ['%s=%s' % (self._sessions.cookie_name, value), 'Path=/']

        if expire:
            parts += ['Max-Age=0', 'Expires=' + _EXPIRED]

        if self._secure:
            parts.append('Secure')

        parts += ['HttpOnly', 'SameSite=Lax']
        self._append_header(b'Set-Cookie', '; '.join(parts).encode('latin-1'))

    def _store_work(self, func: Callable[..., Any], *args: Any) -> None:
        """Run store work now, or at the end if we are on the event loop."""
        if self._on_loop or threading.get_ident() == self._sessions.loop_thread:
            self._deferred.append((func, args))
        else:
            func(*args)

    def _move(self, old_id: str, old_token: Optional[str], sid: str, token: str) -> None:
        self._sessions.claim(sid, token)

        if old_token is not None:
            self._sessions.drop_session(old_id, old_token)

    def end(self) -> None:
        """Do the deferred store work, save and unlock (blocking; runs when
        the script ends, from `Sessions.end`). Afterwards the session is
        closed: still readable, no longer saved."""
        sessions = self._sessions
        work, self._deferred = self._deferred, []

        try:
            for func, args in work:
                func(*args)

            if self._token is not None:
                try:
                    text = json.dumps({'data': self._data, 'csrf': self._csrf})
                except (TypeError, ValueError):  # a value changed in place
                    sessions.unlock(self._id, self._token)
                    raise

                sessions.release(self._id, self._token, text)
        finally:
            self._token = None
            sessions.let_go(self)

            if self._state is _OPEN:
                self._state = _CLOSED


class Sessions:
    """The sessions of one worker process: the store, the settings, the
    session threads and the keeper of the locks.

    In `__globals__.py` middleware (`from httpout import sessions`),
    `async with sessions.open(request, response) as session:` gives the
    request's session, read and locked; it is saved and unlocked when the
    block ends."""

    def __init__(self, store: Store, *, loop: asyncio.AbstractEventLoop,
                 logger: logging.Logger, trusted_proxies: TrustedProxies,
                 cookie_name: str = DEFAULT_COOKIE,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.store = store
        self.loop = loop
        self.loop_thread = threading.get_ident()  # made on the loop's thread
        self.logger = logger
        self.trusted_proxies = trusted_proxies
        self.cookie_name = cookie_name
        self.lock_timeout = lock_timeout
        self.executor = concurrent.futures.ThreadPoolExecutor(
            SESSION_THREADS, thread_name_prefix='httpout-session')
        # by id(): a Session compares like a dict, so it cannot be hashed
        self._held: weakref.WeakValueDictionary[int, Session] = weakref.WeakValueDictionary()
        self._held_guard = threading.Lock()
        self._released = threading.Condition()  # wakes this worker's waiters
        self._stopping = threading.Event()
        self._keeper: Optional[threading.Thread] = None

    def session(self, request: Any, secure: bool,
                append_header: Callable[[bytes, bytes], Any],
                headers_sent: Callable[[], bool]) -> Session:
        """A script's session, not opened yet (that is its first use)."""
        return Session(self, request, secure, append_header, headers_sent)

    @contextlib.asynccontextmanager
    async def open(self, request: Any, response: Any) -> AsyncIterator[Session]:
        """For middleware: the session of tremolo's `request`, opened; its
        cookie goes on `response`. Saved and unlocked when the block ends."""
        secure = request_scheme(request, self.trusted_proxies) == 'https'
        session = Session(self, request, secure, response.append_header,
                          response.headers_sent, on_loop=True)
        await session.open_async()

        try:
            yield session
        finally:
            await self.end(session, raise_error=True)

    async def call(self, func: Callable[..., Any], *args: Any) -> Any:
        return await self.loop.run_in_executor(self.executor, func, *args)

    async def end(self, session: Session, raise_error: bool = False
                  ) -> Optional[BaseException]:
        """Save and unlock `session` if it needs it, on a session thread.
        Returns the error (or raises it, with `raise_error`)."""
        if not session.held:
            return None

        error = await self.call(self.end_now, session)

        if error is not None and raise_error:
            raise error

        return error

    def end_now(self, session: Session) -> Optional[BaseException]:
        """`end()` on this thread (blocking), for the script's own."""
        if session.held:
            try:
                session.end()
            except Exception as exc:
                return exc

        return None

    def end_later(self, session: Session) -> None:
        """`end()` without waiting, for a request that was cancelled."""
        if session.held:
            self.executor.submit(session.end).add_done_callback(self._log_failure)

    def _log_failure(self, future: concurrent.futures.Future) -> None:
        if future.exception() is not None:
            self.logger.error('session not saved: %s', future.exception())

    # --- locks -------------------------------------------------------------------

    def lock(self, sid: str) -> str:
        """Lock `sid`, waiting up to --session-lock-timeout; the owner token."""
        token = secrets.token_hex(16)

        for pause in lock_pauses(self.lock_timeout):
            with self._released:
                self._released.wait(pause)

            if self.store.try_lock(sid, token, LOCK_TTL):
                return token

        raise self._lock_timeout(sid)

    async def lock_async(self, sid: str) -> str:
        """`lock()` for the event loop: nothing blocks while it waits."""
        token = secrets.token_hex(16)

        for pause in lock_pauses(self.lock_timeout):
            await asyncio.sleep(pause)

            if await self.call(self.store.try_lock, sid, token, LOCK_TTL):
                return token

        raise self._lock_timeout(sid)

    def _lock_timeout(self, sid: str) -> SessionLockTimeout:
        return SessionLockTimeout(
            'session %s is still in use by another request after '
            '--session-lock-timeout %gs' % (short(sid), self.lock_timeout))

    def claim(self, sid: str, token: str) -> None:
        """Lock a brand-new id (nobody else can hold it)."""
        if not self.store.try_lock(sid, token, LOCK_TTL):
            raise RuntimeError('new session id %s is locked already' % short(sid))

    def unlock(self, sid: str, token: str) -> None:
        try:
            self.store.unlock(sid, token)
        finally:
            self._wake_waiters()

    def release(self, sid: str, token: str, data: str) -> None:
        try:
            if not self.store.release(sid, token, data):
                self.logger.warning('session %s: its lock had expired and was taken '
                                    'by another request; this change is not saved',
                                    short(sid))
        finally:
            self._wake_waiters()

    def drop_session(self, sid: str, token: str) -> None:
        """Delete a stored session and its lock."""
        self.store.delete(sid)
        self.unlock(sid, token)

    def _wake_waiters(self) -> None:
        with self._released:
            self._released.notify_all()

    def hold(self, session: Session) -> None:
        """`session` holds a lock: renew it until `let_go()`."""
        with self._held_guard:
            self._held[id(session)] = session

            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, daemon=True,
                                                name='httpout-session-keeper')
                self._keeper.start()

    def let_go(self, session: Session) -> None:
        with self._held_guard:
            self._held.pop(id(session), None)

    def _keep(self) -> None:
        """The keeper thread: renew the held locks. A session that is never
        ended (its request was lost) drops out of the weak mapping when it is
        collected, and its lock expires."""
        while not self._stopping.wait(LOCK_TTL / 4):
            with self._held_guard:
                locks = [lock for lock in map(Session.held_lock, self._held.values()) if lock]

            try:
                self.store.renew(locks, LOCK_TTL)
            except ServiceUnavailable as exc:
                self.logger.warning('session locks not renewed: %s', exc)

    def shutdown(self) -> None:
        self._stopping.set()
        self.executor.shutdown(wait=True)
