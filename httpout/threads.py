"""The worker's script threads: a pool with one shared queue.

tremolo's own executor hands concurrent jobs to one thread; scripts need a
real pool, so that N blocking scripts on N threads run at the same time and
jobs beyond the pool wait their turn in one queue.
"""
from __future__ import annotations

import asyncio
import collections
import ctypes
import queue
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

from .current import outside_any_request

__all__ = ('ScriptThreads', 'raise_in_thread')

# How long a job may wait for a busy thread before an idle one is woken.
WAIT_BEFORE_HELP = 0.001


def raise_in_thread(thread_id: int, exc_type: type) -> None:
    # CPython raises it at the thread's next bytecode; a thread blocked in a
    # system call (time.sleep, a socket read) only sees it once that returns.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type))


class ScriptThreads:
    """The worker's script threads: `size` threads sharing one queue, so a
    job runs on whichever thread is free and N blocking scripts on N
    threads run at the same time.

    Rules of waking (a wake-up costs futex calls and a fight for the GIL):
    - A submitted job wakes an idle thread only when no thread is active (is
      running a job, or has been woken): an active thread takes the next
      job itself when it is done, which is how short pages go.
    - A job that has waited WAIT_BEFORE_HELP for that (the active threads
      are blocked or busy) wakes one more idle thread; the check runs on
      the event loop every WAIT_BEFORE_HELP while jobs wait. N blocking
      scripts therefore start within N milliseconds on N threads.
    Waking a thread per job instead (what a plain shared queue does) cost a
    hello page 11 us of system time more than one thread doing every job
    (16 threads, 32 connections; `python bench/cost.py`).

    `concurrent.futures.ThreadPoolExecutor` with `loop.run_in_executor`
    runs jobs on a pool too, but its per-job Future (a Condition and a
    lock), chained into an asyncio one, costs the event loop about 13 us per
    job against 4 us here (32 concurrent trivial jobs, measured on the
    2-core CI machine); here a job reports straight to the loop.
    """

    def __init__(self, size: int, name: str = 'httpout-script') -> None:
        self._lock = threading.Lock()
        # (queued at, loop, future, func, arg), oldest first
        self._jobs: Deque[Tuple[Any, ...]] = collections.deque()
        self._threads = 0  # alive; a replaced one counts until its job returns
        self._active = 0   # of them, running a job or woken to take one
        self._wakeups: queue.SimpleQueue = queue.SimpleQueue()  # True: look; None: stop
        self._check: Optional[asyncio.TimerHandle] = None
        self._name = name
        self._started = 0
        self._retired: Set[int] = set()
        # finished jobs not yet reported to their loop, by loop
        self._outboxes: Dict[asyncio.AbstractEventLoop, List[Tuple[Any, ...]]] = {}

        for _ in range(size):
            self._start_thread()

    def _start_thread(self) -> None:
        self._started += 1

        with self._lock:
            self._threads += 1

        thread = threading.Thread(target=self._work, daemon=True,
                                  name='%s-%d' % (self._name, self._started))
        # a replacement is started from a script's callback: it must not
        # belong to that script's request (current.py, rule 3)
        outside_any_request(thread.start)

    @property
    def count(self) -> int:
        """Threads alive (a replaced one counts until its job returns)."""
        return self._threads

    @property
    def waiting(self) -> int:
        """Jobs waiting for a free thread."""
        return len(self._jobs)

    def replace(self, thread_id: int) -> None:
        """Give up on a thread stuck in a job: a new one takes its place,
        and the stuck one ends as soon as its job returns."""
        with self._lock:
            self._retired.add(thread_id)

        self._start_thread()

    def submit(self, loop: asyncio.AbstractEventLoop, func: Callable[[Any], Any],
               arg: Any) -> asyncio.Future:
        """Run `func(arg)` on a free thread; the future gets its return value.
        Call on the event loop's thread."""
        future = loop.create_future()

        with self._lock:
            self._jobs.append((time.monotonic(), loop, future, func, arg))
            wake = self._active == 0 and self._wake_locked()

        if not wake and self._check is None:
            self._check = loop.call_later(WAIT_BEFORE_HELP, self._help_waiting_jobs, loop)

        return future

    def _wake_locked(self) -> bool:
        """Wake an idle thread, if there is one (hold the lock)."""
        if self._active >= self._threads:
            return False

        self._active += 1
        self._wakeups.put(True)
        return True

    def _help_waiting_jobs(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            waiting = bool(self._jobs)

            if waiting and time.monotonic() - self._jobs[0][0] >= WAIT_BEFORE_HELP:
                self._wake_locked()

        self._check = (loop.call_later(WAIT_BEFORE_HELP, self._help_waiting_jobs, loop)
                       if waiting else None)

    def _work(self) -> None:
        me = threading.get_ident()

        while self._wakeups.get():  # None: shut down
            while True:
                with self._lock:
                    if not self._jobs:
                        self._active -= 1  # idle again
                        break

                    _, loop, future, func, arg = self._jobs.popleft()

                self._report(loop, future, *_run(func, arg))

                if me in self._retired:  # replaced: its place is taken
                    with self._lock:
                        self._retired.discard(me)
                        self._active -= 1
                        self._threads -= 1
                    return

    def shutdown(self) -> None:
        for _ in range(self._threads):
            self._wakeups.put(None)

    def _report(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future,
                result: Any, exc: Optional[BaseException]) -> None:
        """Hand a finished job to its loop. Only the first job of a batch
        wakes the loop (a write to its self-pipe, and a read on the loop's
        side); jobs that finish before the loop has run the batch join it."""
        with self._lock:
            outbox = self._outboxes.setdefault(loop, [])
            outbox.append((future, result, exc))
            first = len(outbox) == 1

        if first:
            try:
                loop.call_soon_threadsafe(self._resolve_batch, loop)
            except RuntimeError:  # the loop has closed: the worker is exiting
                pass

    def _resolve_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch = self._outboxes.pop(loop, [])

        for future, result, exc in batch:
            if future.done():  # cancelled
                continue

            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)


def _run(func: Callable[[Any], Any], arg: Any) -> Tuple[Any, Optional[BaseException]]:
    try:
        return func(arg), None
    except BaseException as exc:  # func should not raise; never lose a job
        return None, exc
