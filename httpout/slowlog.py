"""The slow log (--slow-log SECONDS), like PHP-FPM's request_slowlog_timeout.

Rules this module owns:

- A script still running after the limit gets its current stack logged
  once, at WARNING, with its request line: the stack of the script's
  thread and of every thread the script started that is still alive,
  each from its first frame in a document-root file down.
- One timer per worker looks at the running jobs every quarter of the
  limit (but at most every second and at least every 50 ms): the time a
  job is first seen running is taken as its start, so its stack is logged
  between the limit and a quarter of it later.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from typing import Any, Dict, List, Optional

__all__ = ('SlowLog',)


class SlowLog:
    def __init__(self, loop: asyncio.AbstractEventLoop, runner: Any,
                 limit: float, logger: logging.Logger) -> None:
        self._loop = loop
        self._runner = runner
        self._limit = limit
        self._logger = logger
        self._interval = min(1.0, max(0.05, limit / 4))
        self._seen: Dict[Any, Optional[float]] = {}  # job: first seen running; None: logged
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tick()

    def _tick(self) -> None:
        now = self._loop.time()
        jobs = self._runner.jobs

        for job in list(self._seen):
            if job not in jobs:
                del self._seen[job]

        for job in jobs:
            if job.thread_id is None:  # waiting for a thread, or done
                continue

            started = self._seen.setdefault(job, now)

            if started is not None and now - started >= self._limit:
                self._seen[job] = None
                self._log(job)

        self._timer = self._loop.call_later(self._interval, self._tick)

    def _log(self, job: Any) -> None:
        frames = sys._current_frames()
        stacks: List[str] = []
        thread_id = job.thread_id

        root = self._runner.document_root

        if thread_id in frames:
            stacks.append(_format(frames[thread_id], root))

        for started in sorted(job.threads):
            if started in frames:
                stacks.append('thread %d, started by the script:\n%s' % (
                    started, _format(frames[started], root)))

        self._logger.warning('%s: slow script, running for more than %gs:\n%s',
                             self._runner.request_line(job), self._limit,
                             '\n'.join(stacks))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _format(frame: Any, document_root: str) -> str:
    """The stack of `frame`, outermost first, from its first frame in a file
    of the document root: the frames of httpout and threading that call
    the script's code are left out."""
    stack = traceback.extract_stack(frame)
    inside = [entry.filename.startswith(document_root + os.sep) for entry in stack]

    if any(inside):
        stack = traceback.StackSummary.from_list(stack[inside.index(True):])

    return ''.join(stack.format()).rstrip()
