"""Script modules: the compiled-code cache, per-request namespaces, the import hook.

Rules owned here (SPEC section 3):
1. Every request runs in its own `Scope`: the script is a fresh module named
   `__main__`, and each local module (a `.py` file or package under the
   document root) is executed anew the first time the request imports it.
   All importers within that request share the copy.
2. Local modules never enter `sys.modules`, and no `__pycache__` is written:
   their code is compiled here, from source.
3. Compiled code is cached per file and reused while the file's stat
   signature (mtime, ctime, size, inode) is unchanged, so an edit takes
   effect on the very next request and unchanged files are not recompiled.
4. `import __main__` gives the scope's main module. `from httpout import x`
   gives the scope's virtual name `x` (request, response, ...); any other
   name is an ImportError, as is `httpout.anything`.
5. A local module named like a standard-library module, or like a module
   already in `sys.modules` from outside the document root, is an
   ImportError: which one a script meant would otherwise depend on import
   order.
6. Every other import (standard library, installed packages) is Python's own.

The hook is one `builtins.__import__` replacement for the whole process. It
recognises an importing module of ours by the `SCOPE_KEY` global that
`Scope.new_module()` puts into each module's namespace; for all other code
it costs one dict lookup.
"""
from __future__ import annotations

import builtins
import os
import sys
from importlib.util import resolve_name
from types import CodeType, ModuleType
from typing import Any, Dict, Optional, Sequence, Tuple

__all__ = ('SCOPE_KEY', 'CodeCache', 'Importer', 'Scope')

SCOPE_KEY = '__httpout_scope__'

# A page named like a standard module (json.py, email.py) must not change what
# `import json` means, whether or not json happens to be imported already.
_STDLIB_NAMES = frozenset(getattr(sys, 'stdlib_module_names', sys.builtin_module_names))


class CodeCache:
    """Compiled code of document-root files, checked against the file on each use."""

    def __init__(self) -> None:
        self._entries: Dict[str, Tuple[tuple, CodeType]] = {}

    def get(self, path: str, st: Optional[os.stat_result] = None) -> CodeType:
        """The code of `path`; `st` is its stat if the caller has just taken it."""
        if st is None:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                self._entries.pop(path, None)
                raise

        signature = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        entry = self._entries.get(path)

        if entry is not None and entry[0] == signature:
            return entry[1]

        with open(path, 'rb') as file:
            source = file.read()

        # compile() honours a PEP 263 coding line in bytes; dont_inherit keeps
        # httpout's own __future__ flags out of the script
        code = compile(source, path, 'exec', dont_inherit=True)
        self._entries[path] = (signature, code)
        return code


class Scope:
    """The modules of one script execution, and the names they all see.

    `names` are put into every module of the scope (print, run, wait, exit,
    __main__, __server__, __globals__); `virtual` are the names a module can
    get with `from httpout import ...`.
    """

    def __init__(self, names: Dict[str, Any], virtual: Dict[str, Any]) -> None:
        self.names = names
        self.virtual = virtual
        self.modules: Dict[str, ModuleType] = {}
        self.main: Optional[ModuleType] = None

    def new_module(self, name: str, path: str, package: bool = False) -> ModuleType:
        module = ModuleType(name)
        module.__file__ = path
        module.__package__ = name if package else name.rpartition('.')[0]

        if package:
            module.__path__ = [os.path.dirname(path)]

        namespace = module.__dict__
        namespace.update(self.names)
        namespace[SCOPE_KEY] = self
        self.modules[name] = module
        return module

    def new_main(self, path: str, name: str = '__main__') -> ModuleType:
        self.main = self.names['__main__'] = self.new_module(name, path)
        self.main.__main__ = self.main  # type: ignore[attr-defined]
        return self.main

    def clear(self) -> None:
        """Empty every module namespace, so that reference cycles through
        module globals (functions, classes) do not keep the request alive.

        The built-in functions stay: a thread the script left running that
        calls print() then gets the request's 'the response has ended'
        error, not the ordinary print() to the server's log."""
        builtins_kept = {name: value for name, value in self.names.items()
                         if callable(value)}

        for module in self.modules.values():
            module.__dict__.clear()
            module.__dict__.update(builtins_kept)

        self.modules.clear()
        self.names.clear()
        self.virtual.clear()
        self.main = None


class Importer:
    """The `builtins.__import__` replacement; see the module docstring."""

    def __init__(self, document_root: str, code_cache: CodeCache) -> None:
        self.document_root = document_root
        self.code_cache = code_cache
        self._python_import = builtins.__import__

    def install(self) -> None:
        builtins.__import__ = self  # type: ignore[assignment]

    def __call__(self, name: str, globals: Optional[dict] = None,
                 locals: Any = None, fromlist: Sequence[str] = (),
                 level: int = 0) -> ModuleType:
        if globals is None or SCOPE_KEY not in globals:
            return self._python_import(name, globals, locals, fromlist, level)

        scope: Scope = globals[SCOPE_KEY]

        if level > 0:
            name = resolve_name('.' * level + name, globals.get('__package__') or '')

        top = name.partition('.')[0]

        if name == '__main__':
            assert scope.main is not None  # every scope is made with new_main()
            return scope.main

        if top == 'httpout':
            return self._virtual_import(scope, name, globals, fromlist)

        if top not in scope.modules and self._locate(top) is None:
            return self._python_import(name, globals, locals, fromlist, 0)

        module = self._load(scope, name)

        if not fromlist:
            return scope.modules[top]

        self._load_submodules(scope, module, fromlist)
        return module

    def _virtual_import(self, scope: Scope, name: str, globals: dict,
                        fromlist: Sequence[str]) -> ModuleType:
        if name != 'httpout':
            raise ModuleNotFoundError("No module named '%s'" % name, name=name)

        for item in fromlist or ():  # None for a plain `import httpout`
            if item not in scope.virtual:
                raise ImportError("cannot import name '%s' from 'httpout'" % item,
                                  name='httpout')

            globals[item] = scope.virtual[item]

        # `import httpout` in a script gives the importing module itself
        return scope.modules[globals['__name__']]

    def _locate(self, name: str) -> Optional[Tuple[str, bool]]:
        """(path, is_package) of a local module, or None."""
        parts = name.split('.')

        if not all(part.isidentifier() for part in parts):
            return None

        base = os.path.join(self.document_root, *parts)
        package_init = os.path.join(base, '__init__.py')

        if os.path.isfile(package_init):
            return package_init, True

        if os.path.isfile(base + '.py'):
            return base + '.py', False

        return None

    def _load(self, scope: Scope, name: str) -> ModuleType:
        module = scope.modules.get(name)

        if module is not None:
            return module

        parent_name, _, child = name.rpartition('.')
        parent = self._load(scope, parent_name) if parent_name else None

        if parent is not None and not hasattr(parent, '__path__'):
            raise ModuleNotFoundError(
                "No module named '%s'; '%s' is not a package" % (name, parent_name),
                name=name)

        found = self._locate(name)

        if found is None:
            raise ModuleNotFoundError("No module named '%s'" % name, name=name)

        path, is_package = found

        if parent is None:
            self._check_clash(name, path)

        module = scope.new_module(name, path, is_package)

        try:
            exec(self.code_cache.get(path), module.__dict__)  # nosec B102: scripts are trusted
        except BaseException:
            del scope.modules[name]
            raise

        if parent is not None:
            setattr(parent, child, module)

        return module

    def _check_clash(self, name: str, path: str) -> None:
        imported = sys.modules.get(name)

        if imported is not None:
            origin = getattr(imported, '__file__', None) or 'the Python build'

            if not os.path.realpath(origin).startswith(self.document_root + os.sep):
                raise ImportError(
                    "local module '%s' (%s) clashes with the module '%s' already "
                    'imported from %s; rename the local file'
                    % (name, path, name, origin), name=name, path=path)

        if name in _STDLIB_NAMES:
            raise ImportError(
                "local module '%s' (%s) clashes with the standard library "
                "module '%s'; rename the local file" % (name, path, name),
                name=name, path=path)

    def _load_submodules(self, scope: Scope, module: ModuleType,
                         fromlist: Sequence[str]) -> None:
        """`from package import x`: x may be a submodule not imported yet."""
        if not hasattr(module, '__path__'):
            return

        for item in fromlist:
            if item == '*':
                self._load_submodules(scope, module, getattr(module, '__all__', ()))
            elif not hasattr(module, item):
                submodule = '%s.%s' % (module.__name__, item)

                if self._locate(submodule) is not None:
                    self._load(scope, submodule)
