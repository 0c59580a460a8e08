"""Where sessions are kept: an SQLite file (the default) or a Redis server.

Rules owned here:
- A store keeps, per session id, a JSON text and an idle expiry
  (`lifetime` seconds after its last save), and a lock per session id with
  an owner token and an expiry of its own. Nothing read back is ever
  executed: the data is JSON text, decoded by the caller.
- The lock is taken with one non-blocking attempt (`try_lock`); waiting is
  the caller's business (`httpout.sessions`), so that a waiter holds no
  connection, thread or transaction while it waits. A lock whose owner died
  expires after its `ttl`; a living owner renews it (`renew`).
- `release` saves and unlocks in one atomic step, and only while the
  caller still owns the lock: a lock that was lost (it expired) saves
  nothing, and says so by returning False.
- The SQLite file is created readable by httpout's user only (0600).
- Every failure to reach the store is `StoreUnavailable`, an HTTP 503 with
  a one-line message naming the store. The next call tries again, so a
  store that comes back is used again without a restart.
- Expired sessions are unreadable at once. SQLite removes them in small
  bounded batches, one every SWEEP_EVERY saves of a process, so no single
  request pays for a full sweep; Redis expires keys itself (TTL).

SQLite: one connection per thread, WAL mode (readers never wait for the
writer), `busy_timeout` for the short write transactions, which never
span a script: a lock is a row, not a held transaction, so sessions of
different visitors never wait for one another. All workers of a machine
share the file.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import sqlite3
import stat
import tempfile
import threading
import time
from typing import Any, Iterable, Iterator, Optional, Protocol, Tuple
from urllib.parse import urlsplit

from tremolo.exceptions import ServiceUnavailable

__all__ = ('Store', 'StoreUnavailable', 'check_url', 'default_url', 'open_store')

# Expired rows removed per sweep, and how many saves of a process apart.
SWEEP_BATCH = 100
SWEEP_EVERY = 50
# How long an SQLite write waits for another process's write transaction.
BUSY_TIMEOUT = 5.0
# Redis: connecting to a server that is down fails at once (refused);
# one that does not answer is given up after these.
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_TIMEOUT = 5.0
REDIS_PREFIX = 'httpout:'


class StoreUnavailable(ServiceUnavailable):
    """The session store cannot be reached: the page gets a 503."""


class Store(Protocol):
    url: str

    def try_lock(self, sid: str, token: str, ttl: float) -> bool: ...
    def renew(self, locks: Iterable[Tuple[str, str]], ttl: float) -> None: ...
    def unlock(self, sid: str, token: str) -> None: ...
    def load(self, sid: str) -> Optional[str]: ...
    def release(self, sid: str, token: str, data: str) -> bool: ...
    def delete(self, sid: str) -> None: ...


def default_url(document_root: str) -> str:
    """The SQLite file of a document root: outside it, in a folder of the
    user's own under the temporary directory (writable in a container,
    whose /tmp is the one writable place), one file per document root."""
    name = hashlib.sha256(document_root.encode()).hexdigest()[:12]
    folder = os.path.join(tempfile.gettempdir(), 'httpout-%d' % os.getuid())
    return 'sqlite://' + os.path.join(folder, 'sessions-%s.db' % name)


def check_url(url: str) -> str:
    """`url` if it names a store httpout can use, else ValueError saying why."""
    parts = urlsplit(url)

    if parts.scheme == 'sqlite':
        if parts.netloc or not os.path.isabs(parts.path) or parts.path.endswith('/'):
            raise ValueError('expected sqlite:///ABSOLUTE/PATH.db')
        return url

    if parts.scheme in ('redis', 'rediss', 'unix'):
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ValueError('the Redis store needs the redis package: '
                             'pip install "httpout[redis]"') from None
        return url

    raise ValueError('expected sqlite:///PATH.db or redis://HOST:PORT/DB')


def open_store(url: str, lifetime: int, default: bool = False) -> Store:
    """The store for `url` (checked by `check_url`). Nothing is connected
    yet: that happens on first use. `default` is the file of `default_url`,
    whose folder is created if needed."""
    if url.startswith('sqlite:'):
        return SQLiteStore(urlsplit(url).path, lifetime, make_folder=default)

    return RedisStore(url, lifetime)


# --- SQLite ------------------------------------------------------------------

SCHEMA = '''
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, data TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires);
CREATE TABLE IF NOT EXISTS session_locks (
    id TEXT PRIMARY KEY, token TEXT NOT NULL, expires REAL NOT NULL);
'''


class SQLiteStore:
    def __init__(self, path: str, lifetime: int, make_folder: bool = False) -> None:
        self.url = 'sqlite://' + path
        self.path = path
        self.lifetime = lifetime
        self.make_folder = make_folder
        self._local = threading.local()  # a connection per thread
        self._writing = threading.Lock()
        self._saves = itertools.count(1)

    def _connect(self) -> sqlite3.Connection:
        if self.make_folder:
            _private_folder(os.path.dirname(self.path))

        # autocommit: each statement is its own short transaction unless
        # BEGIN says otherwise
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)

        try:
            _owner_only(self.path)
            db.execute('PRAGMA journal_mode=WAL')
            db.execute('PRAGMA synchronous=NORMAL')  # durable enough with WAL
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise

        return db

    def _run(self, work: Any, write: bool = True) -> Any:
        """`work(db)` on this thread's connection; any SQLite failure is
        StoreUnavailable, and the connection is opened anew next time.
        Writes of one process take turns on `_writing`: a thread waiting
        there is woken at once, while one that meets SQLite's own write
        lock sleeps in its busy handler (milliseconds at a time)."""
        db = getattr(self._local, 'db', None)

        try:
            if db is None:
                db = self._local.db = self._connect()
            if not write:
                return work(db)
            with self._writing:
                return work(db)
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                self._local.db = None
                db.close()
            raise StoreUnavailable('session store %s: %s' % (self.url, exc)) from exc

    def try_lock(self, sid: str, token: str, ttl: float) -> bool:
        def lock(db: sqlite3.Connection) -> bool:
            now = time.time()
            # a new row, or the row of a lock that has expired
            cursor = db.execute(
                'INSERT INTO session_locks (id, token, expires) VALUES (?, ?, ?) '
                'ON CONFLICT (id) DO UPDATE SET token = excluded.token, '
                'expires = excluded.expires WHERE session_locks.expires < ?',
                (sid, token, now + ttl, now))
            return cursor.rowcount == 1

        return self._run(lock)

    def renew(self, locks: Iterable[Tuple[str, str]], ttl: float) -> None:
        rows = [(time.time() + ttl, sid, token) for sid, token in locks]

        def renew(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.executemany('UPDATE session_locks SET expires = ? '
                               'WHERE id = ? AND token = ?', rows)

        if rows:
            self._run(renew)

    def unlock(self, sid: str, token: str) -> None:
        self._run(lambda db: db.execute(
            'DELETE FROM session_locks WHERE id = ? AND token = ?', (sid, token)))

    def load(self, sid: str) -> Optional[str]:
        def load(db: sqlite3.Connection) -> Optional[str]:
            row = db.execute('SELECT data FROM sessions WHERE id = ? AND expires > ?',
                             (sid, time.time())).fetchone()
            return None if row is None else row[0]

        return self._run(load, write=False)

    def release(self, sid: str, token: str, data: str) -> bool:
        def release(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                owned = db.execute('DELETE FROM session_locks WHERE id = ? AND token = ?',
                                   (sid, token)).rowcount == 1
                if owned:
                    db.execute(
                        'INSERT INTO sessions (id, data, expires) VALUES (?, ?, ?) '
                        'ON CONFLICT (id) DO UPDATE SET data = excluded.data, '
                        'expires = excluded.expires',
                        (sid, data, time.time() + self.lifetime))
            return owned

        owned = self._run(release)

        if next(self._saves) % SWEEP_EVERY == 0:
            self._run(_sweep)

        return owned

    def delete(self, sid: str) -> None:
        self._run(lambda db: db.execute('DELETE FROM sessions WHERE id = ?', (sid,)))


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): a write transaction
    that takes the write lock at once, so it never fails half-way for it."""
    db.execute('BEGIN IMMEDIATE')
    try:
        yield
    except BaseException:
        db.execute('ROLLBACK')
        raise
    db.execute('COMMIT')


def _sweep(db: sqlite3.Connection) -> None:
    """Remove a bounded batch of expired sessions and dead locks."""
    now = time.time()

    for table in ('sessions', 'session_locks'):
        db.execute('DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s '
                   'WHERE expires < ? LIMIT %d)' % (table, table, SWEEP_BATCH), (now,))


def _owner_only(path: str) -> None:
    """Make the database file (and its -wal and -shm files, which SQLite
    creates with the file's permissions) readable by this user only: it
    holds every visitor's data. chmod, not open(): closing any descriptor
    of the file would drop the process's SQLite locks on it."""
    for name in (path, path + '-wal', path + '-shm'):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


def _private_folder(path: str) -> None:
    """Create `path` for this user only; refuse one another user could read
    or write (the temporary directory is shared by every user)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)

    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or
            info.st_mode & 0o077):
        raise PermissionError('%s must be a folder of this user, closed to '
                              'others (mode 0700)' % path)


# --- Redis -------------------------------------------------------------------

# Compare-and-act on the lock, atomically on the server.
_UNLOCK = '''
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
'''
_RENEW = '''
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
'''
_RELEASE = '''
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1
'''


class RedisStore:
    def __init__(self, url: str, lifetime: int) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = _without_password(url)  # it goes into the log
        self.lifetime = lifetime
        self._errors = (redis.RedisError, OSError)
        # one immediate retry: a pooled connection that a restarted server
        # closed fails once, the retry opens a new one
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 1))
        self._unlock = self._redis.register_script(_UNLOCK)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    def _run(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return work(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable('session store %s: %s' % (self.url, exc)) from exc

    def try_lock(self, sid: str, token: str, ttl: float) -> bool:
        return bool(self._run(self._redis.set, _lock_key(sid), token, nx=True,
                              px=int(ttl * 1000)))

    def renew(self, locks: Iterable[Tuple[str, str]], ttl: float) -> None:
        for sid, token in locks:
            self._run(self._renew, keys=[_lock_key(sid)], args=[token, int(ttl * 1000)])

    def unlock(self, sid: str, token: str) -> None:
        self._run(self._unlock, keys=[_lock_key(sid)], args=[token])

    def load(self, sid: str) -> Optional[str]:
        data = self._run(self._redis.get, _data_key(sid))
        return None if data is None else data.decode()

    def release(self, sid: str, token: str, data: str) -> bool:
        return bool(self._run(self._release, keys=[_lock_key(sid), _data_key(sid)],
                              args=[token, data, self.lifetime]))

    def delete(self, sid: str) -> None:
        self._run(self._redis.delete, _data_key(sid))


def _without_password(url: str) -> str:
    parts = urlsplit(url)

    if parts.password is None:
        return url

    host = parts.netloc.rpartition('@')[2]
    user = parts.username or ''
    return parts._replace(netloc='%s:***@%s' % (user, host)).geturl()


# the braces are a Redis Cluster hash tag: both keys of a session (which a
# script touches together) live on the same node
def _data_key(sid: str) -> str:
    return '%ssession:{%s}' % (REDIS_PREFIX, sid)


def _lock_key(sid: str) -> str:
    return '%slock:{%s}' % (REDIS_PREFIX, sid)
