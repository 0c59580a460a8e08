"""The code snippets of the Markdown documentation, and their conventions.

The convention (docs/README.md, "About the examples"): a Python snippet is a
complete file whose first line is a comment naming it, as a path in the
document root (`# hello.py`, `# _lib/util.py`); all the snippets of one
Markdown file form one document root. A first line such as
`# serve.py: a program of its own, run with: python3 serve.py` marks a
program that is run with python3 rather than served. Configuration
snippets (toml, ini) and HTML pages name their file the same way, in the
comment syntax of their language.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted([REPO / 'README.md', *(REPO / 'docs').glob('*.md')])

_FENCE = re.compile(r'^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*$')
_NAME = {
    'python': re.compile(r'^# (?P<name>[\w./-]+\.pyi?)(?P<rest>:.*)?$'),
    'toml': re.compile(r'^# (?P<name>[\w./-]+\.toml)$'),
    'ini': re.compile(r'^# (?P<name>[\w./-]*(?:\.flake8|\.cfg|\.ini))$'),
    'html': re.compile(r'^<!-- (?P<name>[\w./-]+\.html) -->$'),
}


@dataclass
class Snippet:
    doc: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str

    @property
    def where(self) -> str:
        return '%s:%d' % (self.doc.relative_to(REPO), self.line)

    @property
    def first_line(self) -> str:
        return self.text.split('\n', 1)[0]

    def _match(self) -> Optional['re.Match[str]']:
        pattern = _NAME.get(self.lang)
        return pattern.match(self.first_line) if pattern else None

    @property
    def name(self) -> Optional[str]:
        """The file the snippet is, from its first line; None if unnamed."""
        match = self._match()
        return match.group('name') if match else None

    @property
    def is_program(self) -> bool:
        """`# x.py: a program of its own, run with: python3 x.py`"""
        match = self._match()
        rest = match.groupdict().get('rest') if match else None
        return bool(rest and 'program' in rest)


def snippets(doc: Path) -> List[Snippet]:
    found: List[Snippet] = []
    lines = doc.read_text(encoding='utf-8').split('\n')
    i = 0

    while i < len(lines):
        opening = _FENCE.match(lines[i])
        i += 1

        if not opening:
            continue

        indent = opening.group('indent')
        body: List[str] = []

        while i < len(lines) and lines[i].strip() != '```':
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line)
            i += 1

        if i >= len(lines):
            raise ValueError('%s:%d: code block never closed' % (doc, len(lines)))

        found.append(Snippet(doc, i - len(body), opening.group('lang') or '',
                             '\n'.join(body) + '\n'))
        i += 1  # the closing fence

    return found


def named_files(doc: Path, langs=('python', 'toml', 'ini', 'html')) -> Dict[str, Snippet]:
    """{name: snippet} of the named, non-program snippets of one document.
    A name used twice must have the same text both times."""
    files: Dict[str, Snippet] = {}

    for snippet in snippets(doc):
        if snippet.lang not in langs or snippet.name is None or snippet.is_program:
            continue

        earlier = files.get(snippet.name)

        if earlier is not None and earlier.text != snippet.text:
            raise ValueError('%s and %s are both %s, with different contents'
                             % (earlier.where, snippet.where, snippet.name))

        files[snippet.name] = snippet

    return files
