"""From URL to file: decide what a request path names under the document root.

`resolve()` is pure apart from one `os.lstat` per path segment (and
`os.path.realpath` when a symbolic link is on the way) for each candidate
file; it never reads a file and never raises for any input. A `Script` or
`StaticFile` carries the stat the router took, so the file is not stat'ed
again. It answers with a `Route`: a `Script` to run, a `StaticFile` to send, a
`Redirect` to the slashed folder URL, or a `Refusal` naming the rule that
refused the request (for the log). `Routes` is the server's per-worker
memory of `resolve()` answers for file routes, used while their stat says
the file has not changed (its docstring says why that keeps every rule).

The rules (SPEC section 2), each enforced in exactly one function:

1. Safe characters only (`_is_safe`): the path starts with '/', contains only
   `A-Z a-z 0-9 _ - . /`, is at most 255 characters long and never contains
   '..'. Anything else is 403 'unsafe-characters'. There is no
   percent-decoding, so encoded paths are refused too.
2. No escape from the root (`_locate_through_links`): the file, with symbolic links
   resolved, must lie inside the document root, else 403 'outside-root'.
3. Dotfiles are hidden (`_check_names`): a segment starting with '.' is 403
   'dotfile', except a leading '/.well-known/'.
4. Private names (`_check_names`): a segment starting with '_' is 404
   'private-name'; such modules stay importable by scripts.
5. PATH_INFO (`resolve`): the first segment ending in '.py' is the script,
   the rest is PATH_INFO, with repeated slashes collapsed everywhere and no
   trailing slash. The split happens whether or not the script exists.
6. Directories (`_directory_index`, `_folder`): a URL ending in '/' (or '/'
   itself) serves the first existing entry of the directory index; a last
   segment without extension is a folder and is redirected to its slashed
   URL.
7. Scripts (`_script`): a '.py' segment (case-sensitive) is always run,
   never sent as source.
8. Static files (`_allowed_type`): other files are sent only if their
   extension is in `ALLOWED_EXTENSIONS`; any other is 403
   'disallowed-extension', decided before the filesystem is touched.
9. Not found (`_locate`): anything that is not an existing regular file
   (or directory, for a redirect) is 404 'not-found'.

Checks run in the order 1, 3, 4, split (5), folder or extension (6-8), then
per candidate file: realpath, 2, 3+4 again on the real name, existence (9).
Rules 3, 4 and 8 judge the real name as well as the URL so that a symlink
inside the root cannot publish a hidden, private or source file under a
public name. Containment is checked before `os.stat`, so a refusal never
stats a file outside the root and 403/404 cannot be used to probe it.
"""
from __future__ import annotations

import mimetypes
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    'ALLOWED_EXTENSIONS', 'Redirect', 'Refusal', 'Route', 'Routes', 'Script',
    'StaticFile', 'media_type', 'resolve',
]


@dataclass(frozen=True)
class Script:
    """Run this .py file."""
    path: str         # absolute real path of the .py file
    script_name: str  # URL path of the script, e.g. '/a/b.py'
    path_info: str    # '' or e.g. '/x/y'
    # the file as the router saw it, so that the code cache need not stat it again
    stat: Optional[os.stat_result] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StaticFile:
    """Send this file as it is."""
    path: str        # absolute real path
    media_type: str  # e.g. 'text/css; charset=utf-8'
    # the file as the router saw it (size and mtime for the ETag)
    stat: Optional[os.stat_result] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Redirect:
    """Redirect to the folder URL with a trailing slash (the caller appends
    the query string)."""
    location: str


@dataclass(frozen=True)
class Refusal:
    """Do not serve; `rule` names the rule that refused, for the log."""
    status: int
    reason: str
    rule: str


Route = Union[Script, StaticFile, Redirect, Refusal]

MAX_PATH_LENGTH = 255

# Rule 8: the web types that may be sent. Lower-case and matched
# case-sensitively, so 'x.PY' or 'x.HTML' are simply not in it.
ALLOWED_EXTENSIONS = frozenset('''
    html htm css js mjs json map txt csv md xml
    svg png apng jpg jpeg gif webp avif ico bmp
    woff woff2 ttf otf eot
    mp3 ogg oga opus wav weba m4a aac flac
    mp4 m4v webm ogv mov
    pdf wasm webmanifest
'''.split())

# Web types the standard library lacks in some supported Python version (or,
# for JavaScript, names by the obsolete 'application/javascript' before
# Python 3.12; RFC 9239).
_MISSING_TYPES = {
    'js': 'text/javascript',
    'mjs': 'text/javascript',
    'map': 'application/json',
    'md': 'text/markdown',
    'apng': 'image/apng',
    'webp': 'image/webp',
    'avif': 'image/avif',
    'woff': 'font/woff',
    'woff2': 'font/woff2',
    'ttf': 'font/ttf',
    'otf': 'font/otf',
    'eot': 'application/vnd.ms-fontobject',
    'ogg': 'audio/ogg',
    'oga': 'audio/ogg',
    'opus': 'audio/opus',
    'aac': 'audio/aac',
    'weba': 'audio/webm',
    'm4a': 'audio/mp4',
    'flac': 'audio/flac',
    'm4v': 'video/mp4',
    'ogv': 'video/ogg',
}

# Textual types that browsers would otherwise decode with a guessed charset.
_TEXT_TYPES = frozenset((
    'application/javascript', 'application/json', 'application/xml',
    'application/manifest+json', 'image/svg+xml',
))


def _build_media_types() -> Mapping[str, str]:
    # A private instance: the global `mimetypes` state belongs to the
    # application, and system mime.types files must not change what we send.
    db = mimetypes.MimeTypes()
    for ext, type_ in _MISSING_TYPES.items():
        db.add_type(type_, '.' + ext)
    types = {}
    for ext in ALLOWED_EXTENSIONS:
        guessed = db.guess_type('file.' + ext)[0]
        if guessed is None:
            raise LookupError(f'no media type for allowed extension .{ext}')
        if guessed.startswith('text/') or guessed in _TEXT_TYPES:
            guessed += '; charset=utf-8'
        types[ext] = guessed
    return types


_MEDIA_TYPES = _build_media_types()

_SAFE_PATH = re.compile(r'/[A-Za-z0-9_./-]*')

_UNSAFE = Refusal(403, 'Unsafe URL detected', 'unsafe-characters')
_OUTSIDE_ROOT = Refusal(403, 'Outside the document root', 'outside-root')
_DOTFILE = Refusal(403, 'Hidden file', 'dotfile')
_PRIVATE = Refusal(404, 'Not found', 'private-name')
_NOT_FOUND = Refusal(404, 'Not found', 'not-found')


def media_type(filename: str) -> Optional[str]:
    """Media type for a static file name from the allow-list, or None if its
    extension is not allowed."""
    return _MEDIA_TYPES.get(os.path.splitext(filename)[1][1:])


def resolve(document_root: str, url_path: str,
            directory_index: Sequence[str] = ('index.py', 'index.html')
            ) -> Route:
    """Route the raw URL path `url_path` (no query string) under
    `document_root`, an absolute, already-realpath'd directory."""
    if not _is_safe(url_path):
        return _UNSAFE
    # Splitting on '/' and dropping empty segments collapses repeated and
    # trailing slashes for the script name, PATH_INFO and redirects alike.
    segments = [segment for segment in url_path.split('/') if segment]
    refusal = _check_names(segments)
    if refusal is not None:
        return refusal
    for i, segment in enumerate(segments):
        if segment.endswith('.py'):
            return _script(document_root, segments[:i + 1], segments[i + 1:])
    if not segments or url_path.endswith('/'):
        return _directory_index(document_root, segments, directory_index)
    if not os.path.splitext(segments[-1])[1]:
        # A folder ('.well-known' included: splitext ignores a leading dot).
        # An existing regular file without extension ('/LICENSE') is treated
        # as a folder too, so it is 404: only allow-listed extensions are
        # ever sent.
        return _folder(document_root, segments)
    return _static(document_root, segments)


class Routes:
    """`resolve()` with a memory, for one worker: a file route is decided
    once per URL, and later requests of that URL only take the stat the
    request needs anyway (the code cache, the ETag).

    A remembered route is used only while `os.lstat()` of its file gives
    the same file, unchanged (device, inode, type, size, times). What can
    change the answer is in that check or is not remembered:
    - Every rule judged on the URL alone (1, 3, 4, 5, 8) gives the same
      answer for the same URL.
    - Rules 2 and 9 depend on the filesystem. Only routes found without a
      symbolic link on the way are remembered, so the file's path is the
      joined URL; lstat() of it follows a directory turned into a link
      since, which then shows another file (or none) and the URL is routed
      again. A file that became a link has another type; one that was
      replaced, removed or edited has another inode, size or times.
    - Directory index routes are not remembered: adding `index.py` beside
      `index.html` must take effect at once. Nor are refusals and
      redirects: a file created later must be found.
    """

    def __init__(self, document_root: str,
                 directory_index: Sequence[str] = ('index.py', 'index.html'),
                 size: int = 1024) -> None:
        self.document_root = document_root
        self.directory_index = directory_index
        self._size = size  # URLs are the client's choice: bounded
        self._routes: Dict[str, Union[Script, StaticFile]] = {}

    def resolve(self, url_path: str) -> Route:
        route = self._routes.get(url_path)

        if route is not None:
            try:
                st = os.lstat(route.path)
            except OSError:
                st = None

            if st is not None and _same_file(st, route.stat):
                return route

            del self._routes[url_path]

        route = resolve(self.document_root, url_path, self.directory_index)

        if isinstance(route, (Script, StaticFile)) and self._remembers(url_path, route):
            if len(self._routes) >= self._size:
                self._routes.clear()

            self._routes[url_path] = route

        return route

    def _remembers(self, url_path: str, route: Union[Script, StaticFile]) -> bool:
        if url_path.endswith('/'):  # a directory index
            return False

        name = route.script_name if isinstance(route, Script) else url_path
        segments = [segment for segment in name.split('/') if segment]
        # the file's path is the joined URL: no symbolic link was on the way
        return route.path == os.path.join(self.document_root, *segments)


def _same_file(now: os.stat_result, then: Optional[os.stat_result]) -> bool:
    return then is not None and (
        now.st_ino == then.st_ino and now.st_dev == then.st_dev and
        now.st_mode == then.st_mode and now.st_size == then.st_size and
        now.st_mtime_ns == then.st_mtime_ns and now.st_ctime_ns == then.st_ctime_ns)


def _is_safe(url_path: str) -> bool:
    """Rule 1: is the raw path made of safe characters only?"""
    return (len(url_path) <= MAX_PATH_LENGTH and '..' not in url_path
            and _SAFE_PATH.fullmatch(url_path) is not None)


def _check_names(segments: Sequence[str]) -> Optional[Refusal]:
    """Rules 3 and 4: does a segment name a hidden or private file?"""
    # Only the leading '.well-known' itself is exempt (RFC 8615); dotfiles
    # inside it stay hidden.
    visible = segments[1:] if segments[:1] == ['.well-known'] else segments
    if any(segment.startswith('.') for segment in visible):
        return _DOTFILE
    if any(segment.startswith('_') for segment in segments):
        return _PRIVATE
    return None


def _script(root: str, segments: List[str], info: List[str]) -> Route:
    """Rules 5 and 7: the script named by `segments`, with PATH_INFO."""
    found = _locate(root, segments, stat.S_ISREG)
    if isinstance(found, Refusal):
        return found
    path, st = found
    return Script(path, '/' + '/'.join(segments),
                  '/' + '/'.join(info) if info else '', st)


def _static(root: str, segments: List[str]) -> Route:
    """Rule 8: the static file named by `segments`, if its type is allowed."""
    # The URL's extension is judged before touching the filesystem, so a
    # disallowed file is refused the same whether it exists or not.
    type_ = _allowed_type(segments[-1])
    if isinstance(type_, Refusal):
        return type_
    found = _locate(root, segments, stat.S_ISREG)
    if isinstance(found, Refusal):
        return found
    path, st = found
    # The real name decides the type: a symlink 'x.txt' -> 'app.py' must not
    # send source code.
    type_ = _allowed_type(path)
    if isinstance(type_, Refusal):
        return type_
    return StaticFile(path, type_, st)


def _allowed_type(filename: str) -> Union[str, Refusal]:
    """Rule 8: the media type of `filename`, if its extension is allowed."""
    type_ = media_type(filename)
    if type_ is not None:
        return type_
    extension = os.path.splitext(filename)[1]
    return Refusal(403, f'Disallowed file extension: {extension}',
                   'disallowed-extension')


def _directory_index(root: str, segments: List[str],
                     directory_index: Sequence[str]) -> Route:
    """Rule 6: the first existing directory index entry of a folder."""
    for name in directory_index:
        candidate = segments + [name]
        # An index entry is judged like any other URL, so a misconfigured
        # private entry ('_x.py') is refused, not served or skipped.
        refusal = _check_names(candidate)
        if refusal is not None:
            return refusal
        if name.endswith('.py'):
            route = _script(root, candidate, [])
        else:
            route = _static(root, candidate)
        if route != _NOT_FOUND:
            return route
    return _NOT_FOUND


def _folder(root: str, segments: List[str]) -> Route:
    """Rule 6: redirect an existing folder to its slashed URL."""
    found = _locate(root, segments, stat.S_ISDIR)
    if isinstance(found, Refusal):
        return found
    # Built from the collapsed segments: '//host' would otherwise be a
    # protocol-relative redirect to another site.
    return Redirect('/' + '/'.join(segments) + '/')


def _locate(root: str, segments: List[str], is_kind: Callable[[int], bool]
            ) -> Union[Tuple[str, os.stat_result], Refusal]:
    """Rules 2 and 9: the real path of `segments` under `root` and its stat,
    if it is inside the root and an existing file of the wanted kind."""
    # Fast path, one lstat per segment: the root is already real and the
    # segments hold no '.', '..' or empty names (rules 1 and 3), so while no
    # segment is a symbolic link the joined path is the real path. This runs
    # on every request; os.path.realpath would lstat the root's own
    # ancestors as well.
    path = root
    st = None
    for segment in segments:
        path = os.path.join(path, segment)
        try:
            st = os.lstat(path)
        except OSError:
            return _NOT_FOUND
        if stat.S_ISLNK(st.st_mode):
            return _locate_through_links(root, segments, is_kind)
    if st is None or not is_kind(st.st_mode):
        return _NOT_FOUND
    return path, st


def _locate_through_links(root: str, segments: List[str], is_kind: Callable[[int], bool]
                          ) -> Union[Tuple[str, os.stat_result], Refusal]:
    """`_locate` for a path with a symbolic link in it."""
    real = os.path.realpath(os.path.join(root, *segments))
    # Don't let symlinks break out of the document root.
    if os.path.commonpath((root, real)) != root:
        return _OUTSIDE_ROOT
    below = real[len(root):].lstrip(os.sep)
    refusal = _check_names(below.split(os.sep) if below else [])
    if refusal is not None:
        return refusal
    try:
        st = os.stat(real)
    except OSError:
        return _NOT_FOUND
    if not is_kind(st.st_mode):
        return _NOT_FOUND
    return real, st
