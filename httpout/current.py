"""Which request the running code belongs to: one context variable.

Rules owned here:
1. A script's pool thread sets `CURRENT` to its job while the script runs
   (`ScriptRunner._execute`), and resets it afterwards. Everything else (the
   event loop's own code, tremolo, middleware, `__globals__.py` at start)
   sees None.
2. Coroutines a script starts with `run()`/`wait()` belong to its request
   without anything done here: asyncio copies the context of the thread that
   schedules a coroutine (`run_coroutine_threadsafe` -> `call_soon_threadsafe`).
3. A thread started while `CURRENT` is set (`threading.Thread`) runs in a
   copy of its starter's context, and is listed in the job's `threads` while
   it runs, so that its output goes to the same response and the slow log
   can show its stack.
4. A callable given to a `concurrent.futures.ThreadPoolExecutor` runs in
   the context of the code that submitted it, not of whichever request
   happened to start the executor's thread: an executor kept in
   `__globals__` serves many requests.

Python 3.11 has none of 3 and 4 built in (3.14 gained a flag for threads);
`install()` adds them, once per process, by wrapping `Thread.start` and
`ThreadPoolExecutor.submit`. Outside a request both cost one context
variable lookup.
"""
from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from concurrent.futures import thread as executor_threads
from typing import Any, Callable, Optional

__all__ = ('CURRENT', 'install', 'outside_any_request')

CURRENT: contextvars.ContextVar[Optional[Any]] = contextvars.ContextVar(
    'httpout_current_job', default=None)


def outside_any_request(func: Callable[..., Any], *args: Any) -> Any:
    """Call `func(*args)` in a context where no request is current: for the
    server's own threads, which must not belong to the request that happened
    to be running when they were started."""
    return contextvars.Context().run(func, *args)


def _in_job_thread(job: Any, context: contextvars.Context,
                   func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    ident = threading.get_ident()
    job.threads.add(ident)

    try:
        return context.run(func, *args, **kwargs)
    finally:
        job.threads.discard(ident)


def install() -> None:
    """Make threads and executors carry the request (rules 3 and 4)."""
    thread_start = threading.Thread.start
    executor_submit = concurrent.futures.ThreadPoolExecutor.submit

    if getattr(thread_start, '_httpout', False):
        return

    def start(self: threading.Thread) -> None:
        job = CURRENT.get()

        # an executor's worker thread takes its context from each call (rule 4)
        if job is not None and getattr(self, '_target', None) is not executor_threads._worker:
            run = self.run
            context = contextvars.copy_context()
            self.run = lambda: _in_job_thread(job, context, run)  # type: ignore[method-assign]

        thread_start(self)

    def submit(self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., Any],
               /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        job = CURRENT.get()

        if job is None:
            return executor_submit(self, fn, *args, **kwargs)

        return executor_submit(self, _in_job_thread, job, contextvars.copy_context(),
                               fn, *args, **kwargs)

    start._httpout = True  # type: ignore[attr-defined]
    threading.Thread.start = start  # type: ignore[method-assign]
    concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
