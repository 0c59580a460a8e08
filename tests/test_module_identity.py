"""Module names and identity (SPEC section 3, "Local imports").

- The standard library and installed packages win over document-root files
  of the same name: pages `json.py`, `email.py`, `calendar.py`, `test.py`
  are browsable and run, and `import json` (...) works everywhere, in those
  pages too. The start names such files once, whatever the worker count.
- Classes of pages and local modules work with pickle, copy, dataclasses
  (also with `from __future__ import annotations`), typing, enum,
  functools.singledispatch and inspect, also from threads the script
  starts. Concurrent requests of one page keep separate modules and
  classes, and nothing of a request stays in `sys.modules`.
"""
from __future__ import annotations

import concurrent.futures
import json

import httpx
import pytest

from e2e_util import start_server

FILES = {
    '__globals__.py': '''
        from httpout import app

        pickled = {}  # pickles made by one request, read by another

        @app.on_response
        async def powered(response, **_):
            response.set_header(b'X-Powered-By', b'httpout')
    ''',
    'json.py': '''
        import json
        print(json.dumps({'page': 'json.py', 'module': json.__name__}))
    ''',
    'email.py': '''
        from email.message import EmailMessage
        message = EmailMessage()
        message['Subject'] = 'hi'
        print(message['Subject'])
    ''',
    'calendar.py': '''
        import calendar
        print(calendar.isleap(2024), calendar.month_abbr[2])
    ''',
    'test.py': '''
        import json, email.utils, calendar
        print('test page', json.dumps([1]), calendar.isleap(2023))
    ''',
    'uses_all.py': '''
        import json, email, calendar, sys
        print(json.__file__ != __file__, email.__name__, calendar.__name__,
              all(not getattr(sys.modules[name], '__file__', '').startswith(
                  __server__['DOCUMENT_ROOT']) for name in ('json', 'email', 'calendar')))
    ''',
    '_shapes.py': '''
        from __future__ import annotations

        import enum
        from dataclasses import dataclass, field
        from typing import ClassVar

        loads = 0
        loads += 1

        class Colour(enum.Enum):
            RED = 'red'
            BLUE = 'blue'

        @dataclass
        class Shape:
            name: str
            sides: int = 0
            colour: Colour = Colour.RED
            tags: list[str] = field(default_factory=list)
            registry: ClassVar[dict] = {}
    ''',
    'identity.py': '''
        from __future__ import annotations

        import copy, dataclasses, enum, functools, inspect, json, pickle, threading, typing
        from dataclasses import dataclass
        from typing import ClassVar

        import _shapes

        class Size(enum.IntEnum):
            S = 1
            L = 3

        @dataclass
        class Point:
            x: int
            y: int = 0
            origin: ClassVar[str] = 'page'

        class Plain:
            def __init__(self, value):
                self.value = value

        @functools.singledispatch
        def describe(obj) -> str:
            return 'something'

        @describe.register
        def _(obj: Point) -> str:
            return 'a point'

        @describe.register
        def _(obj: _shapes.Shape) -> str:
            return 'a shape'

        def roundtrip(obj):
            return pickle.loads(pickle.dumps(obj))

        shape = _shapes.Shape('square', 4, _shapes.Colour.BLUE, ['x'])
        from_thread = []
        thread = threading.Thread(target=lambda: from_thread.append(roundtrip(Point(5)) == Point(5)))
        thread.start()
        thread.join()

        print(json.dumps({
            'point': roundtrip(Point(1, 2)) == Point(1, 2),
            'plain': roundtrip(Plain(7)).value,
            'plain_class': type(roundtrip(Plain(7))) is Plain,
            'shape': roundtrip(shape) == shape,
            'shape_class': type(roundtrip(shape)) is _shapes.Shape,
            'enum': roundtrip(Size.L) is Size.L and roundtrip(_shapes.Colour.BLUE) is _shapes.Colour.BLUE,
            'deepcopy': copy.deepcopy(shape) == shape and copy.deepcopy(shape) is not shape,
            'fields': [f.name for f in dataclasses.fields(Point)],
            'shape_fields': [f.name for f in dataclasses.fields(_shapes.Shape)],
            'hints': sorted(typing.get_type_hints(Point)),
            'shape_hints': str(typing.get_type_hints(_shapes.Shape)['colour']),
            'dispatch': [describe(Point(0)), describe(shape), describe(1)],
            'source': inspect.getsource(Point).splitlines()[:2],
            'shape_source': inspect.getsource(_shapes.Colour).splitlines()[0],
            'thread': from_thread,
            'loads': _shapes.loads,
        }))
    ''',
    'store.py': '''
        import pickle
        import _shapes
        __globals__.pickled['shape'] = pickle.dumps(_shapes.Shape('kept', 3))
        print('stored')
    ''',
    'load.py': '''
        import pickle
        # _shapes is not imported here: unpickling brings this request's copy
        shape = pickle.loads(__globals__.pickled['shape'])
        print(type(shape).__module__, shape.name, shape.sides)
    ''',
    'concurrent.py': '''
        import pickle, sys, time
        from dataclasses import dataclass

        @dataclass
        class Mine:
            tag: str

        tag = __server__['QUERY_STRING']
        time.sleep(0.1)  # the other requests of this page run meanwhile
        copy = pickle.loads(pickle.dumps(Mine(tag)))
        print(type(copy) is Mine, copy.tag == tag, sys.modules['__main__'].Mine is Mine,
              sys.modules['__main__'].tag == tag)
    ''',
    'leftovers.py': '''
        import sys, types
        root = __server__['DOCUMENT_ROOT']
        real = [name for name, module in list(sys.modules.items())
                if type(module) is types.ModuleType
                and (getattr(module, '__file__', None) or '').startswith(root)]
        switches = sorted(name for name, module in list(sys.modules.items())
                          if type(module).__name__ == 'ModuleSwitch')
        print(real, switches)
    ''',
    'import_module.py': '''
        import importlib, sys
        shapes = importlib.import_module('_shapes')  # as library code would
        print(shapes.Shape.__module__, shapes.loads, type(sys.modules['_shapes']).__name__)
    ''',
}


@pytest.fixture(scope='module', params=[[], ['--debug', '--worker-num', '2']],
                ids=['plain', 'debug-2-workers'])
def server(request, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('identity'), FILES, *request.param)
    yield srv
    srv.stop()


def test_pages_named_like_standard_modules_run_and_never_shadow_them(server):
    assert server.get('/json.py').json() == {'page': 'json.py', 'module': 'json'}
    assert server.get('/email.py').text == 'hi\n'
    assert server.get('/calendar.py').text == 'True Feb\n'
    assert server.get('/test.py').text == 'test page [1] False\n'
    assert server.get('/uses_all.py').text == 'True email calendar True\n'


def test_shadowing_files_are_named_once_at_start(server):
    lines = [line for line in server.log().splitlines() if 'named like installed' in line]

    assert len(lines) == 1, server.log()
    for name in ('calendar.py', 'email.py', 'json.py', 'test.py'):
        assert name in lines[0]
    assert '_shapes.py' not in lines[0] and 'identity.py' not in lines[0]


def test_classes_of_pages_and_local_modules_work_with_the_standard_library(server):
    response = server.get('/identity.py')

    assert response.status_code == 200, response.text
    assert response.json() == {
        'point': True, 'plain': 7, 'plain_class': True,
        'shape': True, 'shape_class': True, 'enum': True, 'deepcopy': True,
        'fields': ['x', 'y'],  # the ClassVar is no field, even as a string
        'shape_fields': ['name', 'sides', 'colour', 'tags'],
        'hints': ['origin', 'x', 'y'],
        'shape_hints': "<enum 'Colour'>",
        'dispatch': ['a point', 'a shape', 'something'],
        'source': ['@dataclass', 'class Point:'],
        'shape_source': 'class Colour(enum.Enum):',
        'thread': [True],
        'loads': 1,  # a fresh _shapes for this request
    }


def test_unpickling_in_a_request_that_never_imported_the_module(server):
    # with two workers the pickle is per worker: store and load on one connection
    with httpx.Client(base_url=server.url) as client:
        assert client.get('/store.py').text == 'stored\n'
        assert client.get('/load.py').text == '_shapes kept 3\n'


def test_concurrent_requests_keep_separate_modules_and_classes(server):
    def fetch(tag):
        return httpx.get(server.url + '/concurrent.py?' + tag, timeout=20).text

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(fetch, ['tag%d' % i for i in range(16)]))

    assert texts == ['True True True True\n'] * 16


def test_nothing_of_a_request_stays_in_sys_modules(server):
    server.get('/identity.py')
    text = server.get('/leftovers.py').text
    real, switches = text.split('] ')

    # no real module from the document root but the worker's __globals__
    assert real == "['__globals__'"
    assert '_shapes' in switches and '__main__' in switches


def test_import_module_from_library_code_gets_the_request_copy(server):
    assert server.get('/import_module.py').text == '_shapes 1 ModuleSwitch\n'
    assert json.loads(server.get('/identity.py').text)['loads'] == 1
