"""Error pages: refusals, the safe 500 page, and the --debug traceback page.

Rules owned here:
- Without --debug a 500 page says only that an error happened: no exception
  text, no path, nothing of the script's internals.
- With --debug the page shows the exception, each traceback frame with the
  source lines around it, and the request; every piece of it is
  HTML-escaped, and cookie values are masked.
"""
from __future__ import annotations

import linecache
import traceback
from html import escape
from typing import Dict, List

__all__ = ('debug_fragment', 'debug_page', 'error_page', 'refusal_page')

_STYLE = (
    'body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;'
    'line-height:1.4}pre{background:#f6f6f6;padding:.6em;overflow:auto}'
    '.frame{margin:1em 0}.line{background:#ffe9a8}table{border-collapse:collapse}'
    'td{border-top:1px solid #ddd;padding:.2em .6em;vertical-align:top;'
    'font-family:monospace}'
)
_SENSITIVE_HEADERS = frozenset((b'cookie', b'authorization', b'proxy-authorization'))


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>%s</title><style>%s</style></head><body>%s</body></html>\n'
        % (escape(title), _STYLE, body)
    ).encode('utf-8')


def refusal_page(status: int, reason: str) -> bytes:
    """The short page of a 403/404: `reason` names the rule, never a path."""
    return _page('%d %s' % (status, reason),
                 '<h1>%d</h1><p>%s</p>' % (status, escape(reason)))


def error_page() -> bytes:
    return _page('500 Internal Server Error',
                 '<h1>500 Internal Server Error</h1><p>The script failed. '
                 'The details are in the server log.</p>')


def _source_html(filename: str, lineno: int, context_lines: int = 3) -> str:
    """The lines around `lineno` of a file, the line itself highlighted."""
    source = []
    linecache.checkcache(filename)  # scripts change while the server runs

    for number in range(max(1, lineno - context_lines), lineno + context_lines + 1):
        text = linecache.getline(filename, number)

        if not text and number > lineno:
            break

        css = ' class="line"' if number == lineno else ''
        source.append('<span%s>%5d  %s</span>' % (css, number, escape(text.rstrip('\n'))))

    return '<pre>%s</pre>' % '\n'.join(source)


def _frames_html(exc: BaseException) -> str:
    parts = [
        '<div class="frame"><b>%s</b>, line %d, in <b>%s</b>%s</div>'
        % (escape(frame.filename), frame.lineno or 0, escape(frame.name),
           _source_html(frame.filename, frame.lineno or 0))
        for frame in traceback.extract_tb(exc.__traceback__)
    ]

    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        # the error is in the file being compiled, not in any frame
        parts.append('<div class="frame"><b>%s</b>, line %d%s</div>'
                     % (escape(exc.filename), exc.lineno,
                        _source_html(exc.filename, exc.lineno)))

    return ''.join(parts)


def _exception_text(exc: BaseException) -> str:
    return ''.join(traceback.format_exception_only(type(exc), exc)).strip()


def debug_page(exc: BaseException, method: bytes, uri: bytes,
               headers: Dict[bytes, List[bytes]]) -> bytes:
    """The --debug page of an exception raised before any output."""
    rows = ''.join(
        '<tr><td>%s</td><td>%s</td></tr>' % (
            escape(name.decode('latin-1')),
            '(masked)' if name in _SENSITIVE_HEADERS else
            escape(b', '.join(values).decode('latin-1')))
        for name, values in headers.items()
    )
    body = (
        '<h1>%s</h1><h2>Traceback (most recent call last)</h2>%s'
        '<h2>Request</h2><p><code>%s %s</code></p><table>%s</table>'
        % (escape(_exception_text(exc)), _frames_html(exc),
           escape(method.decode('latin-1')), escape(uri.decode('latin-1')), rows)
    )
    return _page(_exception_text(exc), body)


def debug_fragment(exc: BaseException) -> bytes:
    """The traceback appended, with --debug, to output that had already started."""
    text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ('\n<pre class="httpout-error">%s</pre>\n' % escape(text)).encode('utf-8')
