# A WebSocket echo server. ws.html is a page that talks to it.
from httpout import wait, websocket

if websocket is None:  # an ordinary HTTP request
    print('<!DOCTYPE html><title>Echo</title>')
    print('<link rel="stylesheet" href="/static/style.css">')
    print('<p>This is a WebSocket endpoint: open <a href="ws.html">ws.html</a>.</p>')
else:
    async def echo(socket):
        async for message in socket:  # the handshake happens here
            await socket.send(message)

    wait(echo(websocket))
