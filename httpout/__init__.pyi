# Type stubs for httpout.
#
# At run time a script's `from httpout import request, ...` is answered by
# httpout's import hook with the current request's objects (see
# docs/builtins.md). These declarations describe that view, so that editors,
# mypy and pyright understand scripts; outside a script only `HTTPOut` and
# `__version__` exist.
import concurrent.futures
from types import ModuleType
from typing import Any, Coroutine, Dict, Optional, TypeVar

from .requests import Request
from .responses import Response
from .server import HTTPOut as HTTPOut
from .sessions import Session, Sessions

_T = TypeVar('_T')

__version__: str

request: Request
response: Response
websocket: Optional[Any]  # tremolo.lib.websocket.WebSocket during an upgrade
context: Any  # tremolo's connection context
app: Any  # the tremolo Application
modules: Dict[str, ModuleType]
__server__: Dict[str, str]
session: Session  # the visitor's session, opened on first use (docs/sessions.md)
sessions: Sessions  # the worker's sessions, for middleware: sessions.open(request, response)
__globals__: Any

def print(*values: object, sep: Optional[str] = ' ', end: Optional[str] = '\n',
          file: Any = None, flush: bool = False) -> None: ...
def run(coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]: ...
def wait(coro: Coroutine[Any, Any, _T], timeout: Optional[float] = None) -> _T: ...
