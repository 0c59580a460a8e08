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
5. The standard library and installed packages always win over a
   document-root file of the same name: a page `json.py` is browsable and
   runs, and `import json` is the standard module everywhere, `json.py`
   included. `shadowing_files()` lists such files, for a warning at start.
6. Every other import (standard library, installed packages) is Python's own.
7. Module identity: `sys.modules` holds a `ModuleSwitch` under `__main__`
   and under the name of every local module a request has loaded. It holds
   nothing of any request: each attribute lookup is handed to the module of
   the request that is current (`current.CURRENT`), so `pickle`, `copy`,
   `dataclasses`, `typing.get_type_hints`, `enum` and `inspect`, which find
   a class's module through `sys.modules[cls.__module__]`, see that
   request's module. Outside any request, `__main__` is the process's own
   main module and a local name is an empty placeholder. `LocalFinder`, the
   first finder on `sys.meta_path`, gives the same switch to imports that
   bypass the hook (`importlib.import_module` in library code), so that a
   document-root file is never imported into `sys.modules` for real.

The hook is one `builtins.__import__` replacement for the whole process. It
recognises an importing module of ours by the `SCOPE_KEY` global that
`Scope.new_module()` puts into each module's namespace; for all other code
it costs one dict lookup.
"""
from __future__ import annotations

import builtins
import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from importlib.util import resolve_name
from types import CodeType, ModuleType
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .current import CURRENT

__all__ = ('SCOPE_KEY', 'CodeCache', 'Importer', 'ModuleSwitch', 'Scope')

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


class ModuleSwitch(ModuleType):
    """Stands in `sys.modules` for a module each request has its own copy
    of (rule 7). `resolve()` gives the current request's module, or the
    stand-in used outside any request."""

    def __init__(self, name: str, resolve: Any) -> None:
        super().__init__(name)
        object.__setattr__(self, '_httpout_resolve', resolve)

    def __getattribute__(self, attribute: str) -> Any:
        return getattr(object.__getattribute__(self, '_httpout_resolve')(attribute),
                       attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(object.__getattribute__(self, '_httpout_resolve')(attribute),
                attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(object.__getattribute__(self, '_httpout_resolve')(attribute), attribute)


def install_main_switch() -> None:
    """`sys.modules['__main__']`: a request's page, else the process's own."""
    own = sys.modules['__main__']

    if isinstance(own, ModuleSwitch):
        return

    def resolve(_attribute: str) -> ModuleType:
        job = CURRENT.get()
        main = None if job is None else job.scope.main
        return own if main is None else main

    sys.modules['__main__'] = ModuleSwitch('__main__', resolve)


# What the import system and module walkers (inspect.getmodule) ask of every
# module; answered from the stand-in, so that asking never runs a module.
_METADATA = frozenset(('__name__', '__file__', '__spec__', '__loader__',
                       '__package__', '__path__', '__cached__', '__class__'))


class Importer:
    """The `builtins.__import__` replacement; see the module docstring."""

    def __init__(self, document_root: str, code_cache: CodeCache) -> None:
        self.document_root = document_root
        self.code_cache = code_cache
        self._python_import = builtins.__import__
        self._external: Dict[str, bool] = {}  # top-level name -> importable elsewhere

    def install(self) -> None:
        builtins.__import__ = self  # type: ignore[assignment]
        sys.meta_path.insert(0, LocalFinder(self))  # type: ignore[arg-type]
        install_main_switch()

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

        if top not in scope.modules and not self.is_local(top):
            return self._python_import(name, globals, locals, fromlist, 0)

        module = self.load(scope, name)

        if not fromlist:
            return scope.modules[top]

        self._load_submodules(scope, module, fromlist)
        return module

    def is_local(self, top: str) -> bool:
        """Does `import top` mean a document-root module? (rule 5)"""
        imported = sys.modules.get(top)

        if imported is not None:
            return isinstance(imported, ModuleSwitch) and top != '__main__'

        return not self.is_external(top) and self._locate(top) is not None

    def is_external(self, top: str) -> bool:
        """Can `top` be imported from outside the document root? Asked once
        per name: what is installed does not change while the server runs."""
        found = self._external.get(top)

        if found is None:
            found = top in _STDLIB_NAMES or top in sys.builtin_module_names

            if not found:
                paths = [path for path in sys.path
                         if os.path.realpath(path or '.') != self.document_root]
                found = PathFinder.find_spec(top, paths) is not None or any(
                    finder.find_spec(top, None) is not None
                    for finder in sys.meta_path
                    if finder is not PathFinder and not isinstance(finder, LocalFinder)
                    and hasattr(finder, 'find_spec'))

            self._external[top] = found

        return found

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

    def load(self, scope: Scope, name: str) -> ModuleType:
        """The scope's copy of local module `name`, run now if it has none."""
        module = scope.modules.get(name)

        if module is not None:
            return module

        parent_name, _, child = name.rpartition('.')
        parent = self.load(scope, parent_name) if parent_name else None

        if parent is not None and not hasattr(parent, '__path__'):
            raise ModuleNotFoundError(
                "No module named '%s'; '%s' is not a package" % (name, parent_name),
                name=name)

        found = self._locate(name)

        if found is None:
            raise ModuleNotFoundError("No module named '%s'" % name, name=name)

        path, is_package = found
        module = scope.new_module(name, path, is_package)

        if name not in sys.modules:
            sys.modules[name] = self.switch(name, path, is_package)

        try:
            exec(self.code_cache.get(path), module.__dict__)  # nosec B102: scripts are trusted
        except BaseException:
            del scope.modules[name]
            raise

        if parent is not None:
            setattr(parent, child, module)

        return module

    def switch(self, name: str, path: str, is_package: bool) -> ModuleSwitch:
        """The `sys.modules` entry of local module `name` (rule 7)."""
        stand_in = ModuleType(name)
        stand_in.__file__ = path
        stand_in.__spec__ = ModuleSpec(name, None, origin=path, is_package=is_package)

        if is_package:
            stand_in.__path__ = [os.path.dirname(path)]

        def resolve(attribute: str) -> ModuleType:
            job = CURRENT.get()

            if job is None or job.scope.main is None:  # no request, or it has ended
                return stand_in

            module = job.scope.modules.get(name)

            if module is None and attribute not in _METADATA:
                module = self.load(job.scope, name)  # e.g. pickle.loads before any import

            return stand_in if module is None else module

        return ModuleSwitch(name, resolve)

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
                    self.load(scope, submodule)


class LocalFinder:
    """First on `sys.meta_path`: a local module imported by code the hook
    does not see (`importlib.import_module` in a library) becomes its
    `ModuleSwitch`, never a real module in `sys.modules` (rule 7)."""

    def __init__(self, importer: Importer) -> None:
        self._importer = importer

    def find_spec(self, name: str, path: Any = None, target: Any = None
                  ) -> Optional[ModuleSpec]:
        top = name.partition('.')[0]

        if top == '__main__' or not self._importer.is_local(top):
            return None

        found = self._importer._locate(name)

        if found is None:
            return None

        return ModuleSpec(name, self, origin=found[0], is_package=found[1])

    def create_module(self, spec: ModuleSpec) -> ModuleSwitch:
        return self._importer.switch(spec.name, spec.origin or '',
                                     spec.submodule_search_locations is not None)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: each request runs its own copy when it uses it."""


def shadowing_files(document_root: str, importer: Optional[Importer] = None) -> List[str]:
    """Document-root files that cannot be imported as local modules because
    an installed or standard module has their name (rule 5), e.g. `json.py`."""
    importer = importer or Importer(document_root, CodeCache())
    names = []

    for entry in sorted(os.scandir(document_root), key=lambda entry: entry.name):
        stem, ext = os.path.splitext(entry.name)

        if entry.is_file() and ext == '.py' and stem.isidentifier():
            name = stem
        elif entry.is_dir() and os.path.isfile(os.path.join(entry.path, '__init__.py')):
            name = entry.name
        else:
            continue

        if name != '__globals__' and importer.is_external(name):
            names.append(entry.name + ('/' if entry.is_dir() else ''))

    return names
