"""The server log: its handler, its two formats, and what stays out of INFO.

Rules this module owns:

- The log goes to standard error; the access log (accesslog.py) to
  standard output.
- `--log-format text` (the default) formats records with `--log-fmt`, a
  Python logging format; `--log-format json` writes one JSON object per
  record and line: `time`, `level`, `logger`, `message`, and when there is
  one the request (`remote_addr`, `request`) and the `traceback`.
- tremolo's console output (its banner, route table, options dump and a
  line per worker start, written with print()) is its internals, not the
  operator's: it goes to the log at DEBUG.
- tremolo's garbage-collector report ("collected 14 unreachable objects",
  every second under load) is logged at DEBUG, not INFO.
"""
from __future__ import annotations

import datetime
import json
import logging
import re
import sys
from typing import Any, List, Optional

__all__ = ('JSONFormatter', 'QuietGC', 'divert_tremolo_console', 'server_logger')

LOG_FORMATS = ('text', 'json')
# tremolo's own default; httpout keeps it, so that logs look the same
# whether httpout or tremolo made the handler
TEXT_FORMAT = '[%(asctime)s] %(module)s: %(levelname)s: %(message)s'
GC_MESSAGE = 'collected %d unreachable objects'  # tremolo.py, _serve_forever


def iso_time(seconds: float) -> str:
    """'2026-12-02T18:30:05.123+00:00': local time with its offset."""
    return datetime.datetime.fromtimestamp(seconds).astimezone().isoformat(
        timespec='milliseconds')


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            'time': iso_time(record.created),
            'level': record.levelname,
            'logger': record.name,
            'message': record.getMessage(),
        }
        # set with extra={'http': {...}} by the code that logs a request
        entry.update(getattr(record, 'http', None) or {})

        if record.exc_info:
            entry['traceback'] = self.formatException(record.exc_info)

        return json.dumps(entry, ensure_ascii=False)


class QuietGC(logging.Filter):
    """Lowers tremolo's garbage-collector report from INFO to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != GC_MESSAGE:
            return True

        record.levelno, record.levelname = logging.DEBUG, 'DEBUG'
        # a logger filter runs after the INFO check the record passed
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_gc(logger: logging.Logger) -> None:
    if not any(isinstance(f, QuietGC) for f in logger.filters):
        logger.addFilter(QuietGC())


def server_logger(level: str = 'INFO', log_format: str = 'text',
                  log_fmt: Optional[str] = None) -> logging.Logger:
    """The 'httpout' logger with its handler on standard error. tremolo
    uses it as it is (it adds a handler only to a logger without one)."""
    logger = logging.getLogger('httpout')
    logger.setLevel(level)
    logger.propagate = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == 'json'
                         else logging.Formatter(log_fmt or TEXT_FORMAT))
    logger.handlers[:] = [handler]
    quiet_gc(logger)
    return logger


class _Console:
    """A print() for tremolo's modules that logs whole lines at DEBUG."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._parts: List[str] = []

    def __call__(self, *args: Any, sep: str = ' ', end: str = '\n', **_: Any) -> None:
        # tremolo builds a line from several print(..., end=' ') calls
        self._parts.append(sep.join(map(str, args)) + end)

        if '\n' in end:
            # without the time tremolo starts some lines with: the log has its own
            line = re.sub(r'^\[[^]]*\] ', '', ''.join(self._parts).strip())
            self._parts.clear()

            if line:
                self._logger.debug('tremolo: %s', line)


def divert_tremolo_console(logger: logging.Logger) -> None:
    """Send tremolo's print() output to `logger` at DEBUG. Its modules look
    `print` up in their own globals before the built-ins, so a global of
    that name in them redirects their output and nobody else's."""
    import tremolo.tremolo
    import tremolo.utils

    console = _Console(logger)

    for module in (tremolo.tremolo, tremolo.utils):
        module.print = console  # type: ignore[attr-defined]
