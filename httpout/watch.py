"""--reload, for development: a changed `__globals__.py` restarts the workers.

Rules this module owns:

- The files watched are `__globals__.py` (whether it exists or not at
  start) and the document-root modules it imported while it ran. Scripts
  and the modules they import need no watching: they are fresh on every
  request (SPEC section 3).
- A change is a different modification time or size, looked at every
  CHECK_INTERVAL on the event loop.
- On a change, the worker asks the main process for a graceful reload
  (SIGHUP, exactly what an operator sends), once; the new workers run the
  new code. The main process lets one worker watch at a time, so that one
  change is one reload.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Dict, Iterable, Optional, Tuple

__all__ = ('GlobalsWatcher',)

CHECK_INTERVAL = 1.0

Signature = Optional[Tuple[int, int]]


def _signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:  # absent: a file that appears is a change too
        return None

    return st.st_mtime_ns, st.st_size


class GlobalsWatcher:
    def __init__(self, loop: asyncio.AbstractEventLoop, paths: Iterable[str],
                 logger: logging.Logger) -> None:
        self._loop = loop
        self._logger = logger
        self._files: Dict[str, Signature] = {path: _signature(path) for path in paths}
        self._timer: Optional[asyncio.TimerHandle] = loop.call_later(
            CHECK_INTERVAL, self._check)

    def _check(self) -> None:
        for path, signature in self._files.items():
            if _signature(path) != signature:
                self._logger.info('reload: %s changed', path)
                os.kill(os.getppid(), signal.SIGHUP)
                self._timer = None
                return

        self._timer = self._loop.call_later(CHECK_INTERVAL, self._check)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
