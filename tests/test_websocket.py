"""End-to-end tests of the `websocket` object (SPEC section 5) with the real
`websockets` client library, and of `--no-ws`.
"""
from __future__ import annotations

import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from e2e_util import raw_get, start_server, wait_for

FILES = {
    'echo.py': '''
        from httpout import websocket

        async def echo():
            async for message in websocket:
                await websocket.send(message)

        if websocket is None:
            print('websocket is None')
        else:
            wait(echo())
    ''',
    'greet.py': '''
        from httpout import websocket, request

        async def main():
            async for message in websocket:
                await websocket.send('hello %s from run()' % message)

        if websocket is None:
            print('websocket is None')
        else:
            run(main())
    ''',
    'send_first.py': '''
        from httpout import websocket, request

        async def main():
            await websocket.send('welcome ' + request.query['name'][0])
            async for message in websocket:
                await websocket.send('got ' + message)

        if websocket is None:
            print('websocket is None')
        else:
            wait(main())
    ''',
    'accept_first.py': '''
        from httpout import websocket

        async def main():
            await websocket.accept()
            await websocket.send('welcome')
            async for message in websocket:
                await websocket.send('got ' + message)

        wait(main())
    ''',
    'session_end.py': '''
        import os
        from httpout import websocket, request
        marker = os.path.join(__server__['DOCUMENT_ROOT'], '..',
                              'ws-end-' + request.query['id'][0])

        async def echo():
            async for message in websocket:
                await websocket.send(message)

        try:
            wait(echo())
            result = 'ended'
        except BaseException as exc:
            result = 'exception ' + type(exc).__name__
            raise
        finally:
            with open(marker, 'w') as f:
                f.write(result)
    ''',
    'plain.py': '''
        from httpout import websocket
        print('websocket is', repr(websocket))
    ''',
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('ws'), FILES)
    yield srv
    srv.stop()


@pytest.fixture(scope='module')
def no_ws(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp('nows'), FILES, '--no-ws')
    yield srv
    srv.stop()


def ws_url(server, path: str) -> str:
    return 'ws://127.0.0.1:%d%s' % (server.port, path)


def test_echo_text_and_binary(server):
    with connect(ws_url(server, '/echo.py'), open_timeout=5, close_timeout=2) as ws:
        ws.send('hello')
        assert ws.recv(timeout=5) == 'hello'
        ws.send('ünïcødé ✓')
        assert ws.recv(timeout=5) == 'ünïcødé ✓'
        ws.send(b'\x00\x01\x02\xff')
        reply = ws.recv(timeout=5)
        assert reply == b'\x00\x01\x02\xff'
        assert isinstance(reply, bytes)
        big = bytes(range(256)) * 1000
        ws.send(big)
        assert ws.recv(timeout=5) == big
        for i in range(50):
            ws.send('m%d' % i)
        assert [ws.recv(timeout=5) for _ in range(50)] == ['m%d' % i for i in range(50)]


def test_two_sessions_at_once(server):
    with connect(ws_url(server, '/echo.py'), open_timeout=5) as a, \
            connect(ws_url(server, '/echo.py'), open_timeout=5) as b:
        a.send('to a')
        b.send('to b')
        assert b.recv(timeout=5) == 'to b'
        assert a.recv(timeout=5) == 'to a'


def test_session_from_run_coroutine(server):
    with connect(ws_url(server, '/greet.py'), open_timeout=5) as ws:
        ws.send('ada')
        assert ws.recv(timeout=5) == 'hello ada from run()'
        ws.send('bob')
        assert ws.recv(timeout=5) == 'hello bob from run()'


def test_explicit_accept_then_send(server):
    with connect(ws_url(server, '/accept_first.py'), open_timeout=5) as ws:
        assert ws.recv(timeout=5) == 'welcome'
        ws.send('x')
        assert ws.recv(timeout=5) == 'got x'


@pytest.mark.parametrize('how', ['close', 'abort'])
def test_script_ends_when_the_client_leaves(server, how):
    marker = server.root.parent / ('ws-end-' + how)
    try:
        with connect(ws_url(server, '/session_end.py?id=' + how), open_timeout=5,
                     close_timeout=2) as ws:
            ws.send('ping')
            assert ws.recv(timeout=5) == 'ping'
            if how == 'abort':  # the TCP connection drops without a close frame
                ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack('ii', 1, 0))
                ws.socket.close()
    except (OSError, ConnectionClosed):
        assert how == 'abort'
    assert wait_for(marker.exists, 3.0), 'the WebSocket script still runs 3 s after ' + how
    # and the server goes on answering
    assert server.get('/plain.py').text == 'websocket is None\n'


def test_server_may_send_first(server):
    """SPEC §5: the websocket is written with `await websocket.send(...)`;
    a script that greets before it reads must not leave the handshake
    unanswered."""
    with connect(ws_url(server, '/send_first.py?name=ada'), open_timeout=3) as ws:
        assert ws.recv(timeout=5) == 'welcome ada'
        ws.send('x')
        assert ws.recv(timeout=5) == 'got x'


def test_server_still_answers_http_after_sessions(server):
    with connect(ws_url(server, '/echo.py'), open_timeout=5) as ws:
        ws.send('x')
        assert ws.recv(timeout=5) == 'x'
    response = server.get('/plain.py')
    assert response.status_code == 200
    assert response.text == 'websocket is None\n'


def test_websocket_is_none_for_a_plain_get(server):
    response = server.get('/echo.py')
    assert response.status_code == 200
    assert response.text == 'websocket is None\n'
    assert server.get('/plain.py').text == 'websocket is None\n'


def test_no_ws_refuses_the_upgrade(no_ws):
    with pytest.raises(InvalidHandshake) as info:
        with connect(ws_url(no_ws, '/echo.py'), open_timeout=5) as ws:
            ws.send('hello')
            ws.recv(timeout=2)
    if isinstance(info.value, InvalidStatus):
        assert info.value.response.status_code != 101


def test_no_ws_script_sees_none(no_ws):
    response = raw_get(no_ws.port, '/echo.py', headers={
        'Upgrade': 'websocket', 'Connection': 'Upgrade',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13'})
    assert response.status != 101
    assert response.status == 200
    assert response.body == b'websocket is None\n'
    assert (response.header('upgrade') or '').lower() != 'websocket'
